"""Distribution of a composite score (a sum of ordinal signs)."""

from __future__ import annotations

import numpy as np
from sklearn.utils import Bunch


def _as_list(per_sign_probas):
    if isinstance(per_sign_probas, np.ndarray) and per_sign_probas.ndim == 3:
        return [per_sign_probas[:, s, :] for s in range(per_sign_probas.shape[1])]
    probas = [np.asarray(p, dtype=float) for p in per_sign_probas]
    if not probas:
        raise ValueError("per_sign_probas is empty")
    n = probas[0].shape[0]
    for p in probas:
        if p.ndim != 2 or p.shape[0] != n:
            raise ValueError("every per-sign probability array must have shape (n_samples, n_levels)")
    return probas


def composite_distribution(per_sign_probas, supports=None):
    """Probability of every total of several independent ordinal signs.

    The distribution of ``sum_s sign_s`` is the convolution of the per-sign
    distributions (signs treated as independent given the image), as for
    EASI-like composite scores built from per-sign severities.

    Parameters
    ----------
    per_sign_probas : list of ndarray of shape (n_samples, n_levels_s) or ndarray of shape (n_samples, n_signs, n_levels)
        Per-sign class probabilities; column ``j`` is the probability of
        ``supports[s][j]`` (default: level ``j``).
    supports : list of array-like of int, optional
        The non-negative integer value of each column, per sign.

    Returns
    -------
    distribution : ndarray of shape (n_samples, max_total + 1)
        ``distribution[i, t]`` is the probability that the total is ``t``; rows
        sum to 1 when the inputs do.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.decision import composite_distribution
    >>> coin = np.array([[0.5, 0.5]])
    >>> composite_distribution([coin, coin])
    array([[0.25, 0.5 , 0.25]])
    """
    probas = _as_list(per_sign_probas)
    if supports is None:
        supports = [np.arange(p.shape[1]) for p in probas]
    if len(supports) != len(probas):
        raise ValueError(f"{len(supports)} supports for {len(probas)} signs")
    dense = []
    for p, values in zip(probas, supports):
        values = np.asarray(values)
        if values.shape[0] != p.shape[1]:
            raise ValueError(f"support of length {values.shape[0]} for {p.shape[1]} columns")
        if not (values.dtype.kind in "biu" or np.all(values == np.round(values))) or np.any(values < 0):
            raise ValueError(f"sign values must be non-negative integers, got {values.tolist()}")
        values = values.astype(np.intp)
        full = np.zeros((p.shape[0], int(values.max()) + 1))
        np.add.at(full.T, values, p.T)
        dense.append(full)
    total = dense[0]
    for p in dense[1:]:
        out = np.zeros((total.shape[0], total.shape[1] + p.shape[1] - 1))
        for level in range(p.shape[1]):
            out[:, level : level + total.shape[1]] += total * p[:, level : level + 1]
        total = out
    return total


def composite_summary(distribution, interval=0.9):
    """Mean, median, mode and an equal-tailed prediction interval of totals.

    Parameters
    ----------
    distribution : array-like of shape (n_samples, n_totals)
        Probabilities of the totals ``0 .. n_totals - 1`` (from
        :func:`composite_distribution`).
    interval : float in (0, 1), default=0.9
        Probability of the interval: at most ``(1 - interval) / 2`` of the mass
        lies below ``lower`` and at most as much above ``upper``, so
        ``P(lower <= total <= upper) >= interval``.

    Returns
    -------
    summary : :class:`~sklearn.utils.Bunch`
        ``distribution``, ``support`` (the totals), ``mean``, ``std``,
        ``median``, ``mode``, ``lower``, ``upper`` (arrays of shape (n_samples,))
        and ``interval``.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.decision import composite_summary
    >>> s = composite_summary(np.array([[0.05, 0.2, 0.5, 0.2, 0.05]]), interval=0.8)
    >>> float(s.mean[0]), int(s.lower[0]), int(s.upper[0])
    (2.0, 1, 3)
    """
    if not 0 < interval < 1:
        raise ValueError(f"interval must be in (0, 1), got {interval!r}")
    dist = np.asarray(distribution, dtype=float)
    support = np.arange(dist.shape[1])
    mean = dist @ support
    std = np.sqrt(np.maximum(dist @ support**2 - mean**2, 0.0))
    cdf = np.cumsum(dist, axis=1)
    tail = (1.0 - interval) / 2.0
    eps = 1e-12

    def first_reaching(level):
        return np.argmax(cdf >= level - eps, axis=1)

    return Bunch(
        distribution=dist,
        support=support,
        mean=mean,
        std=std,
        median=first_reaching(0.5),
        mode=np.argmax(dist, axis=1),
        lower=first_reaching(tail),
        upper=first_reaching(1.0 - tail),
        interval=interval,
    )
