"""The out-of-distribution images of bench_ood.py: made or shipped locally, nothing downloaded.

Four families, each a list of ``(name, HxWx3 uint8 array)``:

- ``natural``: every colour or grey photograph that scikit-image (``skimage.data``, the images
  bundled in its wheel; the ones it would download are not used) and scikit-learn
  (``load_sample_images``) ship, converted to RGB (RGBA composited on white, grey repeated).
  Binary masks, 3-D stacks, the 25x25 face thumbnails of ``lfw_subset`` and the phantom are left
  out (not photographs).  ``cat`` is the same picture as ``chelsea`` and is used once.
- ``crops``: the four quadrants of each colour natural photograph except ``astronaut`` (whose
  quadrants hold a face and hands: skin, so not honestly "non-skin"), each at least 150 px.
- ``blank``: uniform images (black, white, mid-grey, and a flat light-skin colour) and pure noise.
- ``corrupted``: held-out DermNet NZ photographs made unreadable: Gaussian noise of sd 100,
  8x downsampled and nearest-neighbour upsampled (pixelated) to 1/16 of the side, a 61-pixel box
  blur, and all but the top 2 % of the image blacked out.  These are reported separately: whether
  such a photograph should be refused is a choice, not ground truth.
"""

from __future__ import annotations

import numpy as np

_GREY = ("camera", "brick", "grass", "gravel", "coins", "moon", "clock", "page", "text", "cell", "microaneurysms")
_COLOUR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina",
           "colorwheel", "logo")


def _rgb(image):
    image = np.asarray(image)
    if image.dtype != np.uint8:
        image = (255 * (image - image.min()) / max(float(np.ptp(image)), 1e-12)).astype(np.uint8)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.shape[2] == 4:
        alpha = image[:, :, 3:].astype(np.float32) / 255
        image = (image[:, :, :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return np.ascontiguousarray(image[:, :, :3])


def natural_images():
    """Photographs shipped by scikit-image and scikit-learn, as RGB uint8."""
    import skimage.data as data
    from sklearn.datasets import load_sample_images

    out = [(name, _rgb(getattr(data, name)())) for name in _COLOUR + _GREY]
    out.append(("stereo_motorcycle", _rgb(data.stereo_motorcycle()[0])))
    sample = load_sample_images()
    for path, image in zip(sample.filenames, sample.images):
        out.append((path.replace("\\", "/").rsplit("/", 1)[-1].split(".")[0], _rgb(image)))
    return out


def crops(natural):
    """Quadrants of the colour natural photographs except the astronaut's."""
    out = []
    for name, image in natural:
        if name == "astronaut" or image[..., 0].tolist() == image[..., 1].tolist():
            continue
        h, w = image.shape[0] // 2, image.shape[1] // 2
        if min(h, w) < 150:
            continue
        for k, (r, c) in enumerate(((0, 0), (0, w), (h, 0), (h, w))):
            out.append((f"{name}[q{k}]", np.ascontiguousarray(image[r : r + h, c : c + w])))
    return out


def blank_images(size=384, random_state=0):
    """Uniform and noise images."""
    rng = np.random.default_rng(random_state)
    flat = {"black": (0, 0, 0), "white": (255, 255, 255), "grey": (128, 128, 128), "flat skin": (224, 172, 150)}
    out = [(name, np.full((size, size, 3), colour, np.uint8)) for name, colour in flat.items()]
    out.append(("uniform noise", rng.integers(0, 256, (size, size, 3), dtype=np.uint8)))
    out.append(("grey noise", np.repeat(rng.integers(0, 256, (size, size, 1), dtype=np.uint8), 3, axis=2)))
    return out


def corrupt(image, kind, random_state=0):
    """One heavy corruption of a photograph (see the module docstring)."""
    import cv2

    rng = np.random.default_rng(random_state)
    if kind == "noise":
        return np.clip(image + rng.normal(0, 100, image.shape), 0, 255).astype(np.uint8)
    if kind == "pixelated":
        h, w = image.shape[:2]
        small = cv2.resize(image, (max(1, w // 16), max(1, h // 16)), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    if kind == "blurred":
        return cv2.blur(image, (61, 61))
    if kind == "blacked out":
        out = np.zeros_like(image)
        keep = max(1, image.shape[0] // 50)
        out[:keep] = image[:keep]
        return out
    raise ValueError(kind)


CORRUPTIONS = ("noise", "pixelated", "blurred", "blacked out")
