"""Otsu's threshold of a sample: the split that best separates two classes of values."""

from __future__ import annotations

import numpy as np

__all__ = ["otsu_threshold"]


def otsu_threshold(values, nbins=256):
    """Otsu's threshold of a 1-D sample: the histogram split maximising the between-class variance.

    The values are binned into ``nbins`` equal bins over ``[min, max]``; for a
    split after bin ``k`` with class weights ``w0, w1`` and class means
    ``m0, m1`` (from the bin centres), ``w0 w1 (m0 - m1)^2`` is maximised, and
    the centre of bin ``k`` is returned (values ``> threshold`` form the upper
    class), as :func:`skimage.filters.threshold_otsu` does.

    Parameters
    ----------
    values : array-like
        The sample (flattened).
    nbins : int, default=256

    Returns
    -------
    threshold : float
        ``min(values)`` when all values are equal (up to a relative 1e-9).

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.imaging import otsu_threshold
    >>> values = np.r_[np.full(50, 2.0), np.full(50, 10.0)]
    >>> 2.0 <= otsu_threshold(values) < 10.0
    True
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    lo, hi = float(values.min()), float(values.max())
    if hi - lo <= 1e-9 * (1.0 + abs(lo) + abs(hi)):
        return lo
    counts, edges = np.histogram(values, bins=nbins, range=(lo, hi))
    centres = (edges[:-1] + edges[1:]) / 2
    counts = counts.astype(np.float64)
    w0 = np.cumsum(counts)
    w1 = w0[-1] - w0
    s0 = np.cumsum(counts * centres)
    s1 = s0[-1] - s0
    valid = (w0 > 0) & (w1 > 0)
    m0 = np.divide(s0, w0, out=np.zeros_like(s0), where=valid)
    m1 = np.divide(s1, w1, out=np.zeros_like(s1), where=valid)
    between = np.where(valid, w0 * w1 * (m0 - m1) ** 2, -1.0)[:-1]
    return float(centres[int(np.argmax(between))])
