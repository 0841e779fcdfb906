"""Deterministic synthetic skin photographs with eczema-like lesions."""

from __future__ import annotations

import csv
from numbers import Integral, Real
from pathlib import Path

import cv2
import numpy as np
from sklearn.utils import Bunch, check_random_state

from ..utils._param_validation import Interval, validate_arguments

TARGET_NAMES = np.array(["atopic_dermatitis", "eczema"], dtype=object)
SIGN_NAMES = np.array(["erythema", "oedema", "excoriation", "lichenification"], dtype=object)


_CONSTRAINTS = {
    "n_samples": [Interval(Integral, 1, None)],
    "image_size": [Interval(Integral, 16, 2048)],
    "positive_fraction": [Interval(Real, 0, 1)],
    "n_patients": [None, Interval(Integral, 1, None)],
    "quality_variation": [Interval(Real, 0, 1)],
}


def _smooth_noise(rng, size, scale):
    """Low-frequency noise in [0, 1]: upsampled random grid, bicubic."""
    grid = max(2, size // scale)
    small = rng.rand(grid, grid).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC).clip(0, 1)


def _lab_to_rgb(lab):
    """CIELAB (L in 0..100) float image to RGB float in [0, 1]."""
    return cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_Lab2RGB).clip(0, 1)


def _patient_profile(rng, is_ad):
    """Skin tone and lesion layout shared by all photographs of one patient."""
    lightness = rng.uniform(32.0, 80.0)  # CIELAB L*: dark to very light skin
    b_star = rng.uniform(12.0, 24.0)
    a_star = rng.uniform(6.0, 13.0)
    if is_ad:
        # atopic dermatitis: ill-defined, flexural, lichenified patches
        layout = {"kind": "diffuse", "seed": int(rng.randint(1 << 30)), "angle": rng.uniform(0, np.pi)}
    else:
        # other eczema (discoid/nummular-like): well-demarcated round plaques
        n = int(rng.randint(1, 4))
        centres = rng.uniform(0.25, 0.75, size=(n, 2))
        radii = rng.uniform(0.08, 0.16, size=n)
        layout = {"kind": "discoid", "centres": centres, "radii": radii}
    return {"L": lightness, "a": a_star, "b": b_star, "layout": layout}


def _lesion_mask(rng, size, layout, extent):
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    if layout["kind"] == "discoid":
        mask = np.zeros((size, size), np.float32)
        for (cy, cx), r in zip(layout["centres"], layout["radii"]):
            cy, cx = cy + rng.normal(0, 0.02), cx + rng.normal(0, 0.02)
            rr = r * (0.8 + 0.25 * extent)
            dist = np.sqrt((yy - cy) ** 2 + (xx - cx) ** 2)
            mask = np.maximum(mask, np.clip((rr - dist) / (0.15 * rr) + 0.5, 0, 1))
        return mask
    local = np.random.RandomState(layout["seed"])
    field = _smooth_noise(local, size, 8) * 0.6 + _smooth_noise(rng, size, 12) * 0.4
    # a band across the image (a skin fold), modulated by noise: irregular and ill-defined
    c, s = np.cos(layout["angle"]), np.sin(layout["angle"])
    band = np.exp(-(((xx - 0.5) * s - (yy - 0.5) * c) ** 2) / (2 * (0.10 + 0.06 * extent) ** 2))
    mask = np.clip((field * band - 0.18 + 0.08 * extent) * 5.0, 0, 1)
    return cv2.GaussianBlur(mask, (0, 0), size / 40)


