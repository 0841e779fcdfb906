"""A classical lesion region-of-interest crop from redness."""

from __future__ import annotations

import math
from numbers import Integral, Real

import cv2
import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..base import BaseImagePreprocessor, as_image_list
from ..imaging import otsu_threshold, rgb_to_lab, to_working_size
from ..io import image_name, source_bytes
from ..utils._param_validation import Interval


class LesionCrop(BaseImagePreprocessor):
    """Crop each photograph to the bounding box of its reddest region.

    A classical, training-free region of interest for eczema photographs, where
    lesions are redder than the surrounding skin.  On a copy resized so that the
    shorter side is ``working_size``:

    1. CIELAB ``a*`` (redness) is smoothed with a Gaussian of
       ``sigma = working_size / 128`` pixels;
    2. Otsu's threshold ``t`` splits it (:func:`~dermfeat.features.otsu_threshold`)
       into the redder pixels ``a* > t`` and the rest;
    3. the mask is cleaned by a morphological opening then closing with a disc of
       radius ``round(working_size / 64)``;
    4. its 8-connected components are ranked by area: the largest is kept, and
       up to ``max_components - 1`` more whose area is at least a quarter of the
       largest; components smaller than ``min_area`` of the image are ignored;
    5. the bounding box of the kept components is enlarged by ``margin`` times
       its height and width on each side, clipped to the image, and mapped back
       to the full-resolution photograph, which is cropped.

    The whole image is returned unchanged when nothing is found: when the two
    Otsu classes differ by less than ``min_contrast`` in mean ``a*`` (no region
    is redder than the rest), when no component is large enough, or when the
    mask covers more than 95% of the image.

    Parameters
    ----------
    margin : float, default=0.1
        Margin added on each side, as a fraction of the box's height and width.
    min_area : float, default=0.005
        Smallest component kept, as a fraction of the image area.
    max_components : int, default=3
        Most components in the box.
    min_contrast : float, default=4.0
        Smallest difference of mean ``a*`` between the two Otsu classes for a
        lesion to be assumed.
    working_size : int, default=256
        Shorter side of the copy on which the mask is computed.
    n_jobs : int or None, default=None
        Parallel workers over images.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.preprocessing import LesionCrop
    >>> skin = np.full((200, 300, 3), (210, 170, 150), dtype=np.uint8)
    >>> skin[60:120, 150:250] = (200, 90, 90)  # a red plaque
    >>> crop = LesionCrop(margin=0.1).fit()
    >>> crop.get_boxes(skin)  # (top, left, bottom, right), bottom/right exclusive
    [(54, 140, 127, 260)]
    >>> crop.transform(skin)[0].shape
    (73, 120, 3)
    >>> crop.transform(np.full((50, 50, 3), 180, dtype=np.uint8))[0].shape  # nothing red: unchanged
    (50, 50, 3)
    """

    _parameter_constraints = {
        **BaseImagePreprocessor._parameter_constraints,
        "margin": [Interval(Real, 0, 2)],
        "min_area": [Interval(Real, 0, 1)],
        "max_components": [Interval(Integral, 1, None)],
        "min_contrast": [Interval(Real, 0, None)],
        "working_size": [Interval(Integral, 16, 4096)],
    }

    def __init__(self, margin=0.1, min_area=0.005, max_components=3, min_contrast=4.0, working_size=256, n_jobs=None):
        self.margin = margin
        self.min_area = min_area
        self.max_components = max_components
        self.min_contrast = min_contrast
        self.working_size = working_size
        self.n_jobs = n_jobs

    @classmethod
    def _get_test_params(cls):
        return [{"working_size": 64}]

    # ---------------------------------------------------------------- mask
    def _lesion_mask(self, small):
        """Cleaned redness mask of the working copy, or None when there is no lesion."""
        a_star = np.ascontiguousarray(rgb_to_lab(small)[:, :, 1])
        a_star = cv2.GaussianBlur(a_star, (0, 0), self.working_size / 128.0, borderType=cv2.BORDER_REFLECT)
        threshold = otsu_threshold(a_star)
        mask = a_star > threshold
        n_red = int(np.count_nonzero(mask))
        if n_red == 0 or n_red == mask.size:
            return None
        if a_star[mask].mean() - a_star[~mask].mean() < self.min_contrast:
            return None
        radius = max(1, round(self.working_size / 64))
        disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        mask = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, disc)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, disc)
        if np.count_nonzero(mask) > 0.95 * mask.size:
            return None
        return mask

    def _box(self, image):
        """``(top, left, bottom, right)`` of the crop in ``image`` coordinates."""
        h, w = image.shape[:2]
        small = to_working_size(image, self.working_size)
        mask = self._lesion_mask(small)
        if mask is None:
            return (0, 0, h, w)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        areas = stats[1:, cv2.CC_STAT_AREA]
        order = np.argsort(-areas, kind="stable")
        min_pixels = self.min_area * mask.size
        keep = [k for k in order[: self.max_components] if areas[k] >= max(min_pixels, 0.25 * areas[order[0]])]
        if not keep:
            return (0, 0, h, w)
        boxes = stats[1:][keep]
        x0 = boxes[:, cv2.CC_STAT_LEFT].min()
        y0 = boxes[:, cv2.CC_STAT_TOP].min()
        x1 = (boxes[:, cv2.CC_STAT_LEFT] + boxes[:, cv2.CC_STAT_WIDTH]).max()
        y1 = (boxes[:, cv2.CC_STAT_TOP] + boxes[:, cv2.CC_STAT_HEIGHT]).max()
        dy, dx = self.margin * (y1 - y0), self.margin * (x1 - x0)
        sh, sw = mask.shape
        sy, sx = h / sh, w / sw
        top = max(0, math.floor((y0 - dy) * sy))
        left = max(0, math.floor((x0 - dx) * sx))
        bottom = min(h, max(top + 1, math.ceil((y1 + dy) * sy)))
        right = min(w, max(left + 1, math.ceil((x1 + dx) * sx)))
        return (int(top), int(left), int(bottom), int(right))

    def _process(self, image):
        top, left, bottom, right = self._box(image)
        return image[top:bottom, left:right]

    def get_boxes(self, X):
        """The crop box of every image, without cropping.

        Parameters
        ----------
        X : path, bytes, array or sequence of them
            The images.

        Returns
        -------
        boxes : list of (int, int, int, int)
            ``(top, left, bottom, right)`` in pixels of the decoded image
            (``bottom`` and ``right`` exclusive); the whole image when no lesion
            is found.
        """
        check_is_fitted(self, "is_fitted_")
        sources = as_image_list(X)
        names = [image_name(s, i) for i, s in enumerate(sources)]
        return [self._box(self._decode(source_bytes(s, n), n)) for s, n in zip(sources, names)]
