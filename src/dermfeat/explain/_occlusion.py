"""Occlusion sensitivity: which regions of a photograph drive the decision."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..io import read_image


@dataclass
class OcclusionMap:
    """The result of :func:`occlusion_sensitivity`.

    Attributes
    ----------
    heatmap : ndarray of shape (H, W), float
        Mean drop of the target class's probability when a patch covering each
        pixel is occluded, at the image's resolution.  Positive: the region
        supports the decision; negative: it argues against it.
    image : ndarray of shape (H, W, 3), uint8
        The image that was explained.
    target : object
        The class whose probability was measured.
    base_probability : float
        Its probability on the intact image.
    patch_size, stride : int
        In pixels of the working image.
    n_evaluations : int
        Occluded copies passed through the estimator.
    """

    heatmap: np.ndarray
    image: np.ndarray
    target: object
    base_probability: float
    patch_size: int
    stride: int
    n_evaluations: int

    @property
    def peak(self):
        """``(row, column)`` of the heat map's maximum."""
        return tuple(int(v) for v in np.unravel_index(np.argmax(self.heatmap), self.heatmap.shape))

    def overlay(self, alpha=0.45, colormap=cv2.COLORMAP_JET):
        """The image with the heat map blended over it (see :func:`overlay_heatmap`)."""
        return overlay_heatmap(self.image, self.heatmap, alpha=alpha, colormap=colormap)


def _fill(image, fill):
    if isinstance(fill, str):
        if fill == "blur":
            sigma = max(image.shape[:2]) / 16
            return cv2.GaussianBlur(image, (0, 0), sigma)
        if fill == "mean":
            return np.broadcast_to(image.reshape(-1, 3).mean(axis=0).astype(np.uint8), image.shape)
        raise ValueError(f"fill must be 'blur', 'mean' or an RGB colour, got {fill!r}")
    colour = np.asarray(fill, dtype=np.uint8).reshape(-1)
    if colour.size not in (1, 3):
        raise ValueError(f"a fill colour needs 1 or 3 values, got {fill!r}")
    return np.broadcast_to(np.resize(colour, 3), image.shape)


def _positions(length, patch, stride):
    starts = list(range(0, max(length - patch, 0) + 1, stride))
    if starts[-1] + patch < length:
        starts.append(length - patch)
    return starts


