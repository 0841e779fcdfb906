"""Repeated stratified group K-fold: the default leak-free protocol."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import BaseCrossValidator, StratifiedGroupKFold
from sklearn.utils import check_random_state


class RepeatedStratifiedGroupKFold(BaseCrossValidator):
    """Stratified group K-fold, repeated with different shuffles.

    scikit-learn offers ``RepeatedStratifiedKFold`` (no groups) and
    ``StratifiedGroupKFold`` (not repeated).  Photographs of one patient or
    near-duplicates of one photograph must stay in one fold *and* small classes
    need stratification, and one split of a few hundred images is noisy, so the
    two are combined: each repetition is a shuffled
    :class:`~sklearn.model_selection.StratifiedGroupKFold` with its own seed.

    Like scikit-learn's group splitters it requests ``groups`` for ``split``, so
    with ``sklearn.set_config(enable_metadata_routing=True)``
    ``cross_val_score(..., cv=RepeatedStratifiedGroupKFold(), params={"groups": g})``
    routes the groups to it.

    Parameters
    ----------
    n_splits : int, default=5
        Folds per repetition.
    n_repeats : int, default=5
        Repetitions.
    random_state : int, RandomState instance or None, default=None
        Seeds the repetitions; an int gives reproducible splits.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.model_selection import RepeatedStratifiedGroupKFold
    >>> y = np.array([0, 0, 0, 0, 1, 1, 1, 1, 0, 1])
    >>> groups = np.array([0, 0, 1, 2, 3, 3, 4, 5, 6, 7])
    >>> cv = RepeatedStratifiedGroupKFold(n_splits=2, n_repeats=3, random_state=0)
    >>> cv.get_n_splits()
    6
    >>> all(not set(groups[tr]) & set(groups[te]) for tr, te in cv.split(y, y, groups))
    True
    """

    # a group splitter: metadata routing passes ``groups`` to ``split`` (as scikit-learn's GroupKFold)
    __metadata_request__split = {"groups": True}

    def __init__(self, n_splits=5, n_repeats=5, random_state=None):
        self.n_splits = n_splits
        self.n_repeats = n_repeats
        self.random_state = random_state

    def get_n_splits(self, X=None, y=None, groups=None):
        """Number of splits: ``n_splits * n_repeats``."""
        return self.n_splits * self.n_repeats

    def split(self, X, y, groups=None):
        """Yield ``(train, test)`` index arrays, repetition after repetition.

        Parameters
        ----------
        X : array-like of length n_samples
            Only its length is used.
        y : array-like of shape (n_samples,)
            Class labels to stratify on.
        groups : array-like of shape (n_samples,), optional
            Group labels; ``None`` treats every sample as its own group.

        Yields
        ------
        train, test : ndarray
        """
        y = np.asarray(y)
        groups = np.arange(len(y)) if groups is None else np.asarray(groups)
        rng = check_random_state(self.random_state)
        for _ in range(self.n_repeats):
            seed = int(rng.randint(np.iinfo(np.int32).max))
            yield from StratifiedGroupKFold(self.n_splits, shuffle=True, random_state=seed).split(X, y, groups)

    def __repr__(self):
        return (
            f"{type(self).__name__}(n_splits={self.n_splits}, n_repeats={self.n_repeats}, "
            f"random_state={self.random_state})"
        )


class StratifiedGroupHoldout(StratifiedGroupKFold):
    """One shuffled, stratified split with whole groups held out (private).

    The first fold of a shuffled :class:`~sklearn.model_selection.StratifiedGroupKFold`
    with ``round(1 / test_size)`` folds: about ``test_size`` of the samples,
    whole groups only, class proportions kept as far as the groups allow.
    ``GroupShuffleSplit`` keeps groups but not the class balance.
    """

    def __init__(self, test_size=0.2, random_state=None):
        super().__init__(n_splits=max(2, round(1 / test_size)), shuffle=True, random_state=random_state)
        self.test_size = test_size

    def get_n_splits(self, X=None, y=None, groups=None):
        return 1

    def split(self, X, y=None, groups=None):
        yield next(iter(super().split(X, y, groups)))
