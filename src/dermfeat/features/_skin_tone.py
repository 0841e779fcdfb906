"""Skin tone: the individual typology angle (ITA) and its categories."""

from __future__ import annotations

from numbers import Real

import numpy as np

from ..utils._param_validation import Interval
from ._family import _HandcraftedFamily

#: ITA skin-tone categories from lightest to darkest (ordinal codes 0-5).
ITA_CATEGORIES = ("very light", "light", "intermediate", "tan", "brown", "dark")
#: Lower bounds (exclusive) of the categories, in degrees: very light > 55 >= light > 41 ...
ITA_THRESHOLDS = (55.0, 41.0, 28.0, 10.0, -30.0)

#: Chai & Ngan (1999) skin chrominance box in full-range YCrCb.
SKIN_CR_RANGE = (133.0, 173.0)
SKIN_CB_RANGE = (77.0, 127.0)


def individual_typology_angle(lab):
    """ITA in degrees of CIELAB colours: ``arctan2(L* - 50, b*) * 180 / pi``.

    Equal to the classical ``arctan((L* - 50) / b*)`` for ``b* > 0`` (all skin
    colours) and defined everywhere.

    Parameters
    ----------
    lab : array-like of shape (..., 3)
        CIELAB ``L*, a*, b*`` (``a*`` is not used).

    Returns
    -------
    ita : ndarray of shape lab.shape[:-1]

    Examples
    --------
    >>> from dermfeat.features import individual_typology_angle
    >>> float(individual_typology_angle([70.0, 10.0, 20.0]))  # arctan(20 / 20)
    45.0
    """
    lab = np.asarray(lab)
    return np.degrees(np.arctan2(lab[..., 0] - 50, lab[..., 2]))


def ita_category_code(ita_values):
    """Ordinal skin-tone code (0 = very light ... 5 = dark) of ITA values; -1 for NaN.

    Boundaries (Chardon et al. 1991; Del Bino et al. 2006), in degrees:
    very light ``> 55``, light ``(41, 55]``, intermediate ``(28, 41]``, tan
    ``(10, 28]``, brown ``(-30, 10]``, dark ``<= -30``.
    """
    ita = np.asarray(ita_values, dtype=np.float64)
    codes = np.searchsorted(-np.asarray(ITA_THRESHOLDS), -ita, side="right")
    return np.where(np.isnan(ita), -1, codes)


def ita_category(ita_values):
    """Skin-tone category names of individual typology angles.

    Categories (Chardon et al. 1991; Del Bino et al. 2006), in degrees:
    ``"very light"`` > 55 >= ``"light"`` > 41 >= ``"intermediate"`` > 28 >=
    ``"tan"`` > 10 >= ``"brown"`` > -30 >= ``"dark"``; NaN gives ``"unknown"``.
    The ordered list is ``ITA_CATEGORIES``.

    Parameters
    ----------
    ita_values : float or array-like of float
        ITA in degrees.

    Returns
    -------
    categories : str or ndarray of str objects
        A string for a scalar input, else an object array of the input's shape.

    Examples
    --------
    >>> from dermfeat.features import ITA_CATEGORIES, ita_category
    >>> ita_category([60.0, 55.0, 30.0, 12.5, -5.0, -30.0, float("nan")]).tolist()
    ['very light', 'light', 'intermediate', 'tan', 'brown', 'dark', 'unknown']
    >>> ita_category(45.0)
    'light'
    >>> ITA_CATEGORIES[0], ITA_CATEGORIES[-1]
    ('very light', 'dark')
    """
    codes = ita_category_code(ita_values)
    names = np.array([*ITA_CATEGORIES, "unknown"], dtype=object)
    out = names[codes]  # code -1 -> "unknown"
    if np.ndim(ita_values) == 0:
        return str(out)
    return out


def skin_mask(ycrcb):
    """Skin pixels of a full-range YCrCb image: ``133 <= Cr <= 173`` and ``77 <= Cb <= 127``.

    The explicit chrominance rule of Chai & Ngan (1999), which holds for light
    to dark skin because skin tones differ mainly in luma.
    """
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    return (cr >= SKIN_CR_RANGE[0]) & (cr <= SKIN_CR_RANGE[1]) & (cb >= SKIN_CB_RANGE[0]) & (cb <= SKIN_CB_RANGE[1])


class SkinToneFeatures(_HandcraftedFamily):
    """Skin tone as the individual typology angle (ITA) of the skin pixels.

    Skin pixels are chosen by the YCrCb chrominance box of Chai & Ngan (1999),
    ``133 <= Cr <= 173`` and ``77 <= Cb <= 127`` (full-range BT.601,
    :func:`skin_mask`).  When fewer than ``min_skin_fraction`` of the pixels
    qualify (e.g. a strong colour cast), all pixels are used instead and
    ``skin_mask_used`` is 0.  Over the chosen pixels, with CIELAB computed from
    the sRGB values::

        ITA = arctan2(L* - 50, b*) * 180 / pi      (degrees)

    and the features are the median, mean, standard deviation and 25th/75th
    percentiles of the per-pixel ITA, the median ``L*`` and ``b*``, the fraction
    of pixels in the skin mask, whether the mask was used, and ``ita_category``:
    the ordinal category code of the median ITA (0 very light ``> 55``, 1 light
    ``41-55``, 2 intermediate ``28-41``, 3 tan ``10-28``, 4 brown ``-30-10``, 5
    dark ``<= -30``; see :func:`ita_category`).  The median is used because
    lesions, hair and shadows inside the mask shift the mean.

    Parameters
    ----------
    min_skin_fraction : float, default=0.05
        Below this fraction of skin pixels, all pixels are used.
    image_size : int, default=256
        Working size: the shorter side of the resized image.
    n_jobs : int or None, default=None
        Parallel workers over images.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    n_features_out_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features import SkinToneFeatures, ita_category
    >>> skin = np.full((32, 32, 3), (224, 172, 140), dtype=np.uint8)
    >>> tone = SkinToneFeatures(image_size=32).fit()
    >>> features = dict(zip(tone.get_feature_names_out(), tone.transform(skin)[0].round(1).tolist()))
    >>> features["ita_median"], ita_category(features["ita_median"])
    (45.6, 'light')
    >>> features["ita_category"], features["skin_mask_used"]
    (1.0, 1.0)
    """

    _parameter_constraints = {
        **_HandcraftedFamily._parameter_constraints,
        "min_skin_fraction": [Interval(Real, 0, 1)],
    }

    def __init__(self, min_skin_fraction=0.05, image_size=256, n_jobs=None, memory=None, on_error="raise"):
        self.min_skin_fraction = min_skin_fraction
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        return [{"image_size": 32}]

    def _feature_names(self):
        return [
            "ita_median", "ita_mean", "ita_std", "ita_p25", "ita_p75", "ita_category",
            "L_median", "b_median", "skin_fraction", "skin_mask_used",
        ]

    def _features_from_view(self, view):
        mask = skin_mask(view.ycrcb)
        fraction = float(np.count_nonzero(mask)) / mask.size
        used = fraction >= self.min_skin_fraction and fraction > 0
        lab = view.lab[mask] if used else view.lab.reshape(-1, 3)
        ita = individual_typology_angle(lab).astype(np.float32)
        median, p25, p75 = np.percentile(ita, [50, 25, 75])
        L_median, b_median = np.median(lab[:, [0, 2]], axis=0)
        return np.array(
            [
                median, ita.mean(dtype=np.float64), ita.std(dtype=np.float64), p25, p75,
                float(ita_category_code(median)), L_median, b_median, fraction, float(used),
            ],
            dtype=np.float64,
        )