def occlusion_sensitivity(
    estimator,
    image,
    *,
    target=None,
    patch_size=0.2,
    stride=None,
    fill="mean",
    working_size=384,
    batch_size=32,
):
    """Explain one prediction of any fitted image pipeline by occluding patches.

    Grad-CAM needs gradients, which an ONNX backbone run by onnxruntime does not
    expose, and it cannot explain handcrafted features.  Occlusion works for any
    fitted estimator whose ``predict_proba`` takes images: a patch of neutral fill
    slides over the photograph, every occluded copy goes through the *whole*
    pipeline (decoding, feature extraction, head), and the drop of the target
    class's probability is credited to the covered pixels.

    Parameters
    ----------
    estimator : fitted classifier
        Typically a :class:`~sklearn.pipeline.Pipeline` whose first step takes
        images; must have ``predict_proba`` and ``classes_``.
    image : path, bytes or ndarray
        The photograph.
    target : class label, optional
        Class to explain; default: the predicted class.
    patch_size : float or int, default=0.2
        Patch side: a fraction of the working image's shorter side, or pixels.
    stride : int, optional
        Step between patches in pixels; default ``patch_size // 2`` (every pixel is
        covered by about four patches).
    fill : {"mean", "blur"} or RGB tuple, default="mean"
        What replaces the patch: the image's mean colour (removes colour, texture
        and shape), a heavily blurred copy of the image (keeps colour and
        brightness, removes texture and shape; use it to ask "which texture
        matters"), or a fixed colour.
    working_size : int or None, default=384
        The longer side is scaled to this before occluding (fewer, cheaper
        evaluations); the heat map is returned at the original resolution.
        ``None`` keeps the original size.
    batch_size : int, default=32
        Occluded copies per ``predict_proba`` call.

    Returns
    -------
    result : :class:`OcclusionMap`

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.explain import occlusion_sensitivity
    >>> from dermfeat.features import ColorFeatures
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(90, 110, size=(40, 64, 64, 3), dtype=np.uint8)
    >>> y = np.arange(40) % 2
    >>> images[y == 1, 40:60, 40:60, 0] = 250  # class 1: a red patch bottom-right
    >>> model = make_pipeline(ColorFeatures(), LogisticRegression(max_iter=1000)).fit(images, y)
    >>> result = occlusion_sensitivity(model, images[1], working_size=None)
    >>> row, col = result.peak
    >>> bool(35 <= row < 64 and 35 <= col < 64)
    True
    """
    original = read_image(image)
    classes = list(getattr(estimator, "classes_", []))
    if not hasattr(estimator, "predict_proba") or not classes:
        raise TypeError("occlusion_sensitivity needs a fitted classifier with predict_proba and classes_")
    h0, w0 = original.shape[:2]
    work = original
    if working_size is not None and max(h0, w0) > working_size:
        scale = working_size / max(h0, w0)
        work = cv2.resize(original, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA)
    h, w = work.shape[:2]
    base = estimator.predict_proba([work])[0]
    if target is None:
        target = classes[int(np.argmax(base))]
    if target not in classes:
        raise ValueError(f"target {target!r} is not one of the estimator's classes {classes}")
    t = classes.index(target)
    patch = int(round(patch_size * min(h, w))) if isinstance(patch_size, float) else int(patch_size)
    patch = max(1, min(patch, h, w))
    stride = max(1, patch // 2) if stride is None else int(stride)
    filler = _fill(work, fill)
    boxes = [(y, x) for y in _positions(h, patch, stride) for x in _positions(w, patch, stride)]
    drops = np.empty(len(boxes))
    for start in range(0, len(boxes), batch_size):
        batch = []
        for y, x in boxes[start : start + batch_size]:
            copy = work.copy()
            copy[y : y + patch, x : x + patch] = filler[y : y + patch, x : x + patch]
            batch.append(copy)
        drops[start : start + len(batch)] = base[t] - estimator.predict_proba(batch)[:, t]
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    for (y, x), drop in zip(boxes, drops):
        total[y : y + patch, x : x + patch] += drop
        count[y : y + patch, x : x + patch] += 1
    heat = total / np.maximum(count, 1)
    if (h, w) != (h0, w0):
        heat = cv2.resize(heat, (w0, h0), interpolation=cv2.INTER_LINEAR)
    return OcclusionMap(
        heatmap=heat,
        image=original,
        target=target,
        base_probability=float(base[t]),
        patch_size=patch,
        stride=stride,
        n_evaluations=len(boxes) + 1,
    )


def overlay_heatmap(image, heatmap, *, alpha=0.45, colormap=cv2.COLORMAP_JET):
    """Blend a heat map over an image.

    Only positive values (regions that support the decision) are coloured; the
    map is scaled so that its maximum is the hottest colour.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8
        RGB image.
    heatmap : ndarray of shape (H, W)
        Values; resized to the image if needed.
    alpha : float, default=0.45
        Opacity of the heat map where it is hottest.
    colormap : int, default=cv2.COLORMAP_JET
        An OpenCV colour map.

    Returns
    -------
    overlay : ndarray of shape (H, W, 3), uint8

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.explain import overlay_heatmap
    >>> heat = np.zeros((8, 8)); heat[2:4, 2:4] = 1.0
    >>> out = overlay_heatmap(np.full((8, 8, 3), 128, np.uint8), heat)
    >>> out.shape, bool((out[0, 0] == 128).all()), bool((out[2, 2] != 128).any())
    ((8, 8, 3), True, True)
    """
    image = read_image(image)
    heat = np.asarray(heatmap, dtype=float)
    if heat.shape != image.shape[:2]:
        heat = cv2.resize(heat, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    heat = np.clip(heat, 0, None)
    peak = heat.max()
    norm = heat / peak if peak > 0 else heat
    colours = cv2.cvtColor(cv2.applyColorMap((norm * 255).astype(np.uint8), colormap), cv2.COLOR_BGR2RGB)
    weight = (alpha * norm)[..., None]
    return np.clip(image * (1 - weight) + colours * weight, 0, 255).astype(np.uint8)
