"""The held-out folds the uncertainty estimators calibrate on: shuffled, seeded, grouped when given groups."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedGroupKFold, StratifiedKFold, check_cv

from ..decision._meta import is_int


def calibration_folds(cv, n_samples, y=None, groups=None, random_state=0):
    """``[(train, test), ...]`` index pairs covering every sample once as ``test``.

    An int ``cv`` gives shuffled (seeded) folds: stratified by ``y`` when it
    is given, whole ``groups`` held out when they are given (near-duplicate
    photographs never on both sides), so every calibration score comes from a
    model or reference set that did not see that photograph or its copies.
    A splitter object is used as it is (with ``groups`` if given).
    """
    X = np.zeros((n_samples, 1))
    if is_int(cv):
        if groups is not None:
            n_groups = np.unique(groups).shape[0]
            if n_groups < cv:
                raise ValueError(f"cv={cv} folds need at least {cv} groups; got {n_groups}")
            target = np.zeros(n_samples) if y is None else y
            splitter = StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=random_state)
            return list(splitter.split(X, target, groups))
        if y is None:
            return list(KFold(n_splits=cv, shuffle=True, random_state=random_state).split(X))
        return list(StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state).split(X, y))
    splitter = check_cv(cv, y, classifier=y is not None)
    return list(splitter.split(X, y, groups))


def check_partition(splits, n_samples):
    """Raise unless every sample is in exactly one test fold (what calibration needs)."""
    seen = np.zeros(n_samples, dtype=int)
    for _, test in splits:
        seen[test] += 1
    if not np.all(seen == 1):
        raise ValueError(
            "the calibration folds must hold out every sample exactly once (a K-fold splitter); "
            f"{int(np.sum(seen == 0))} samples were never held out and {int(np.sum(seen > 1))} more than once"
        )


def order_statistic(scores, level):
    """The ``ceil((n + 1) * level)``-th smallest score (``inf`` when that exceeds ``n``).

    The finite-sample quantile of split conformal prediction: a new
    exchangeable score is at most this value with probability at least
    ``level``.
    """
    scores = np.sort(np.asarray(scores, dtype=float))
    k = int(np.ceil((scores.shape[0] + 1) * level - 1e-12))
    if k > scores.shape[0]:
        return np.inf
    return float(scores[max(k, 1) - 1])