def _render(rng, size, profile, signs, quality_variation):
    erythema, oedema, excoriation, lichen = (int(v) for v in signs)
    # skin: CIELAB base with a little mottling and pores
    lab = np.empty((size, size, 3), np.float32)
    mottle = _smooth_noise(rng, size, 6) - 0.5
    lab[..., 0] = profile["L"] + 4.0 * mottle + rng.normal(0, 1.2, (size, size))
    lab[..., 1] = profile["a"] + 2.0 * mottle
    lab[..., 2] = profile["b"] + 1.5 * mottle
    extent = (erythema + oedema) / 6.0
    mask = _lesion_mask(rng, size, profile["layout"], extent)
    # erythema: redness (a*) up, lightness slightly down; weaker contrast on dark skin, as in life
    visibility = np.interp(profile["L"], [30, 80], [0.55, 1.0])
    lab[..., 1] += mask * (6.0 + 7.0 * erythema) * visibility
    lab[..., 0] -= mask * (2.0 + 2.5 * erythema) * visibility
    # oedema: swollen, smoother and brighter-rimmed lesion
    if oedema:
        rim = np.clip(cv2.Laplacian(mask, cv2.CV_32F, ksize=5), -1, 1)
        lab[..., 0] += -rim * 2.5 * oedema
    # lichenification: accentuated skin lines (oriented fine texture) inside the lesion
    if lichen:
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        theta = rng.uniform(0, np.pi)
        period = rng.uniform(3.0, 5.0) * size / 128
        lines = np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
        cross = np.sin(2 * np.pi * (xx * np.cos(theta + 1.2) + yy * np.sin(theta + 1.2)) / (period * 1.3))
        lab[..., 0] += mask * lichen * 2.2 * (lines + 0.6 * cross)
    # excoriation: thin dark-red scratch lines
    overlay = np.zeros((size, size), np.float32)
    for _ in range(excoriation * 2):
        p0 = rng.uniform(0.2, 0.8, 2) * size
        direction = rng.normal(0, 1, 2)
        direction /= np.linalg.norm(direction) + 1e-9
        p1 = p0 + direction * rng.uniform(0.1, 0.25) * size
        cv2.line(overlay, tuple(int(v) for v in p0), tuple(int(v) for v in p1), 1.0, max(1, size // 96))
    lab[..., 0] -= overlay * 12.0
    lab[..., 1] += overlay * 14.0
    rgb = _lab_to_rgb(lab)
    # acquisition: illumination gradient, white balance, blur and exposure vary per photograph
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    gx, gy = rng.normal(0, 0.12, 2) * quality_variation
    rgb *= (1.0 + gx * (xx - 0.5) + gy * (yy - 0.5))[..., None]
    rgb *= (1.0 + rng.normal(0, 0.04, 3) * quality_variation)[None, None, :]
    rgb *= 1.0 + rng.normal(0, 0.10) * quality_variation
    if rng.rand() < 0.25 * quality_variation:
        rgb = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(0.8, 2.0) * size / 128)
    rgb += rng.normal(0, 0.01, rgb.shape).astype(np.float32)
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8), mask > 0.5


