"""The contract of a decision rule tuned by cross-validation (private).

:class:`~dermfeat.decision.ThresholdTunedClassifier` does the work common to
every problem (validation, splitting, fitting the estimator on each split,
metadata routing, refitting) and hands the out-of-fold responses to a
:class:`DecisionRule`, which knows one kind of decision: a threshold on the
positive class (:mod:`._binary`) or per-class offsets on the expected costs
(:mod:`._multiclass`).  A rule is stateless: it returns the fitted attributes
it chose, and the tuner sets them.  ``docs/developers/decision_rules.rst``
shows how to add one.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin


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


class DecisionRule:
    """One kind of tuned decision: its metrics, its default, its tuning and how it predicts.

    ``owner`` is the fitted :class:`~dermfeat.decision.ThresholdTunedClassifier`
    (its parameters and ``classes_``, ``cost_matrix_``, ``response_method_``).
    Each fold handed to :meth:`tune` is a dict with ``"response"`` (the
    held-out responses, one column per class of ``owner.classes_``), ``"y"``
    (class indices), ``"labels"``, ``"w"`` (sample weights or ``None``) and
    ``"score_params"`` (metadata for a scorer objective).
    """

    #: Name of the problem in messages ("binary", "multiclass").
    kind = ""

    def metric_names(self, owner):
        """Names of the built-in metrics of this rule, as listed in error messages."""
        raise NotImplementedError

    def knows_metric(self, owner, name):
        """Whether ``name`` is a built-in metric of this rule (or an alias of one)."""
        raise NotImplementedError

    def cost_needs_probabilities(self, owner):
        """Whether a cost matrix requires ``predict_proba`` responses."""
        return True

    def default(self, owner):
        """The fitted attributes of the untuned decision (``tune=False``), as a dict."""
        raise NotImplementedError

    def tune(self, owner, folds, constraints, scorer):
        """The fitted attributes of the decision chosen on ``folds``, as a dict."""
        raise NotImplementedError

    def decide(self, owner, response):
        """Predicted labels from responses aligned with ``owner.classes_``."""
        raise NotImplementedError

    def check_metric_names(self, owner, constraints, scorer):
        """Refuse an objective or constraint metric this rule does not know."""
        names = [c.metric for c in constraints]
        if scorer is None:
            names.append(owner.objective)
        for name in names:
            if not self.knows_metric(owner, name):
                raise ValueError(f"unknown {self.kind} metric {name!r}; valid: {', '.join(self.metric_names(owner))}")

    @staticmethod
    def score(owner, scorer, y_pred, fold):
        """The objective ``scorer`` of predictions ``y_pred`` on one held-out ``fold``."""
        stand_in = _FixedPredictions(classes=owner.classes_, y_pred=y_pred)
        try:
            return float(scorer(stand_in, np.zeros((len(y_pred), 1)), fold["labels"], **fold["score_params"]))
        except AttributeError as exc:
            raise ValueError(
                f"objective {owner.objective!r} needs probabilities or decision values; a tuned decision only changes "
                "predict, so use a scorer based on predict (or a built-in metric name)"
            ) from exc
