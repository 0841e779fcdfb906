"""Calibration of predicted probabilities."""

from __future__ import annotations

import numpy as np


def expected_calibration_error(y_true, y_prob, *, n_bins=10):
    """Expected calibration error of binary probabilities (equal-width bins).

    .. math::

        \\mathrm{ECE} = \\sum_b \\frac{n_b}{n} \\left| \\bar{y}_b - \\bar{p}_b \\right|

    over ``n_bins`` equal-width probability bins ``b`` holding ``n_b`` samples, with
    ``\\bar{y}_b`` the fraction of positives and ``\\bar{p}_b`` the mean predicted
    probability in the bin.  0 is perfect calibration.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        1 for the positive class, 0 otherwise.
    y_prob : array-like of shape (n_samples,)
        Predicted probability of the positive class.
    n_bins : int, default=10
        Number of bins on [0, 1].

    Returns
    -------
    ece : float

    Examples
    --------
    >>> from dermfeat.metrics import expected_calibration_error
    >>> expected_calibration_error([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0])
    0.0
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.8, 0.8, 0.8, 0.8]), 2)
    0.3
    """
    y = np.asarray(y_true, dtype=float).ravel()
    p = np.clip(np.asarray(y_prob, dtype=float).ravel(), 0.0, 1.0)
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_prob have different lengths: {y.shape[0]} and {p.shape[0]}")
    if y.size == 0:
        return 0.0
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    counts = np.bincount(bins, minlength=n_bins)
    sum_y = np.bincount(bins, weights=y, minlength=n_bins)
    sum_p = np.bincount(bins, weights=p, minlength=n_bins)
    filled = counts > 0
    gap = np.abs(sum_y[filled] - sum_p[filled])  # n_b * |mean_y - mean_p|
    return float(gap.sum() / y.size)
