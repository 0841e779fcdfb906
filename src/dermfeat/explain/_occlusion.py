"""Occlusion sensitivity: which regions of a photograph drive the decision."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from ..io import read_image
from ._prediction import predict_image


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
        Its probability on the intact photograph: the one ``predict``,
        ``dermfeat predict`` and the web demo report (the map's drops are
        measured from the working copy's own probability).
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

    def overlay(self, alpha=0.45, colormap=cv2.COLORMAP_JET, *, colorbar=False):
        """The image with the heat map blended over it (see :func:`overlay_heatmap`)."""
        return overlay_heatmap(self.image, self.heatmap, alpha=alpha, colormap=colormap, colorbar=colorbar)


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
    n_jobs=None,
):
    """Explain one prediction of any fitted image pipeline by occluding patches.

    Grad-CAM needs gradients, which an ONNX backbone run by onnxruntime does not
    expose, and it cannot explain handcrafted features.  Occlusion works for any
    fitted estimator whose ``predict_proba`` takes images: a patch of neutral fill
    slides over the photograph, the occluded copies go through the *whole*
    pipeline (feature extraction, head) in batches, and the drop of the target
    class's probability is credited to the covered pixels.  The photograph's own
    probability (``base_probability``) is computed as ``dermfeat predict`` and the
    web demo compute it (:func:`~dermfeat.explain.predict_image` on the decoded
    photograph), so the three always agree.

    Parameters
    ----------
    estimator : fitted classifier
        Typically a :class:`~sklearn.pipeline.Pipeline` whose first step takes
        images; must have ``predict_proba`` and ``classes_``.
    image : path, bytes or ndarray
        The photograph.
    target : class label, optional
        Class to explain; default: the predicted class (by the estimator's own
        decision rule, e.g. a tuned threshold).
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
        At most this many occluded copies per ``predict_proba`` call (the
        batches are of equal sizes): each batch goes through the feature steps
        and the model together.
    n_jobs : int, optional
        Batches evaluated at the same time, by threads (the model, NumPy and
        OpenCV release the GIL).  Worth it when the model computes each batch on
        one core, as in the web demo's workers; ``None`` evaluates them one
        after the other.

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
    prediction = predict_image(estimator, original)
    target = prediction.label if target is None else target
    if target not in classes:
        raise ValueError(f"target {target!r} is not one of the estimator's classes {classes}")
    t = classes.index(target)
    h0, w0 = original.shape[:2]
    work, n_evaluations = original, 1
    if working_size is not None and max(h0, w0) > working_size:
        scale = working_size / max(h0, w0)
        work = cv2.resize(original, (max(1, round(w0 * scale)), max(1, round(h0 * scale))), interpolation=cv2.INTER_AREA)
        reference = float(estimator.predict_proba([work])[0][t])  # the drops are measured from the working copy
        n_evaluations += 1
    else:
        reference = prediction.probability(target)
    h, w = work.shape[:2]
    patch = int(round(patch_size * min(h, w))) if isinstance(patch_size, float) else int(patch_size)
    patch = max(1, min(patch, h, w))
    stride = max(1, patch // 2) if stride is None else int(stride)
    filler = _fill(work, fill)
    boxes = [(y, x) for y in _positions(h, patch, stride) for x in _positions(w, patch, stride)]

    def drops(part):
        batch = []
        for y, x in part:
            copy = work.copy()
            copy[y : y + patch, x : x + patch] = filler[y : y + patch, x : x + patch]
            batch.append(copy)
        return reference - estimator.predict_proba(batch)[:, t]

    # batches of at most batch_size copies, of equal sizes, and at least one per worker
    workers = 1 if n_jobs is None else max(1, min(int(n_jobs), len(boxes)))
    n_parts = max(-(-len(boxes) // max(1, int(batch_size))), workers)
    cuts = np.linspace(0, len(boxes), n_parts + 1).round().astype(int)
    parts = [boxes[a:b] for a, b in zip(cuts[:-1], cuts[1:]) if b > a]
    if workers > 1:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dermfeat-occlusion") as pool:
            results = list(pool.map(drops, parts))
    else:
        results = [drops(part) for part in parts]
    total = np.zeros((h, w))
    count = np.zeros((h, w))
    for (y, x), drop in zip(boxes, np.concatenate(results)):
        total[y : y + patch, x : x + patch] += drop
        count[y : y + patch, x : x + patch] += 1
    heat = total / np.maximum(count, 1)
    if (h, w) != (h0, w0):
        heat = cv2.resize(heat, (w0, h0), interpolation=cv2.INTER_LINEAR)
    return OcclusionMap(
        heatmap=heat,
        image=original,
        target=target,
        base_probability=prediction.probability(target),
        patch_size=patch,
        stride=stride,
        n_evaluations=len(boxes) + n_evaluations,
    )


def colour_bar(width, peak, *, colormap=cv2.COLORMAP_JET, label="probability drop when covered"):
    """The colour scale of :func:`overlay_heatmap` as an RGB strip ``width`` pixels wide.

    A gradient from 0 (left) to ``peak`` (right, the hottest colour) with both
    values and ``label`` written under it, on white.

    Examples
    --------
    >>> from dermfeat.explain import colour_bar
    >>> bar = colour_bar(320, 0.12)
    >>> bar.shape[1], bar.dtype.name, bool((bar[0, 0] == 255).all())
    (320, 'uint8', True)
    """
    width = int(width)
    scale = max(0.35, min(1.0, width / 900))
    text_h = int(round(28 * scale))
    bar_h, margin = max(8, int(round(14 * scale))), max(4, width // 40)
    strip = np.full((bar_h + text_h + 8, width, 3), 255, np.uint8)
    inner = max(1, width - 2 * margin)
    ramp = np.linspace(0, 255, inner).astype(np.uint8)[None, :]
    colours = cv2.cvtColor(cv2.applyColorMap(np.repeat(ramp, bar_h, axis=0), colormap), cv2.COLOR_BGR2RGB)
    strip[4 : 4 + bar_h, margin : margin + inner] = colours
    font, ink, thick = cv2.FONT_HERSHEY_SIMPLEX, (20, 20, 20), 1
    y = 4 + bar_h + int(round(20 * scale))
    right = f"{float(peak):.3f}" if np.isfinite(peak) and peak > 0 else "0"
    cv2.putText(strip, "0", (margin, y), font, 0.55 * scale, ink, thick, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(right, font, 0.55 * scale, thick)
    cv2.putText(strip, right, (width - margin - tw, y), font, 0.55 * scale, ink, thick, cv2.LINE_AA)
    (lw, _), _ = cv2.getTextSize(label, font, 0.5 * scale, thick)
    if lw < inner - 2 * tw - 20:
        cv2.putText(strip, label, ((width - lw) // 2, y), font, 0.5 * scale, ink, thick, cv2.LINE_AA)
    return strip


def overlay_heatmap(image, heatmap, *, alpha=0.45, colormap=cv2.COLORMAP_JET, colorbar=False):
    """Blend a heat map over an image.

    Only positive values (regions that support the decision) are coloured; the
    map is scaled so that its maximum is the hottest colour.  With ``colorbar``
    the scale is drawn under the image (:func:`colour_bar`): what the colours
    mean, from 0 to the map's maximum.

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
    colorbar : bool, default=False
        Add the colour scale under the image (the result is then taller).

    Returns
    -------
    overlay : ndarray of shape (H, W, 3), uint8
        ``(H + bar height, W, 3)`` with ``colorbar``.

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
    out = np.clip(image * (1 - weight) + colours * weight, 0, 255).astype(np.uint8)
    if colorbar:
        out = np.vstack([out, colour_bar(out.shape[1], peak, colormap=colormap)])
    return out
