"""An out-of-distribution detector on image features, its alarm threshold calibrated on held-out folds."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted
from sklearn_compat.utils.validation import validate_data

from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Interval, Options, validate_parameters
from ._folds import calibration_folds, check_partition, order_statistic

#: Rows of the query matrix compared with the reference rows at a time (bounds memory).
_CHUNK = 256


class OutOfDistributionDetector(DocLinkMixin, OutlierMixin, BaseEstimator):
    """Flags photographs unlike the training photographs, at a calibrated false-alarm rate.

    Fitted on the features of the training images (the same rows the
    classifier sees, so in an image pipeline the photographs are decoded and
    embedded once), it scores how far a new image's features lie from the
    training set and raises an alarm above a threshold chosen so that about
    ``false_alarm_rate`` of *new* in-distribution photographs are flagged.

    The distance is the mean distance to the ``n_neighbors`` nearest
    training rows (``method="knn"``) or the Mahalanobis distance to the
    training mean with a Ledoit-Wolf shrunk covariance
    (``method="mahalanobis"``), measured after ``normalize``: ``"l2"`` scales
    every row to unit length (the deep nearest-neighbour detector of Sun et
    al., 2022: for embeddings the direction carries what the photograph
    shows, and a blank or featureless image, whose embedding is short and
    points anywhere, lands far from every photograph); ``"standard"`` centres
    and scales each feature by its training mean and standard deviation and
    divides the distance by the square root of the number of features (for
    handcrafted features, whose units differ).

    The threshold is not a quantile of the training rows' own scores (a
    photograph is its own nearest neighbour, and its near-duplicates the
    next ones): ``fit`` holds out each of ``cv`` folds in turn (whole groups
    of near-duplicates when given ``groups``), scores the held-out rows
    against the rest, and takes the ``ceil((n + 1) * (1 - false_alarm_rate))``-th
    smallest of these held-out scores, the split-conformal quantile, so
    that a new exchangeable photograph exceeds it with probability at most
    ``false_alarm_rate`` (for a reference set of the calibration folds' size;
    the final reference set is larger, which only lowers the rate).

    Parameters
    ----------
    method : {"knn", "mahalanobis"}, default="knn"
        The distance.
    normalize : {"l2", "standard"}, default="l2"
        The space it is measured in: unit-length rows (embeddings) or
        standardised features (handcrafted features).
    n_neighbors : int, default=5
        Neighbours averaged by ``"knn"``.
    false_alarm_rate : float in (0, 1), default=0.05
        Share of in-distribution photographs allowed to be flagged.
    cv : int or splitter, default=5
        Calibration folds (an int: shuffled K-fold, grouped when ``fit`` gets
        ``groups``).  Every row must be held out exactly once.
    random_state : int or None, default=0
        Seed of the shuffled folds.

    Attributes
    ----------
    threshold_ : float
        Scores (distances) above it are out of distribution.
    offset_ : float
        ``-threshold_``: ``decision_function = score_samples - offset_``.
    calibration_scores_ : ndarray of shape (n_samples,)
        The held-out distance of every training row.
    mean_, scale_ : ndarray of shape (n_features,)
        The standardisation (zeros and ones for ``normalize="l2"``).
    reference_ : ndarray of shape (n_samples, n_features)
        Normalised training rows (``"knn"``).
    location_, precision_ : ndarray
        Mean and shrunk precision matrix of the normalised rows (``"mahalanobis"``).
    n_features_in_ : int

    See Also
    --------
    dermfeat.uncertainty.GuardedClassifier : A classifier that carries one.

    Notes
    -----
    ``pyod`` has the same k-nearest-neighbour detector, but its threshold
    is the ``contamination`` quantile of the training rows' own scores, which
    near-duplicate photographs pull down; the held-out, grouped calibration is
    the point of this class.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.uncertainty import OutOfDistributionDetector
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 4))
    >>> detector = OutOfDistributionDetector(normalize="standard", false_alarm_rate=0.05).fit(X)
    >>> detector.predict([[0.0, 0.0, 0.0, 0.0], [8.0, 8.0, 8.0, 8.0]]).tolist()
    [1, -1]
    >>> bool((detector.predict(rng.normal(size=(2000, 4))) == -1).mean() < 0.08)
    True
    """

    _parameter_constraints = {
        "method": [Options("knn", "mahalanobis")],
        "normalize": [Options("l2", "standard")],
        "n_neighbors": [Interval(Integral, 1, None)],
        "false_alarm_rate": [Interval(Real, 0, 1, closed="neither")],
        "cv": [Interval(Integral, 2, None), HasMethods("split", "get_n_splits")],
        "random_state": [None, Integral],
    }

    def __init__(self, method="knn", normalize="l2", n_neighbors=5, false_alarm_rate=0.05, cv=5, random_state=0):
        self.method = method
        self.normalize = normalize
        self.n_neighbors = n_neighbors
        self.false_alarm_rate = false_alarm_rate
        self.cv = cv
        self.random_state = random_state

    # ------------------------------------------------------------------ state
    def _state(self, X):
        """Standardisation and reference of the rows ``X`` (a dict, so folds need no fitted copy)."""
        if self.normalize == "l2":
            mean, scale = np.zeros(X.shape[1]), np.ones(X.shape[1])
        else:
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
            scale[scale < 1e-12] = 1.0
        Z = self._normalized(X, mean, scale)
        state = {"mean": mean, "scale": scale}
        if self.method == "knn":
            state["reference"] = Z
        else:
            from sklearn.covariance import ledoit_wolf

            location = Z.mean(axis=0)
            covariance, _ = ledoit_wolf(Z - location, assume_centered=True)
            state["location"] = location
            state["precision"] = np.linalg.pinv(covariance, hermitian=True)
        return state

    def _normalized(self, X, mean, scale):
        if self.normalize == "l2":
            return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
        return (X - mean) / scale

    def _distance(self, state, X):
        Z = self._normalized(X, state["mean"], state["scale"])
        norm = 1.0 if self.normalize == "l2" else np.sqrt(Z.shape[1])
        if self.method == "mahalanobis":
            D = Z - state["location"]
            return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", D, state["precision"], D), 0.0)) / norm
        ref = state["reference"]
        k = min(self.n_neighbors, ref.shape[0])
        ref_sq = np.einsum("ij,ij->i", ref, ref)
        out = np.empty(Z.shape[0])
        for start in range(0, Z.shape[0], _CHUNK):
            z = Z[start : start + _CHUNK]
            sq = np.einsum("ij,ij->i", z, z)[:, None] + ref_sq[None, :] - 2.0 * z @ ref.T
            nearest = np.partition(np.maximum(sq, 0.0), k - 1, axis=1)[:, :k]
            out[start : start + _CHUNK] = np.sqrt(nearest).mean(axis=1)
        return out / norm

    # -------------------------------------------------------------------- fit
    def fit(self, X, y=None, groups=None):
        """Learn the training distribution and calibrate the alarm threshold.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features of in-distribution (training) photographs.
        y : ignored
        groups : array-like of shape (n_samples,), optional
            Near-duplicate or patient groups: the calibration folds hold out
            whole groups.

        Returns
        -------
        self : OutOfDistributionDetector
        """
        validate_parameters(self)
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        n = X.shape[0]
        groups = None if groups is None else np.asarray(groups)
        if groups is not None and groups.shape[0] != n:
            raise ValueError(f"groups has {groups.shape[0]} entries for {n} samples")
        splits = calibration_folds(self.cv, n, groups=groups, random_state=self.random_state)
        check_partition(splits, n)
        scores = np.empty(n)
        for train, test in splits:
            scores[test] = self._distance(self._state(X[train]), X[test])
        self.calibration_scores_ = scores
        self.threshold_ = order_statistic(scores, 1.0 - self.false_alarm_rate)
        self.offset_ = -self.threshold_
        state = self._state(X)
        self.mean_, self.scale_ = state["mean"], state["scale"]
        if self.method == "knn":
            self.reference_ = state["reference"]
        else:
            self.location_, self.precision_ = state["location"], state["precision"]
        return self

    def _fitted_state(self):
        check_is_fitted(self, "threshold_")
        names = ("reference",) if self.method == "knn" else ("location", "precision")
        return {"mean": self.mean_, "scale": self.scale_, **{k: getattr(self, k + "_") for k in names}}

    # ---------------------------------------------------------------- outputs
    def score_samples(self, X):
        """Minus the distance to the training photographs: the lower, the more unusual.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,)
        """
        state = self._fitted_state()
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return -self._distance(state, X)

    def decision_function(self, X):
        """``score_samples - offset_``: negative for out-of-distribution photographs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        margin : ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """``1`` for photographs like the training ones, ``-1`` for the others.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        labels : ndarray of shape (n_samples,) of {1, -1}
        """
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