def make_lesion_images(
    n_samples=200,
    *,
    image_size=128,
    positive_fraction=0.3,
    n_patients=None,
    quality_variation=0.5,
    directory=None,
    random_state=None,
):
    """Generate synthetic skin photographs with eczema-like lesions.

    The default, embedded dataset of dermfeat: deterministic, fast, and built so
    that the pieces of a real study are present.  Each image shows skin of a
    patient-specific tone (CIELAB lightness 32-80, i.e. ITA from dark to very
    light) with a lesion whose *shape* depends on the class and whose *signs*
    depend on an ordinal severity level:

    * ``"atopic_dermatitis"``: an ill-defined band-like patch (a skin fold) with
      lichenification (accentuated skin lines) more likely;
    * ``"eczema"`` (another eczema): one to three well-demarcated round plaques.

    Four clinical signs are scored 0-3 (erythema, oedema, excoriation,
    lichenification), scattered around the overall ``severity`` (0-3), and drawn
    into the image (redness, swelling rim, scratch lines, skin-line texture).
    Redness shows less on darker skin, as it does in life.  Several photographs
    share a patient (``groups``) and therefore skin tone and lesion layout, so
    grouped cross-validation matters.  Illumination, white balance, exposure and
    blur vary per photograph.

    Parameters
    ----------
    n_samples : int, default=200
        Number of photographs.
    image_size : int, default=128
        Side of the square images, in pixels.
    positive_fraction : float, default=0.3
        Expected fraction of atopic dermatitis patients (the minority class).
    n_patients : int, optional
        Number of patients; default ``max(1, n_samples // 3)``.
    quality_variation : float, default=0.5
        Strength of acquisition variation (0: ideal photographs).
    directory : path-like, optional
        If given, also write the photographs as JPEG files to
        ``directory/<label>/<name>.jpg`` with a ``manifest.csv`` (path, label,
        group, severity and the four signs), readable by
        :func:`load_image_folder`.
    random_state : int, RandomState instance or None, default=None
        Seed; the same seed gives byte-identical images.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``images`` (ndarray of shape (n_samples, image_size, image_size, 3), uint8),
        ``target`` (int codes into ``target_names``), ``target_names``
        (``["atopic_dermatitis", "eczema"]``), ``labels`` (the class names per
        image), ``severity`` (0-3), ``signs`` (n_samples x 4, 0-3) with
        ``sign_names``, ``groups`` (patient id), ``lightness`` (the patient's skin
        L*), ``lesion_masks`` (bool, n_samples x H x W), ``filenames`` (only with
        ``directory``) and ``DESCR``.

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> data = make_lesion_images(12, image_size=64, random_state=0)
    >>> data.images.shape, data.images.dtype
    ((12, 64, 64, 3), dtype('uint8'))
    >>> sorted(set(data.labels)) == sorted(data.target_names)
    True
    """
    validate_arguments(
        "make_lesion_images",
        _CONSTRAINTS,
        {
            "n_samples": n_samples,
            "image_size": image_size,
            "positive_fraction": positive_fraction,
            "n_patients": n_patients,
            "quality_variation": quality_variation,
        },
    )
    rng = check_random_state(random_state)
    n_patients = max(1, n_samples // 3) if n_patients is None else min(n_patients, n_samples)
    patient_is_ad = rng.rand(n_patients) < positive_fraction
    if n_patients >= 2 and 0 < positive_fraction < 1:  # both classes present whenever possible
        patient_is_ad[0], patient_is_ad[1] = True, False
    profiles = [_patient_profile(rng, bool(ad)) for ad in patient_is_ad]
    groups = np.concatenate([np.arange(n_patients), rng.randint(0, n_patients, n_samples - n_patients)])
    groups = np.sort(groups)[:n_samples]
    images = np.empty((n_samples, image_size, image_size, 3), np.uint8)
    masks = np.empty((n_samples, image_size, image_size), bool)
    severity = np.empty(n_samples, np.int64)
    signs = np.empty((n_samples, len(SIGN_NAMES)), np.int64)
    for i, patient in enumerate(groups):
        is_ad = bool(patient_is_ad[patient])
        level = int(rng.randint(0, 4))
        scatter = np.rint(rng.normal(0, 0.6, len(SIGN_NAMES))).astype(int)
        sign = np.clip(level + scatter, 0, 3)
        # lichenification is a hallmark of chronic atopic dermatitis, rarer elsewhere
        sign[3] = np.clip(sign[3] + (0 if is_ad else -2), 0, 3)
        severity[i], signs[i] = level, sign
        images[i], masks[i] = _render(rng, image_size, profiles[patient], sign, quality_variation)
    target = np.where(patient_is_ad[groups], 0, 1)
    labels = TARGET_NAMES[target]
    lightness = np.array([profiles[g]["L"] for g in groups])
    data = Bunch(
        images=images,
        target=target,
        target_names=TARGET_NAMES.copy(),
        labels=labels,
        severity=severity,
        signs=signs,
        sign_names=SIGN_NAMES.copy(),
        groups=groups,
        lightness=lightness,
        lesion_masks=masks,
        DESCR=make_lesion_images.__doc__.split("\n\n")[1],
    )
    if directory is not None:
        data.filenames = _write_folder(Path(directory), data)
    return data


def _write_folder(root, data):
    root.mkdir(parents=True, exist_ok=True)
    rows, filenames = [], []
    for i, (image, label) in enumerate(zip(data.images, data.labels)):
        rel = Path(str(label)) / f"synthetic_{i:05d}.jpg"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        if not ok:  # pragma: no cover - OpenCV always encodes uint8 RGB
            raise RuntimeError(f"could not encode {path}")
        path.write_bytes(buf.tobytes())
        filenames.append(str(path))
        rows.append([rel.as_posix(), label, int(data.groups[i]), int(data.severity[i]), *map(int, data.signs[i])])
    with open(root / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "group", "severity", *data.sign_names])
        writer.writerows(rows)
    return np.array(filenames, dtype=object)
