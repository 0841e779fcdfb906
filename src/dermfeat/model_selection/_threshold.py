"""Cross-validated decision thresholds (binary) and class offsets (multiclass).

:class:`ThresholdTunedClassifier` follows scikit-learn's
``TunedThresholdClassifierCV`` and adds what its users ask for: constraint
objectives stated as parameters, every standard metric at every threshold per
fold, the spread of the optimal threshold across folds, ``thresholds="auto"``
over the unique out-of-fold scores, ``groups``/``sample_weight`` with and
without metadata routing, ``refit=False`` taking estimator and threshold from
the same split, and multiclass decisions (cost matrices and tuned per-class
offsets).
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
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import check_is_fitted, column_or_1d, has_fit_parameter

from .._exceptions import UnstableThresholdWarning
from ..metrics._threshold import BINARY_ALIASES, BINARY_METRICS, _multiclass_from_confusion, threshold_metrics
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Interval, InvalidParameterError, Options, validate_parameters
from ._cost import bayes_threshold, resolve_cost_matrix
from ._split import StratifiedGroupHoldout
from ._meta import (
    DelegatingClassifierMixin,
    aligned_response,
    is_int,
    n_rows,
    resolve_response_method,
    routing_enabled,
    take_params,
    take_rows,
)

_MULTICLASS_ALIASES = {"f1_macro": "macro_f1", "f1_weighted": "weighted_f1"}

#: :class:`ThresholdTunedClassifier` warns (:class:`~dermfeat.UnstableThresholdWarning`)
#: when the per-fold optimal thresholds of a binary problem, on probabilities,
#: have a standard deviation above this value.
UNSTABLE_THRESHOLD_STD = 0.1


class Constraint:
    """A requirement on a metric that the chosen decision must meet.

    Used as ``ThresholdTunedClassifier(objective=..., constraint=Constraint(...))``:
    the decision maximising the objective is chosen among those meeting every
    constraint.  ``("sensitivity", 0.9)`` is shorthand for
    ``Constraint("sensitivity", minimum=0.9)``.

    Parameters
    ----------
    metric : str
        A metric of :func:`dermfeat.metrics.threshold_metrics` (binary:
        ``"sensitivity"``, ``"specificity"``, ``"precision"``, ``"npv"``,
        ``"positive_rate"``, ...) or of
        :func:`dermfeat.metrics.multiclass_metrics` (multiclass:
        ``"recall_<class>"``, ``"balanced_accuracy"``, ...).
    minimum, maximum : float, optional
        Bounds (inclusive) on the metric; at least one is required.
    aggregate : {"mean", "all"}, default="mean"
        ``"mean"``: the bound applies to the metric averaged over the CV folds;
        ``"all"``: every fold must meet it (more conservative).

    Examples
    --------
    >>> from dermfeat.model_selection import Constraint
    >>> Constraint("sensitivity", minimum=0.9)
    Constraint('sensitivity', minimum=0.9)
    >>> Constraint("positive_rate", maximum=0.3, aggregate="all")
    Constraint('positive_rate', maximum=0.3, aggregate='all')
    """

    def __init__(self, metric, minimum=None, maximum=None, *, aggregate="mean"):
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a str, got {metric!r}")
        if minimum is None and maximum is None:
            raise ValueError("a Constraint needs a minimum or a maximum")
        if aggregate not in ("mean", "all"):
            raise ValueError(f"aggregate must be 'mean' or 'all', got {aggregate!r}")
        self.metric, self.minimum, self.maximum, self.aggregate = metric, minimum, maximum, aggregate

    def violation(self, mean_values, fold_values):
        """Amount by which the bounds are missed (0 where met).

        Parameters
        ----------
        mean_values : ndarray of shape (n_candidates,)
            The metric averaged over folds.
        fold_values : ndarray of shape (n_folds, n_candidates)
            The metric per fold.

        Returns
        -------
        violation : ndarray of shape (n_candidates,)
        """
        if self.aggregate == "mean":
            low = high = np.asarray(mean_values, dtype=float)
        else:
            fold_values = np.asarray(fold_values, dtype=float)
            low, high = fold_values.min(axis=0), fold_values.max(axis=0)
        out = np.zeros_like(low)
        if self.minimum is not None:
            out += np.maximum(0.0, self.minimum - low)
        if self.maximum is not None:
            out += np.maximum(0.0, high - self.maximum)
        return out

    def __repr__(self):
        parts = [repr(self.metric)]
        if self.minimum is not None:
            parts.append(f"minimum={self.minimum!r}")
        if self.maximum is not None:
            parts.append(f"maximum={self.maximum!r}")
        if self.aggregate != "mean":
            parts.append(f"aggregate={self.aggregate!r}")
        return f"Constraint({', '.join(parts)})"

    def __eq__(self, other):
        return isinstance(other, Constraint) and (self.metric, self.minimum, self.maximum, self.aggregate) == (
            other.metric,
            other.minimum,
            other.maximum,
            other.aggregate,
        )

    def __hash__(self):
        return hash((self.metric, self.minimum, self.maximum, self.aggregate))


def _as_constraints(constraint):
    if constraint is None:
        return []
    if isinstance(constraint, Constraint):
        return [constraint]
    if isinstance(constraint, tuple) and len(constraint) == 2 and isinstance(constraint[0], str):
        return [Constraint(constraint[0], minimum=constraint[1])]
    if isinstance(constraint, (list, tuple)):
        return [c for item in constraint for c in _as_constraints(item)]
    raise ValueError(
        f"constraint must be None, a Constraint, a (metric, minimum) tuple or a list of them; got {constraint!r}"
    )


_MULTICLASS_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "neg_mean_cost")


def _is_table_metric(name):
    """Whether ``name`` is a built-in metric (else it names a scorer)."""
    if name in BINARY_METRICS or name in BINARY_ALIASES or name in _MULTICLASS_METRICS or name in _MULTICLASS_ALIASES:
        return True
    if name.startswith(("recall_", "precision_", "f1_")):
        from sklearn.metrics import get_scorer_names

        return name not in get_scorer_names()
    return False


class _FixedPredictions(ClassifierMixin, BaseEstimator):
    """A stand-in classifier returning stored predictions, to evaluate any scorer."""

    def __init__(self, classes=None, y_pred=None):
        self.classes = classes
        self.y_pred = y_pred

    def fit(self, X=None, y=None):  # pragma: no cover - never fitted
        return self

    @property
    def classes_(self):
        return self.classes

    def predict(self, X):
        return self.y_pred


def _fit_fold(estimator, X, y, train, test, fit_params, response_method, classes, keep):
    n = n_rows(X)
    estimator.fit(take_rows(X, train), take_rows(y, train), **take_params(fit_params, train, n))
    method = resolve_response_method(estimator, response_method)
    response = aligned_response(estimator, take_rows(X, test), method, classes)
    return (estimator if keep else None), method, response


def _pick(objective, violation):
    """Index of the best candidate: feasible first, then highest objective."""
    objective = np.where(np.isnan(objective), -np.inf, objective)
    best_violation = violation.min()
    candidates = violation <= best_violation + 1e-12
    return int(np.argmax(np.where(candidates, objective, -np.inf))), bool(best_violation <= 1e-12)


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
    >>> from dermfeat.model_selection import ThresholdTunedClassifier
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
            Group labels (patient ids, :func:`near_duplicate_groups`): a group
            never spans training and held-out parts.
        sample_weight : array-like of shape (n_samples,), optional
            Weights for the estimator's ``fit`` and for the metrics.
        **fit_params : dict
            Passed to the estimator's ``fit`` (routed when metadata routing is
            enabled); array-likes of length ``n_samples`` are split with ``X``.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        for name in ("thresholds", "cv"):
            value = getattr(self, name)
            if isinstance(value, str) and not (name == "thresholds" and value == "auto"):
                raise InvalidParameterError(
                    f"The {name!r} parameter of {type(self).__name__} got the string {value!r}; "
                    + ("only 'auto' is accepted" if name == "thresholds" else "pass an int, a float or a splitter")
                )
        check_classification_targets(y)
        y = column_or_1d(np.asarray(y) if not hasattr(y, "iloc") else y.to_numpy(), warn=True)
        n = n_rows(X)
        if y.shape[0] != n:
            raise ValueError(f"X has {n} samples but y has {y.shape[0]}")
        classes = np.unique(y)
        if classes.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs samples of at least two classes; got 1 class: {classes}")
        sw = None if sample_weight is None else column_or_1d(np.asarray(sample_weight, dtype=float))
        if sw is not None and sw.shape[0] != n:
            raise ValueError(f"sample_weight has {sw.shape[0]} entries, expected {n}")
        constraints = _as_constraints(self.constraint)
        scorer = self._objective_scorer()

        if routing_enabled():
            metadata = {k: v for k, v in (("groups", groups), ("sample_weight", sw)) if v is not None}
            routed = process_routing(self, "fit", **metadata, **fit_params)
            est_params = dict(routed["estimator"]["fit"])
            split_params = dict(routed["splitter"]["split"])
            score_params = dict(routed["scorer"]["score"]) if scorer is not None and "scorer" in routed else {}
        else:
            est_params = dict(fit_params)
            if sw is not None:
                if has_fit_parameter(self.estimator, "sample_weight"):
                    est_params["sample_weight"] = sw
                else:
                    warnings.warn(
                        f"{type(self.estimator).__name__}.fit does not accept sample_weight: it only weights the "
                        "metrics. Pass it to a pipeline step as '<step>__sample_weight' or enable metadata routing.",
                        UserWarning,
                        stacklevel=2,
                    )
            split_params = {} if groups is None else {"groups": groups}
            score_params = {} if sw is None else {"sample_weight": sw}

        self.classes_ = classes
        binary = classes.shape[0] == 2
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
        self._check_metric_names(constraints, binary, scorer)

        if not self.tune:
            self.estimator_ = clone(self.estimator).fit(X, y, **est_params)
            self.response_method_ = resolve_response_method(self.estimator_, self.response_method)
            self._check_cost_response(binary)
            if binary:
                if self.response_method_ == "predict_proba":
                    self.best_threshold_ = 0.5 if cost is None else bayes_threshold(self._binary_cost())
                else:
                    self.best_threshold_ = 0.0
            else:
                self.best_offsets_ = np.zeros(classes.shape[0])
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
        self._check_cost_response(binary)
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
        if binary:
            self._tune_binary(folds, constraints, scorer)
        else:
            self._tune_multiclass(folds, constraints, scorer)
        if self.refit:
            self.estimator_ = clone(self.estimator).fit(X, y, **est_params)
        else:
            self.estimator_ = jobs[0][0]
        return self

    def _check_cost_response(self, binary):
        if self.cost_matrix_ is not None and self.response_method_ != "predict_proba" and (not binary or not self.tune):
            raise ValueError("a cost_matrix needs probabilities: the estimator must have predict_proba")

    def _binary_cost(self):
        order = [1 - self._pos_idx, self._pos_idx]
        return self.cost_matrix_[np.ix_(order, order)]

    def _check_metric_names(self, constraints, binary, scorer):
        names = [c.metric for c in constraints]
        if scorer is None:
            names.append(self.objective)
        for name in names:
            if binary:
                ok = name in BINARY_METRICS or name in BINARY_ALIASES
                valid = sorted(BINARY_METRICS)
            else:
                known = set(_MULTICLASS_METRICS)
                per_class = {f"{m}_{c}" for m in ("recall", "precision", "f1") for c in self.classes_.tolist()}
                ok = name in known or name in per_class or name in _MULTICLASS_ALIASES
                valid = sorted(known) + ["recall_<class>", "precision_<class>", "f1_<class>"]
            if not ok:
                kind = "binary" if binary else "multiclass"
                raise ValueError(f"unknown {kind} metric {name!r}; valid: {', '.join(valid)}")

    # --------------------------------------------------------------- binary
    def _binary_grid(self, pooled):
        if isinstance(self.thresholds, str):
            return np.unique(pooled)
        if is_int(self.thresholds):
            return np.linspace(pooled.min(), pooled.max(), int(self.thresholds))
        grid = np.unique(np.asarray(self.thresholds, dtype=float).ravel())
        if grid.size == 0:
            raise ValueError("thresholds is empty")
        return grid

    def _tune_binary(self, folds, constraints, scorer):
        pos = self._pos_idx
        neg_label, pos_label = self.classes_[1 - pos], self.classes_[pos]
        pooled = np.concatenate([f["response"][:, pos] for f in folds])
        grid = self._binary_grid(pooled)
        cost = None if self.cost_matrix_ is None else self._binary_cost()
        tables = []
        for f in folds:
            score = f["response"][:, pos]
            table = threshold_metrics(
                (f["y"] == pos).astype(int), score, grid, pos_label=1, sample_weight=f["w"], cost_matrix=cost
            )
            if scorer is None:
                table["objective"] = table[BINARY_ALIASES.get(self.objective, self.objective)]
            else:
                values = np.empty(grid.shape[0])
                for i, t in enumerate(grid):
                    y_pred = np.where(score >= t, pos_label, neg_label)
                    values[i] = self._score(scorer, y_pred, f)
                table["objective"] = values
            tables.append(table)
        columns = ["objective", *BINARY_METRICS]
        results = {"threshold": grid}
        stack = {m: np.vstack([t[m] for t in tables]) for m in columns}
        for m in columns:
            results[f"mean_{m}"] = stack[m].mean(axis=0)
            results[f"std_{m}"] = stack[m].std(axis=0)
        for k in range(len(folds)):
            for m in columns:
                results[f"split{k}_{m}"] = stack[m][k]
        violation, fold_violation = self._violations(constraints, stack, BINARY_ALIASES)
        best, feasible = _pick(results["mean_objective"], violation)
        self._warn_infeasible(feasible, constraints)
        if constraints:
            results["feasible"] = violation <= 1e-12
        fold_best = np.array([grid[_pick(stack["objective"][k], fold_violation[k])[0]] for k in range(len(folds))])
        self.cv_results_ = results
        self.best_threshold_ = float(grid[best])
        self.best_score_ = float(results["mean_objective"][best])
        self.best_score_std_ = float(results["std_objective"][best])
        self.constraint_satisfied_ = feasible
        self.fold_best_thresholds_ = fold_best
        self.best_threshold_std_ = float(fold_best.std())
        self._warn_unstable()

    def _warn_unstable(self):
        if self.response_method_ != "predict_proba" or self.best_threshold_std_ <= UNSTABLE_THRESHOLD_STD:
            return
        folds = self.fold_best_thresholds_
        warnings.warn(
            f"the decision threshold is unstable: the best threshold of each of the {len(folds)} inner folds ranges "
            f"from {folds.min():.3f} to {folds.max():.3f} (std {self.best_threshold_std_:.3f} > "
            f"{UNSTABLE_THRESHOLD_STD}), so the chosen {self.best_threshold_:.3f} depends on which photographs fell "
            "in which fold. Pass groups (near-duplicates, patients), use more data or a smoother objective.",
            UnstableThresholdWarning,
            stacklevel=4,
        )

    def _score(self, scorer, y_pred, fold):
        stand_in = _FixedPredictions(classes=self.classes_, y_pred=y_pred)
        try:
            return float(scorer(stand_in, np.zeros((len(y_pred), 1)), fold["labels"], **fold["score_params"]))
        except AttributeError as exc:
            raise ValueError(
                f"objective {self.objective!r} needs probabilities or decision values; a tuned decision only changes "
                "predict, so use a scorer based on predict (or a built-in metric name)"
            ) from exc

    def _violations(self, constraints, stack, aliases):
        n_folds, n_candidates = next(iter(stack.values())).shape
        violation = np.zeros(n_candidates)
        fold_violation = np.zeros((n_folds, n_candidates))
        for c in constraints:
            values = stack[aliases.get(c.metric, c.metric)]
            violation += c.violation(values.mean(axis=0), values)
            per_fold = Constraint(c.metric, c.minimum, c.maximum)
            for k in range(n_folds):
                fold_violation[k] += per_fold.violation(values[k], values[k : k + 1])
        return violation, fold_violation

    def _warn_infeasible(self, feasible, constraints):
        if constraints and not feasible:
            warnings.warn(
                f"no decision meets the constraint(s) {constraints} in cross-validation; "
                "using the one closest to meeting them",
                UserWarning,
                stacklevel=3,
            )

    # ----------------------------------------------------------- multiclass
    def _utilities(self, response):
        if self.response_method_ == "predict_proba":
            cost = self.cost_matrix_ if self.cost_matrix_ is not None else 1.0 - np.eye(response.shape[1])
            return -(response @ cost)
        return response

    def _offset_grid(self, folds):
        if self.response_method_ == "predict_proba":
            cost = self.cost_matrix_ if self.cost_matrix_ is not None else 1.0 - np.eye(len(self.classes_))
            span = float(cost.max() - cost.min()) or 1.0
        else:
            pooled = np.vstack([f["response"] for f in folds])
            span = float(np.max(pooled.max(axis=1) - pooled.min(axis=1))) or 1.0
        if isinstance(self.thresholds, str):
            grid = np.linspace(-span, span, 41)
        elif is_int(self.thresholds):
            grid = np.linspace(-span, span, int(self.thresholds))
        else:
            grid = np.asarray(self.thresholds, dtype=float).ravel()
        return np.unique(np.concatenate([grid, [0.0]]))

    def _tune_multiclass(self, folds, constraints, scorer):
        k_classes = len(self.classes_)
        names = self.classes_.tolist()
        utilities = [self._utilities(f["response"]) for f in folds]
        weights = [np.ones(f["y"].shape[0]) if f["w"] is None else f["w"] for f in folds]
        grid = self._offset_grid(folds)
        needed = {_MULTICLASS_ALIASES.get(c.metric, c.metric) for c in constraints}
        objective = None if scorer is not None else _MULTICLASS_ALIASES.get(self.objective, self.objective)
        if objective is not None:
            needed.add(objective)

        def evaluate(candidates, fold_ids, full=False):
            """Per fold, each metric for every candidate offset vector (rows of ``candidates``)."""
            n_cand = candidates.shape[0]
            per_fold = []
            for i in fold_ids:
                pred = np.argmax(utilities[i][None, :, :] + candidates[:, None, :], axis=2)
                flat = (np.arange(n_cand)[:, None] * k_classes**2 + folds[i]["y"][None, :] * k_classes + pred).ravel()
                cm = np.bincount(flat, weights=np.tile(weights[i], n_cand), minlength=n_cand * k_classes**2)
                row = _multiclass_from_confusion(
                    cm.reshape(n_cand, k_classes, k_classes), self.cost_matrix_, names, only=None if full else needed
                )
                if scorer is None:
                    row["objective"] = row[objective]
                else:
                    row["objective"] = np.array([self._score(scorer, self.classes_[p], folds[i]) for p in pred])
                per_fold.append(row)
            return per_fold

        def keys(per_fold):
            violation = np.zeros(per_fold[0]["objective"].shape[0])
            for c in constraints:
                values = np.vstack([r[_MULTICLASS_ALIASES.get(c.metric, c.metric)] for r in per_fold])
                violation += c.violation(values.mean(axis=0), values)
            objective_values = np.mean([r["objective"] for r in per_fold], axis=0)
            return violation, np.where(np.isnan(objective_values), -np.inf, objective_values)

        def sweep(offsets, c):
            candidates = np.repeat(offsets[None, :], grid.shape[0], axis=0)
            candidates[:, c] = grid
            return candidates

        def ascend(fold_ids):
            offsets = np.zeros(k_classes)
            violation, obj = keys(evaluate(offsets[None, :], fold_ids))
            best = (-violation[0], obj[0])
            for _ in range(10):
                changed = False
                for c in range(1, k_classes):
                    candidates = sweep(offsets, c)
                    violation, obj = keys(evaluate(candidates, fold_ids))
                    g, _ = _pick(obj, violation)
                    if (-violation[g], obj[g]) > best:
                        best, offsets, changed = (-violation[g], obj[g]), candidates[g], True
                if not changed:
                    break
            return offsets, best

        all_ids = list(range(len(folds)))
        offsets, best = ascend(all_ids)
        fold_offsets = np.vstack([ascend([i])[0] for i in all_ids])
        # cv_results_: the curve of every metric along each class's offset, the others at their optimum
        results = {"class": [], "offset": []}
        blocks = []
        for c in range(1, k_classes):
            candidates = sweep(offsets, c)
            blocks.append(evaluate(candidates, all_ids, full=True))
            results["class"].extend([self.classes_[c]] * grid.shape[0])
            results["offset"].extend(grid.tolist())
        results = {"class": np.array(results["class"]), "offset": np.array(results["offset"], dtype=float)}
        metrics = ["objective", *[m for m in blocks[0][0] if m != "objective"]]
        for m in metrics:
            values = np.vstack([np.concatenate([block[k][m] for block in blocks]) for k in all_ids])
            results[f"mean_{m}"] = values.mean(axis=0)
            results[f"std_{m}"] = values.std(axis=0)
            for k in all_ids:
                results[f"split{k}_{m}"] = values[k]
        feasible = best[0] >= -1e-12
        self._warn_infeasible(feasible, constraints)
        self.cv_results_ = results
        self.best_offsets_ = offsets
        self.best_score_ = float(best[1])
        self.best_score_std_ = float(np.std([r["objective"][0] for r in evaluate(offsets[None, :], all_ids)]))
        self.constraint_satisfied_ = bool(feasible)
        self.fold_best_offsets_ = fold_offsets
        self.best_offsets_std_ = fold_offsets.std(axis=0)

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
        if len(self.classes_) == 2:
            pos = self._pos_idx
            return np.where(response[:, pos] >= self.best_threshold_, self.classes_[pos], self.classes_[1 - pos])
        return self.classes_[np.argmax(self._utilities(response) + self.best_offsets_[None, :], axis=1)]

    def __sklearn_tags__(self):
        return self._inner_tags(super().__sklearn_tags__())
