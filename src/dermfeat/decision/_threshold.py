"""The cross-validated decision tuner: fits, splits and routes, then asks a decision rule.

:class:`ThresholdTunedClassifier` follows scikit-learn's
``TunedThresholdClassifierCV`` and adds what its users ask for: constraint
objectives stated as parameters, every standard metric at every threshold per
fold, the spread of the optimal threshold across folds, ``thresholds="auto"``
over the unique out-of-fold scores, ``groups``/``sample_weight`` with and
without metadata routing, ``refit=False`` taking estimator and threshold from
the same split, and multiclass decisions (cost matrices and tuned per-class
offsets).  What depends on the number of classes lives in the decision rules
(:mod:`._binary`, :mod:`._multiclass`); this module does the rest.
"""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, MetaEstimatorMixin, clone
from sklearn.model_selection import (
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
    check_cv,
)
from sklearn.utils.metadata_routing import UNUSED, MetadataRouter, MethodMapping, process_routing
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d, has_fit_parameter

from ..metrics._threshold import BINARY_ALIASES, BINARY_METRICS
from ..model_selection._split import StratifiedGroupHoldout
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Interval, InvalidParameterError, Options, validate_parameters
from ._binary import UNSTABLE_THRESHOLD_STD, BinaryThreshold
from ._constraint import Constraint, as_constraints
from ._cost import resolve_cost_matrix
from ._meta import (
    DelegatingClassifierMixin,
    class_labels,
    aligned_response,
    is_int,
    n_rows,
    resolve_response_method,
    routing_enabled,
    take_params,
    take_rows,
)
from ._multiclass import MULTICLASS_ALIASES, MULTICLASS_METRICS, MulticlassOffsets

__all__ = ["UNSTABLE_THRESHOLD_STD", "Constraint", "ThresholdTunedClassifier"]

#: The decision rule of a problem, by whether it is binary.
_RULES = {True: BinaryThreshold(), False: MulticlassOffsets()}


def _is_table_metric(name):
    """Whether ``name`` is a built-in metric (else it names a scorer)."""
    if name in BINARY_METRICS or name in BINARY_ALIASES or name in MULTICLASS_METRICS or name in MULTICLASS_ALIASES:
        return True
    if name.startswith(("recall_", "precision_", "f1_")):
        from sklearn.metrics import get_scorer_names

        return name not in get_scorer_names()
    return False


def _fit_fold(estimator, X, y, train, test, fit_params, response_method, classes, keep):
    n = n_rows(X)
    estimator.fit(take_rows(X, train), take_rows(y, train), **take_params(fit_params, train, n))
    method = resolve_response_method(estimator, response_method)
    response = aligned_response(estimator, take_rows(X, test), method, classes)
    return (estimator if keep else None), method, response



