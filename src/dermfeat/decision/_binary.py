"""The binary decision rule: a threshold on the positive-class score (private).

A sample is predicted positive when its score is ``>= best_threshold_``.  The
threshold is the candidate with the best mean objective over the held-out
parts of the splits among those meeting the constraints; every metric of
:data:`dermfeat.metrics.BINARY_METRICS` is kept for every candidate and split
in ``cv_results_``.
"""

from __future__ import annotations

import warnings

import numpy as np

from .._exceptions import UnstableThresholdWarning
from ..metrics._threshold import BINARY_ALIASES, BINARY_METRICS, threshold_metrics
from ._constraint import pick, violations, warn_infeasible
from ._cost import bayes_threshold
from ._meta import is_int
from ._rule import DecisionRule

#: :class:`~dermfeat.decision.ThresholdTunedClassifier` warns (:class:`~dermfeat.UnstableThresholdWarning`)
#: when the per-fold optimal thresholds of a binary problem, on probabilities,
#: have a standard deviation above this value.
UNSTABLE_THRESHOLD_STD = 0.1


def binary_cost(owner):
    """The owner's cost matrix as 2x2, ordered (negative, positive)."""
    order = [1 - owner._pos_idx, owner._pos_idx]
    return owner.cost_matrix_[np.ix_(order, order)]


def _grid(thresholds, pooled):
    """Candidate thresholds: ``"auto"`` (unique scores), an int (evenly spaced) or given values."""
    if isinstance(thresholds, str):
        return np.unique(pooled)
    if is_int(thresholds):
        return np.linspace(pooled.min(), pooled.max(), int(thresholds))
    grid = np.unique(np.asarray(thresholds, dtype=float).ravel())
    if grid.size == 0:
        raise ValueError("thresholds is empty")
    return grid


class BinaryThreshold(DecisionRule):
    """A threshold on the score of ``owner.pos_label_`` (class index ``owner._pos_idx``)."""

    kind = "binary"

    def metric_names(self, owner):
        return sorted(BINARY_METRICS)

    def knows_metric(self, owner, name):
        return name in BINARY_METRICS or name in BINARY_ALIASES

    def cost_needs_probabilities(self, owner):
        # tuned thresholds work on any score; the untuned cost decision is a probability threshold
        return not owner.tune

    def default(self, owner):
        if owner.response_method_ != "predict_proba":
            return {"best_threshold_": 0.0}
        return {"best_threshold_": 0.5 if owner.cost_matrix_ is None else bayes_threshold(binary_cost(owner))}

    def tune(self, owner, folds, constraints, scorer):
        pos = owner._pos_idx
        neg_label, pos_label = owner.classes_[1 - pos], owner.classes_[pos]
        pooled = np.concatenate([f["response"][:, pos] for f in folds])
        grid = _grid(owner.thresholds, pooled)
        cost = None if owner.cost_matrix_ is None else binary_cost(owner)
        tables = []
        for f in folds:
            score = f["response"][:, pos]
            table = threshold_metrics(
                (f["y"] == pos).astype(int), score, grid, pos_label=1, sample_weight=f["w"], cost_matrix=cost
            )
            if scorer is None:
                table["objective"] = table[BINARY_ALIASES.get(owner.objective, owner.objective)]
            else:
                values = np.empty(grid.shape[0])
                for i, t in enumerate(grid):
                    y_pred = np.where(score >= t, pos_label, neg_label)
                    values[i] = self.score(owner, scorer, y_pred, f)
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
        violation, fold_violation = violations(constraints, stack, BINARY_ALIASES)
        best, feasible = pick(results["mean_objective"], violation)
        warn_infeasible(feasible, constraints)
        if constraints:
            results["feasible"] = violation <= 1e-12
        fold_best = np.array([grid[pick(stack["objective"][k], fold_violation[k])[0]] for k in range(len(folds))])
        fitted = {
            "cv_results_": results,
            "best_threshold_": float(grid[best]),
            "best_score_": float(results["mean_objective"][best]),
            "best_score_std_": float(results["std_objective"][best]),
            "constraint_satisfied_": feasible,
            "fold_best_thresholds_": fold_best,
            "best_threshold_std_": float(fold_best.std()),
        }
        if owner.response_method_ == "predict_proba":
            _warn_unstable(fitted)
        return fitted

    def decide(self, owner, response):
        pos = owner._pos_idx
        return np.where(response[:, pos] >= owner.best_threshold_, owner.classes_[pos], owner.classes_[1 - pos])


def _warn_unstable(fitted):
    std, folds = fitted["best_threshold_std_"], fitted["fold_best_thresholds_"]
    if std <= UNSTABLE_THRESHOLD_STD:
        return
    warnings.warn(
        f"the decision threshold is unstable: the best threshold of each of the {len(folds)} inner folds ranges "
        f"from {folds.min():.3f} to {folds.max():.3f} (std {std:.3f} > "
        f"{UNSTABLE_THRESHOLD_STD}), so the chosen {fitted['best_threshold_']:.3f} depends on which photographs fell "
        "in which fold. Pass groups (near-duplicates, patients), use more data or a smoother objective.",
        UnstableThresholdWarning,
        stacklevel=4,
    )
