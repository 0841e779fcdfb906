"""The multiclass decision rule: the class of best utility plus per-class offsets (private).

The decision is ``argmax_j (-(P @ cost_matrix)[j] + offset[j])``: the class of
minimum expected cost (the most probable class for the default 0-1 cost),
shifted by per-class offsets tuned by coordinate ascent on the out-of-fold
responses for the objective (the offset of the first class stays 0).  On
decision values instead of probabilities, the values take the place of the
negative expected costs.
"""

from __future__ import annotations

import numpy as np

from ..metrics._threshold import _multiclass_from_confusion
from ._constraint import pick, warn_infeasible
from ._meta import is_int
from ._rule import DecisionRule

#: Built-in multiclass metrics (besides ``recall_<class>``, ``precision_<class>``, ``f1_<class>``).
MULTICLASS_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "weighted_f1", "neg_mean_cost")
#: Other spellings of multiclass metrics.
MULTICLASS_ALIASES = {"f1_macro": "macro_f1", "f1_weighted": "weighted_f1"}


def _utilities(owner, response):
    """Negative expected costs (probabilities) or the decision values themselves."""
    if owner.response_method_ == "predict_proba":
        cost = owner.cost_matrix_ if owner.cost_matrix_ is not None else 1.0 - np.eye(response.shape[1])
        return -(response @ cost)
    return response


def _offset_grid(owner, folds):
    """Candidate offsets of one class (always including 0)."""
    if owner.response_method_ == "predict_proba":
        cost = owner.cost_matrix_ if owner.cost_matrix_ is not None else 1.0 - np.eye(len(owner.classes_))
        span = float(cost.max() - cost.min()) or 1.0
    else:
        pooled = np.vstack([f["response"] for f in folds])
        span = float(np.max(pooled.max(axis=1) - pooled.min(axis=1))) or 1.0
    if isinstance(owner.thresholds, str):
        grid = np.linspace(-span, span, 41)
    elif is_int(owner.thresholds):
        grid = np.linspace(-span, span, int(owner.thresholds))
    else:
        grid = np.asarray(owner.thresholds, dtype=float).ravel()
    return np.unique(np.concatenate([grid, [0.0]]))


class MulticlassOffsets(DecisionRule):
    """Per-class offsets added to the utilities (negative expected costs) before the arg-max."""

    kind = "multiclass"

    def metric_names(self, owner):
        return sorted(MULTICLASS_METRICS) + ["recall_<class>", "precision_<class>", "f1_<class>"]

    def knows_metric(self, owner, name):
        per_class = {f"{m}_{c}" for m in ("recall", "precision", "f1") for c in owner.classes_.tolist()}
        return name in MULTICLASS_METRICS or name in per_class or name in MULTICLASS_ALIASES

    def default(self, owner):
        return {"best_offsets_": np.zeros(owner.classes_.shape[0])}

    def tune(self, owner, folds, constraints, scorer):
        k_classes = len(owner.classes_)
        names = owner.classes_.tolist()
        utilities = [_utilities(owner, f["response"]) for f in folds]
        weights = [np.ones(f["y"].shape[0]) if f["w"] is None else f["w"] for f in folds]
        grid = _offset_grid(owner, folds)
        needed = {MULTICLASS_ALIASES.get(c.metric, c.metric) for c in constraints}
        objective = None if scorer is not None else MULTICLASS_ALIASES.get(owner.objective, owner.objective)
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
                    cm.reshape(n_cand, k_classes, k_classes), owner.cost_matrix_, names, only=None if full else needed
                )
                if scorer is None:
                    row["objective"] = row[objective]
                else:
                    row["objective"] = np.array([self.score(owner, scorer, owner.classes_[p], folds[i]) for p in pred])
                per_fold.append(row)
            return per_fold

        def keys(per_fold):
            violation = np.zeros(per_fold[0]["objective"].shape[0])
            for c in constraints:
                values = np.vstack([r[MULTICLASS_ALIASES.get(c.metric, c.metric)] for r in per_fold])
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
                    g, _ = pick(obj, violation)
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
            results["class"].extend([owner.classes_[c]] * grid.shape[0])
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
        warn_infeasible(feasible, constraints)
        return {
            "cv_results_": results,
            "best_offsets_": offsets,
            "best_score_": float(best[1]),
            "best_score_std_": float(np.std([r["objective"][0] for r in evaluate(offsets[None, :], all_ids)])),
            "constraint_satisfied_": bool(feasible),
            "fold_best_offsets_": fold_offsets,
            "best_offsets_std_": fold_offsets.std(axis=0),
        }


    def decide(self, owner, response):
        return owner.classes_[np.argmax(_utilities(owner, response) + owner.best_offsets_[None, :], axis=1)]
