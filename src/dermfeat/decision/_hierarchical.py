"""Coarse decisions from a head trained on fine labels (subtypes summed into their class)."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.utils.metadata_routing import MetadataRouter, MethodMapping
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Interval, Options, validate_parameters
from ._meta import routed_fit_params, with_input_tags_of


class HierarchicalClassifier(DocLinkMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Train on fine labels (subtypes), decide on coarse ones by summing probabilities.

    "Other eczema" is many diseases.  This meta-classifier fits ``estimator``
    on the *fine* labels passed as the ``fine_labels`` fit parameter (for
    example the subtype column of a manifest) and answers for the *coarse*
    labels ``y``: the probability of a coarse class is the sum of the
    probabilities of its fine classes.  The mapping from fine to coarse labels
    is read from the training pairs (each fine label must belong to exactly
    one coarse class).  Because ``y`` stays the coarse label, the classifier
    composes with :class:`~dermfeat.model_selection.ThresholdTunedClassifier`
    (threshold tuned on the summed probability, as usual), cross-validation,
    evaluation and :class:`~sklearn.model_selection.GridSearchCV`; the fine
    labels travel as sample-aligned metadata (with metadata routing, request
    it requests ``fine_labels`` by default, so a pipeline or a search passes
    them on with no ``set_fit_request``).

    Without ``fine_labels`` it is ``estimator`` fitted on ``y``.

    Rare subtypes give the head little to learn from: with ``min_fine_count``,
    the fine labels with fewer training samples than that are merged, per
    coarse class, into one fine class named ``"other <coarse class>"`` (for
    example ``"other eczema"``).  The merge is decided in ``fit`` from the
    training samples only, so it never looks at a test fold.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``
        The head, fitted on the fine labels.
    min_fine_count : int >= 1 or None, default=None
        Fine labels with fewer training samples are merged into
        ``"other <coarse class>"`` (``None``: every fine label is kept;
        without ``fine_labels`` nothing is merged).  When
        a kept fine label of that coarse class already has this name, the
        rare ones join it.  Fine labels are then strings (as a manifest's
        subtype column is); the merged name of a non-string coarse class
        ``c`` is ``"other {c}"``.  When every fine label of a class is rare,
        they merge into one fine class named after the class itself.
    balance : {"fine", "coarse"}, default="fine"
        What a ``class_weight="balanced"`` of the head (anywhere inside
        ``estimator``, e.g. in a :class:`ResampledClassifier`) balances.
        ``"fine"``: the fine classes, each with the same total weight
        (scikit-learn's meaning, with the fine labels as classes), so a coarse
        class of many subtypes outweighs one of a single subtype.
        ``"coarse"``: the coarse classes, each with the same total weight,
        shared equally by its fine classes; the summed probabilities are then
        balanced as those of a ``"balanced"`` head on the coarse labels, and a
        fixed threshold of 0.5 means the same.  Heads without a balanced
        ``class_weight`` are unaffected.

    Attributes
    ----------
    estimator_ : classifier
        The fitted head.
    classes_ : ndarray
        The coarse classes.
    fine_classes_ : ndarray
        The fine classes, in the order of :meth:`predict_fine_proba`'s columns.
    fine_to_coarse_ : dict
        Each fine class's coarse class.
    fine_mapping_ : dict
        Each fine label seen in ``fit`` -> its fine class (itself, or the
        ``"other ..."`` class it was merged into).
    n_features_in_ : int
        Columns seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import HierarchicalClassifier
    >>> rng = np.random.RandomState(0)
    >>> fine = np.repeat(["ad", "discoid", "hand"], 20)
    >>> X = rng.normal(size=(60, 3)) + np.repeat(np.eye(3) * 3, 20, axis=0)
    >>> y = np.where(fine == "ad", "atopic", "other")
    >>> clf = HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine)
    >>> clf.classes_.tolist(), clf.fine_classes_.tolist()
    (['atopic', 'other'], ['ad', 'discoid', 'hand'])
    >>> clf.fine_to_coarse_["hand"]
    'other'
    >>> bool(np.allclose(clf.predict_proba(X).sum(axis=1), 1.0))
    True

    Subtypes with fewer than 15 training photographs merge into one class:

    >>> fine[:5] = "napkin"  # 5 photographs of a rare atopic subtype
    >>> rare = HierarchicalClassifier(LogisticRegression(), min_fine_count=15).fit(X, y, fine_labels=fine)
    >>> rare.fine_classes_.tolist()
    ['ad', 'discoid', 'hand', 'other atopic']
    >>> rare.fine_mapping_["napkin"]
    'other atopic'
    >>> HierarchicalClassifier(LogisticRegression(), min_fine_count=50).fit(
    ...     X, y, fine_labels=fine).fine_classes_.tolist()  # every subtype rare: the classes themselves
    ['atopic', 'other']

    With ``balance="coarse"``, a balanced head weighs both classes equally
    (though "other" has twice the photographs), and the subtypes of each
    class equally within it:

    >>> balanced = HierarchicalClassifier(LogisticRegression(class_weight="balanced"), balance="coarse")
    >>> w = balanced.fit(X, y, fine_labels=fine).estimator_.class_weight
    >>> round(w["ad"] * 15 + w["napkin"] * 5, 6), round(w["discoid"] * 20 + w["hand"] * 20, 6)
    (30.0, 30.0)
    """

    # its own metadata: requested unless the user says otherwise
    __metadata_request__fit = {"fine_labels": True}

    _parameter_constraints = {
        "estimator": [HasMethods("fit", "predict_proba")],
        "min_fine_count": [Interval(Integral, 1, None, closed="left"), None],
        "balance": [Options("fine", "coarse")],
    }

    def __init__(self, estimator, *, min_fine_count=None, balance="fine"):
        self.estimator = estimator
        self.min_fine_count = min_fine_count
        self.balance = balance

    def get_metadata_routing(self):
        """Routing of fit metadata: ``fine_labels`` requested by this estimator, the rest to ``estimator``.

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=type(self).__name__).add_self_request(self)
        return router.add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))

    def fit(self, X, y, fine_labels=None, **fit_params):
        """Fit the head on ``fine_labels`` (or on ``y`` without them).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Coarse labels.
        fine_labels : array-like of shape (n_samples,), optional
            Fine labels; each belongs to one coarse class.
        **fit_params : dict
            Passed to the head's ``fit`` (routed when metadata routing is on).

        Returns
        -------
        self : HierarchicalClassifier
        """
        validate_parameters(self)
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        fit_params = routed_fit_params(self, fit_params)
        if fine_labels is None:
            fine = y
        else:
            fine = column_or_1d(np.asarray(fine_labels), warn=True)
            if fine.shape[0] != y.shape[0]:
                raise ValueError(f"fine_labels has {fine.shape[0]} entries for {y.shape[0]} samples")
            check_classification_targets(fine)
        self.classes_ = np.unique(y)
        mapping = {}
        for f, c in zip(fine.tolist(), y.tolist()):
            if mapping.setdefault(f, c) != c:
                raise ValueError(f"fine label {f!r} belongs to two coarse classes: {mapping[f]!r} and {c!r}")
        self.fine_mapping_ = self._merge_rare(fine, mapping, merge=fine_labels is not None)
        if any(k != v for k, v in self.fine_mapping_.items()):
            fine = np.array([self.fine_mapping_[f] for f in fine.tolist()], dtype=object)
            mapping = {self.fine_mapping_[f]: c for f, c in mapping.items()}
        self.estimator_ = self._weighted_head(fine, mapping).fit(X, fine, **fit_params)
        self.fine_classes_ = np.asarray(self.estimator_.classes_)
        self.fine_to_coarse_ = {f: mapping[f] for f in self.fine_classes_.tolist()}
        coarse_index = {c: i for i, c in enumerate(self.classes_.tolist())}
        self._summing = np.zeros((len(self.fine_classes_), len(self.classes_)))
        for i, f in enumerate(self.fine_classes_.tolist()):
            self._summing[i, coarse_index[mapping[f]]] = 1.0
        if hasattr(self.estimator_, "n_features_in_"):
            self.n_features_in_ = self.estimator_.n_features_in_
        if hasattr(self.estimator_, "feature_names_in_"):
            self.feature_names_in_ = self.estimator_.feature_names_in_
        return self

    def _weighted_head(self, fine, mapping):
        """A clone of the head; with ``balance="coarse"``, its balanced class weights balance the coarse classes."""
        head = clone(self.estimator)
        if self.balance != "coarse":
            return head
        keys = [k for k, v in head.get_params(deep=True).items()
                if k.split("__")[-1] == "class_weight" and isinstance(v, str) and v == "balanced"]
        if not keys:
            return head
        labels, counts = np.unique(fine, return_counts=True)
        coarse = [mapping[f] for f in labels.tolist()]
        n_coarse = len(set(coarse))
        per_coarse = {c: coarse.count(c) for c in set(coarse)}
        # n / (classes * subtypes of the class * photographs of the subtype): every class weighs n / classes
        weights = {f: float(len(fine) / (n_coarse * per_coarse[c] * n)) for f, c, n in zip(labels.tolist(), coarse, counts)}
        if all(isinstance(f, str) for f in weights):
            # a VotingClassifier fits its estimators on the positions of the labels in sorted order
            weights.update({i: weights[f] for i, f in enumerate(labels.tolist())})
        return head.set_params(**{k: weights for k in keys})

    def _merge_rare(self, fine, mapping, merge=True):
        """Each fine label -> its fine class: itself, or ``"other <coarse>"`` when rarer than ``min_fine_count``."""
        labels, counts = np.unique(fine, return_counts=True)
        out = {f: f for f in labels.tolist()}
        if self.min_fine_count is None or not merge:
            return out
        rare = [f for f, n in zip(labels.tolist(), counts.tolist()) if n < self.min_fine_count]
        if not rare:
            return out
        if not all(isinstance(f, str) for f in labels.tolist()):
            raise ValueError(
                f"min_fine_count={self.min_fine_count} merges rare fine labels into a class named 'other <class>', "
                f"so fine labels must be strings; got {type(rare[0]).__name__} labels such as {rare[0]!r}"
            )
        kept = {f: mapping[f] for f in labels.tolist() if f not in rare}
        whole = set(mapping[f] for f in rare) - set(kept.values())  # classes none of whose fine labels stays
        for f in rare:
            c = mapping[f]
            out[f] = c if c in whole and isinstance(c, str) else f"other {c}"
        for f in rare:
            owner = kept.get(out[f])
            if owner is not None and owner != mapping[f]:
                raise ValueError(
                    f"rare fine labels of {mapping[f]!r} merge into {out[f]!r}, which is a fine label of {owner!r}"
                )
        return out

    def predict_fine_proba(self, X):
        """Probabilities of the fine classes, columns in :attr:`fine_classes_` order.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_fine_classes)
        """
        check_is_fitted(self, "estimator_")
        return np.asarray(self.estimator_.predict_proba(X), dtype=float)

    def predict_proba(self, X):
        """Probabilities of the coarse classes: sums of their fine classes' probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
        """
        return self.predict_fine_proba(X) @ self._summing

    def predict(self, X):
        """The most probable coarse class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def predict_fine(self, X):
        """The most probable fine class (e.g. the type of eczema).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        y : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        return self.fine_classes_[np.argmax(self.predict_fine_proba(X), axis=1)]

    def __sklearn_tags__(self):
        return with_input_tags_of(self.estimator, super().__sklearn_tags__())