class ThresholdTunedClassifier(DocLinkMixin, DelegatingClassifierMixin, MetaEstimatorMixin, ClassifierMixin, BaseEstimator):
    """Tune the decision of a classifier by cross-validation.

    **Binary problems.**  The estimator is fitted on the training part of each
    split and scores the held-out part; every candidate threshold is evaluated
    on every held-out part, and the threshold with the best mean ``objective``
    among those meeting the ``constraint`` is kept.  A sample is predicted
    positive when its score is ``>= best_threshold_``.

    **Multiclass problems.**  The decision is
    ``argmax_j (-(P @ cost_matrix)[j] + offset[j])``: the class of minimum
    expected cost (the most probable class for the default 0-1 cost), shifted
    by per-class offsets tuned by coordinate ascent on the out-of-fold
    probabilities for the ``objective`` (``offset`` of the first class fixed
    at 0).  With ``tune=False`` the offsets are 0 and the decision is the
    plain cost-matrix decision.

    Parameters
    ----------
    estimator : classifier
        Any classifier with ``predict_proba`` or ``decision_function``
        (a :class:`~sklearn.pipeline.Pipeline` from images works); cloned.
    objective : str or callable, default="balanced_accuracy"
        What to maximise.  Binary: a metric of
        :func:`dermfeat.metrics.threshold_metrics` (``"balanced_accuracy"``,
        ``"f1"``, ``"specificity"``, ``"macro_f1"``, ``"neg_mean_cost"``, ...);
        multiclass: a metric of :func:`dermfeat.metrics.multiclass_metrics`
        (``"balanced_accuracy"``, ``"macro_f1"``, ``"weighted_f1"``,
        ``"neg_mean_cost"``, ``"recall_<class>"``, ...).  Any other string is
        looked up with :func:`dermfeat.metrics.get_scorer` (e.g. ``"qwk"`` or a
        scikit-learn scorer name); a callable ``scorer(estimator, X, y)`` works
        too.  Scorers must use ``predict``, since only the predictions change
        with the threshold.
    constraint : Constraint, tuple, list or None, default=None
        Requirements the decision must meet, e.g. ``("sensitivity", 0.9)`` for
        "best ``objective`` with sensitivity >= 0.9" or
        ``Constraint("positive_rate", maximum=0.2)``.  If no candidate meets
        them, the one closest to meeting them is chosen with a warning.
    pos_label : int, str or None, default=None
        Binary only: the positive class (e.g. ``"atopic_dermatitis"``);
        default: the second of the sorted classes.
    response_method : {"auto", "predict_proba", "decision_function"}, default="auto"
        Scores to threshold; ``"auto"`` prefers ``predict_proba``.
    thresholds : "auto", int or array-like, default="auto"
        Binary candidates: ``"auto"``: every unique out-of-fold score; an int:
        that many evenly spaced values between the smallest and largest
        out-of-fold score; an array: these values.  Built-in metrics cost
        about the same for any number of thresholds; a scorer ``objective`` is
        called once per threshold and fold, so prefer an int grid with it on
        large data.  Multiclass offset grid
        (always including 0): ``"auto"``: 41 values spanning the range of the
        cost matrix (or of the decision values); an int: that many values; an
        array: these values.
    cost_matrix : array-like of shape (n_classes, n_classes), str or None, default=None
        ``cost_matrix[i, j]``: cost of predicting ``classes_[j]`` for class
        ``classes_[i]``; ``"absolute"``/``"squared"`` give an
        :func:`ordinal_cost_matrix`.  Defines the multiclass decision and the
        ``neg_mean_cost`` metric; with ``tune=False`` for a binary problem the
        threshold becomes the cost's :func:`bayes_threshold`.  Requires
        probabilities.
    tune : bool, default=True
        ``False`` skips cross-validation and uses the default decision
        (threshold 0.5 on probabilities, 0 on decision values, or the
        cost-matrix decision) — a switch for grid searches.
    cv : int, float, cross-validation splitter or iterable, default=5
        An int gives a shuffled ``StratifiedKFold`` (``StratifiedGroupKFold``
        when ``groups`` are passed), seeded by ``random_state``: data often
        arrive sorted by class or source, and unshuffled folds of sorted data
        give thresholds that depend on the order of the files.  A float in
        (0, 1) gives one stratified shuffle split with that test fraction
        (with ``groups``: whole groups held out, still stratified).
    refit : bool, default=True
        ``True``: refit the estimator on all data after tuning.  ``False``:
        keep the estimator fitted on the training part of the split and the
        threshold tuned on its held-out part; ``cv`` must then produce exactly
        one split (e.g. a float), so both come from the same split.
    n_jobs : int or None, default=None
        Folds fitted in parallel.
    random_state : int, RandomState or None, default=0
        Seed of the shuffled folds (``cv`` an int) or split (``cv`` a float),
        so that the same data give the same threshold; ``None`` shuffles
        differently at every fit.

    Attributes
    ----------
    estimator_ : estimator
        The fitted classifier.
    classes_ : ndarray of shape (n_classes,)
        Class labels.
    pos_label_ : object
        Binary only: the positive class.
    best_threshold_ : float
        Binary only: the decision threshold used by ``predict``.
    best_threshold_std_ : float
        Binary, ``tune=True``: standard deviation of ``fold_best_thresholds_``.
        Above :data:`UNSTABLE_THRESHOLD_STD` (0.1, on probabilities) ``fit``
        warns with :class:`~dermfeat.UnstableThresholdWarning`.
    fold_best_thresholds_ : ndarray of shape (n_splits,)
        Binary, ``tune=True``: the optimal threshold of each split on its own.
    best_offsets_ : ndarray of shape (n_classes,)
        Multiclass only: the per-class offsets used by ``predict``.
    best_offsets_std_, fold_best_offsets_ : ndarray
        Multiclass, ``tune=True``: their spread across splits and per split.
    best_score_ : float
        ``tune=True``: mean objective of the chosen decision over the splits.
    best_score_std_ : float
        ``tune=True``: standard deviation of the objective of the chosen
        decision over the splits (every metric's mean and spread at every
        threshold are in ``cv_results_``).
    constraint_satisfied_ : bool
        ``tune=True``: whether the chosen decision meets the constraints.
    cv_results_ : dict of ndarray
        ``tune=True``.  Binary: one row per threshold — ``threshold``,
        ``mean_objective``, ``std_objective``, ``split<k>_objective``, and
        ``mean_<m>``, ``std_<m>``, ``split<k>_<m>`` for every metric ``m`` of
        :data:`dermfeat.metrics.BINARY_METRICS`, plus ``feasible`` with
        constraints.  Multiclass: one row per (``class``, ``offset``)
        evaluated in the last round of coordinate ascent, with the same
        columns for the multiclass metrics.  ``pandas.DataFrame(cv_results_)``
        makes a table.
    response_method_ : str
        The method used for scores.
    n_splits_ : int
        Number of CV splits used.

    See Also
    --------
    CostSensitiveClassifier : The fixed cost-matrix decision.
    sklearn.model_selection.TunedThresholdClassifierCV : The binary original.

    Notes
    -----
    ``groups`` and ``sample_weight`` may be passed to ``fit`` directly.  With
    metadata routing disabled, ``groups`` go to the splitter and
    ``sample_weight`` to the estimator's ``fit`` (when it accepts it) and to the
    metrics.  With ``sklearn.set_config(enable_metadata_routing=True)``,
    ``groups`` go to the splitter if it requests them, ``sample_weight`` to
    the estimator and the scorer if they request it, and always weight the
    built-in metrics; a parent (``GridSearchCV``) passes ``sample_weight`` only
    after ``set_fit_request(sample_weight=True)``.  Inside a ``Pipeline``
    without routing, pass ``step__groups=...`` to the pipeline's ``fit``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.decision import ThresholdTunedClassifier
    >>> X, y = make_classification(300, weights=[0.85], random_state=0)
    >>> clf = ThresholdTunedClassifier(
    ...     LogisticRegression(), objective="specificity", constraint=("sensitivity", 0.9),
    ...     thresholds=50).fit(X, y)
    >>> bool(clf.cv_results_["mean_sensitivity"][clf.cv_results_["threshold"] == clf.best_threshold_][0] >= 0.9)
    True
    >>> clf.fold_best_thresholds_.shape
    (5,)
    """

    __metadata_request__fit = {"groups": UNUSED}

    _parameter_constraints = {
        "estimator": [HasMethods("fit")],
        "objective": [str, "callable"],
        "constraint": [None, Constraint, tuple, list],
        "pos_label": [None, str, Real, "boolean", np.bool_],
        "response_method": [Options("auto", "predict_proba", "decision_function")],
        "thresholds": [Options("auto"), Interval(Integral, 2, None), "array-like"],
        "cost_matrix": [None, Options("absolute", "squared", "zero_one"), "array-like"],
        "tune": ["boolean"],
        "cv": [
            None,
            Interval(Integral, 2, None),
            Interval(Real, 0, 1, closed="neither"),
            HasMethods("split", "get_n_splits"),
            "array-like",
        ],
        "refit": ["boolean"],
        "n_jobs": [None, Integral],
        "random_state": [None, Integral, np.random.RandomState],
    }

    def __init__(
        self,
        estimator,
        *,
        objective="balanced_accuracy",
        constraint=None,
        pos_label=None,
        response_method="auto",
        thresholds="auto",
        cost_matrix=None,
        tune=True,
        cv=5,
        refit=True,
        n_jobs=None,
        random_state=0,
    ):
        self.estimator = estimator
        self.objective = objective
        self.constraint = constraint
        self.pos_label = pos_label
        self.response_method = response_method
        self.thresholds = thresholds
        self.cost_matrix = cost_matrix
        self.tune = tune
        self.cv = cv
        self.refit = refit
        self.n_jobs = n_jobs
        self.random_state = random_state

    # ------------------------------------------------------------ splitting
    def _splitter(self, grouped):
        cv = 5 if self.cv is None else self.cv
        if is_int(cv):
            # shuffled (seeded): data often arrive sorted by class or by source folder
            if grouped:
                return StratifiedGroupKFold(n_splits=cv, shuffle=True, random_state=self.random_state)
            return StratifiedKFold(n_splits=cv, shuffle=True, random_state=self.random_state)
        if isinstance(cv, Real) and not isinstance(cv, bool):
            if grouped:
                return StratifiedGroupHoldout(test_size=cv, random_state=self.random_state)
            return StratifiedShuffleSplit(n_splits=1, test_size=cv, random_state=self.random_state)
        return check_cv(cv, classifier=True)

    def _uses_groups(self):
        """Whether ``fit`` uses ``groups`` (only to tune; read by :class:`~dermfeat.pipeline.ImagePipeline`)."""
        return bool(self.tune)

    def _objective_scorer(self):
        if callable(self.objective):
            return self.objective
        if _is_table_metric(self.objective):
            return None
        from ..metrics import get_scorer

        return get_scorer(self.objective)

    def get_metadata_routing(self):
        """Routing of ``fit`` metadata: estimator, splitter and objective scorer.

        ``sample_weight`` is also consumed by the tuner itself (to weight the
        built-in metrics).

        Returns
        -------
        routing : MetadataRouter
        """
        router = MetadataRouter(owner=type(self).__name__).add_self_request(self)
        router.add(estimator=self.estimator, method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        router.add(splitter=self._splitter(grouped=True), method_mapping=MethodMapping().add(caller="fit", callee="split"))
        scorer = self._objective_scorer()
        if scorer is not None and hasattr(scorer, "get_metadata_routing"):
            router.add(scorer=scorer, method_mapping=MethodMapping().add(caller="fit", callee="score"))
        return router

    # ------------------------------------------------------------------ fit
    def fit(self, X, y, *, groups=None, sample_weight=None, **fit_params):
        """Fit the estimator and tune the decision.

        Parameters
        ----------
        X : array-like, images or data frame
            Training input (anything the estimator accepts and that can be
            indexed by rows).
        y : array-like of shape (n_samples,)
            Class labels.
        groups : array-like of shape (n_samples,), optional
            Group labels (patient ids, :func:`~dermfeat.model_selection.near_duplicate_groups`):
            a group never spans training and held-out parts.
        sample_weight : array-like of shape (n_samples,), optional
            Weights for the estimator's ``fit`` and for the metrics.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled); array-likes of length ``n_samples`` are split with ``X``.

        Returns
        -------
        self : object
        """
        y, classes, sw = self._validate_fit_input(X, y, sample_weight)
        n = n_rows(X)
        constraints = as_constraints(self.constraint)
        scorer = self._objective_scorer()
        est_params, split_params, score_params = self._route(groups, sw, fit_params, scorer)

        self.classes_ = classes
        binary = classes.shape[0] == 2
        rule = _RULES[binary]
        if binary:
            pos_label = classes[1] if self.pos_label is None else self.pos_label
            if pos_label not in classes.tolist():
                raise ValueError(f"pos_label={pos_label!r} is not a class; classes are {classes.tolist()}")
            self.pos_label_ = pos_label
            self._pos_idx = int(np.flatnonzero(classes == pos_label)[0])
        elif self.pos_label is not None:
            raise ValueError(f"pos_label is for binary problems; y has {classes.shape[0]} classes")
        cost = None if self.cost_matrix is None else resolve_cost_matrix(self.cost_matrix, classes.shape[0])
        self.cost_matrix_ = cost
        rule.check_metric_names(self, constraints, scorer)

        if not self.tune:
            self.estimator_ = clone(self.estimator).fit(X, y, **est_params)
            self.response_method_ = resolve_response_method(self.estimator_, self.response_method)
            self._check_cost_response(rule)
            self._set_fitted(rule.default(self))
            return self

        splitter = self._splitter(grouped="groups" in split_params)
        splits = list(splitter.split(X, y, **split_params))
        if not self.refit and len(splits) != 1:
            raise ValueError(
                f"refit=False needs exactly one split so that the estimator and the threshold come from the same "
                f"split; cv={self.cv!r} gave {len(splits)}. Use a float cv (e.g. cv=0.25) or refit=True."
            )
        jobs = Parallel(n_jobs=self.n_jobs)(
            delayed(_fit_fold)(
                clone(self.estimator), X, y, train, test, est_params, self.response_method, classes, not self.refit
            )
            for train, test in splits
        )
        self.response_method_ = jobs[0][1]
        self._check_cost_response(rule)
        self.n_splits_ = len(splits)
        y_idx = np.searchsorted(classes, y)
        folds = []
        for (train, test), (_, _, response) in zip(splits, jobs):
            fold = {
                "test": np.asarray(test),
                "y": y_idx[test],
                "labels": y[test],
                "w": None if sw is None else sw[test],
                "score_params": take_params(score_params, test, n),
                "response": response,
            }
            folds.append(fold)
        self._set_fitted(rule.tune(self, folds, constraints, scorer))
        if self.refit:
            self.estimator_ = clone(self.estimator).fit(X, y, **est_params)
        else:
            self.estimator_ = jobs[0][0]
        return self

    def _validate_fit_input(self, X, y, sample_weight):
        """Parameters and data checked: ``(y as an array, its classes, sample weights or None)``."""
        validate_parameters(self)
        for name in ("thresholds", "cv"):
            value = getattr(self, name)
            if isinstance(value, str) and not (name == "thresholds" and value == "auto"):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} got the string {value!r}; "
                    + ("only 'auto' is accepted" if name == "thresholds" else "pass an int, a float or a splitter")
                )
        y = class_labels(y)
        n = n_rows(X)
        if y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {y.shape[0]}")
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least two classes; got 1 class: {classes}")
        sw = None if sample_weight is None else column_or_1d(np.asarray(sample_weight, dtype=float))
        if sw is not None and sw.shape[0] != n:
            raise ValueError(f"sample_weight has {sw.shape[0]} entries, expected {n}")
        return y, classes, sw

    def _route(self, groups, sw, fit_params, scorer):
        """Metadata for the estimator's ``fit``, the splitter and the scorer (see the class Notes)."""
        if routing_enabled():
            metadata = {k: v for k, v in (("groups", groups), ("sample_weight", sw)) if v is not None}
            routed = process_routing(self, "fit", **metadata, **fit_params)
            est_params = dict(routed["estimator"]["fit"])
            split_params = dict(routed["splitter"]["split"])
            score_params = dict(routed["scorer"]["score"]) if scorer is not None and "scorer" in routed else {}
            return est_params, split_params, score_params
        est_params = dict(fit_params)
        if sw is not None:
            if has_fit_parameter(self.estimator, "sample_weight"):
                est_params["sample_weight"] = sw
            else:
                warnings.warn(
                    f"{type(self.estimator).__name__}.fit does not accept sample_weight: it only weights the "
                    "metrics. Pass it to a pipeline step as '<step>__sample_weight' or enable metadata routing.",
                    UserWarning,
                    stacklevel=3,
                )
        split_params = {} if groups is None else {"groups": groups}
        score_params = {} if sw is None else {"sample_weight": sw}
        return est_params, split_params, score_params

    def _set_fitted(self, attributes):
        for name, value in attributes.items():
            setattr(self, name, value)

    def _check_cost_response(self, rule):
        if self.cost_matrix_ is not None and self.response_method_ != "predict_proba" and rule.cost_needs_probabilities(self):
            raise ValueError("a cost_matrix needs probabilities: the estimator must have predict_proba")

    # -------------------------------------------------------------- predict
    def predict(self, X):
        """Predict with the tuned decision.

        Parameters
        ----------
        X : array-like or images
            Input samples.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
        """
        check_is_fitted(self, "estimator_")
        response = aligned_response(self.estimator_, X, self.response_method_, self.classes_)
        return _RULES[len(self.classes_) == 2].decide(self, response)
