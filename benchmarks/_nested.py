"""Nested cross-validation of the selection procedure of bench_accuracy.py.

In each outer fold (repeated stratified group 5-fold over near-duplicate groups,
the same folds as the first repeats of the other sections):

1. every candidate row is scored by an inner repeated stratified group 5-fold
   cross-validation of the outer-training part only (its groups, its images);
2. the winner is the candidate with the highest pooled inner macro-F1;
3. the winner is fitted on the outer-training part with the ``fit`` users run
   (``pipe.fit(X, y)``: the pipeline finds the near-duplicate groups itself);
4. it predicts the outer-test part.  The baseline is fitted and scored the same
   way in the same outer folds (it is chosen without looking at any data).
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from _intervals import binary_metrics, pooled_by_repeat

from dermfeat import UngroupedSelectionWarning, UnstableThresholdWarning
from dermfeat.evaluation import evaluate
from dermfeat.model_selection import RepeatedStratifiedGroupKFold

N_SPLITS = 5


def subtype_fit_params(bench, changes, index):
    """The subtype heads' fine labels (the manifest's subtypes) for the rows ``index``."""
    if not changes.get("subtypes"):
        return {}
    return {"fine_labels": np.asarray(bench.data.subtype, dtype=object)[index]}


def _fit_and_score(pipe, files, y, train, test, pos, fit_params=None):
    pipe.fit([files[i] for i in train], y[train], **(fit_params or {}))
    X_test = [files[i] for i in test]
    proba = pipe.predict_proba(X_test)[:, list(pipe.classes_).index(pos)]
    return proba, np.asarray(pipe.predict(X_test), dtype=object), pipe


def nested_selection(bench, rows, baseline_spec, pos, slot="nested_result"):
    """Run the nested procedure over the candidate ``rows``; returns everything the report needs.

    ``rows``: ``(section, label, pipeline changes)``; ``baseline_spec``: ``(label, pipeline changes)``;
    ``slot``: the attribute of ``bench`` that holds the partial result while the run goes on.
    """
    args = bench.args
    files, y, groups = bench.files, bench.labels, bench.groups
    n = len(y)
    candidates = [(label, changes) for _, label, changes in rows
                  if not (args.skip_gb and changes.get("head") == "gb")]
    outer = RepeatedStratifiedGroupKFold(N_SPLITS, args.nested_repeats, random_state=0)
    splits = list(outer.split(np.zeros(n), y, groups))
    nested = [(np.full(n, np.nan), np.empty(n, dtype=object)) for _ in range(args.nested_repeats)]
    baseline = [(np.full(n, np.nan), np.empty(n, dtype=object)) for _ in range(args.nested_repeats)]
    folds = []
    for k, (train, test) in enumerate(splits):
        start = time.perf_counter()
        repeat = k // N_SPLITS
        inner = RepeatedStratifiedGroupKFold(N_SPLITS, 1, random_state=1000 + k)
        scores = {}
        with warnings.catch_warnings():
            for category in (FutureWarning, UnstableThresholdWarning, UngroupedSelectionWarning):
                warnings.simplefilter("ignore", category=category)
            for label, changes in candidates:
                report = evaluate(bench.pipeline(**changes), [files[i] for i in train], y[train],
                                  groups=groups[train], cv=inner, subgroups=None, n_jobs=args.n_jobs,
                                  fit_params=subtype_fit_params(bench, changes, train) or None)
                (score, pred), = pooled_by_repeat(report)
                scores[label] = binary_metrics(y[train], score, pred, pos)["macro_f1"]
            ranking = sorted(scores, key=lambda label: -scores[label])
            winner = ranking[0]
            chosen = dict(candidates)[winner]
            proba, pred, model = _fit_and_score(bench.pipeline(**chosen), files, y, train, test, pos,
                                                subtype_fit_params(bench, chosen, train))
            nested[repeat][0][test], nested[repeat][1][test] = proba, pred
            b_proba, b_pred, _ = _fit_and_score(bench.pipeline(**baseline_spec[1]),
                                                files, y, train, test, pos)
            baseline[repeat][0][test], baseline[repeat][1][test] = b_proba, b_pred
        outer_metrics = binary_metrics(y[test], proba, pred, pos)
        fold = {
            "fold": k, "repeat": repeat, "winner": winner, "inner_macro_f1": scores[winner],
            "runner_up": ranking[1], "runner_up_macro_f1": scores[ranking[1]],
            "outer_roc_auc": outer_metrics["roc_auc"], "outer_macro_f1": outer_metrics["macro_f1"],
            "threshold": getattr(model.steps[-1][1], "best_threshold_", None),
            "n_groups": getattr(model, "n_groups_", None), "seconds": time.perf_counter() - start,
            "inner_scores": scores,
        }
        folds.append(fold)
        print(f"[nested] outer fold {k + 1}/{len(splits)}: winner {winner} (inner macro-F1 {scores[winner]:.3f}; "
              f"runner-up {ranking[1]} {scores[ranking[1]]:.3f}); outer test ROC AUC {fold['outer_roc_auc']:.3f}, "
              f"macro-F1 {fold['outer_macro_f1']:.3f} ({fold['seconds']:.0f} s)", flush=True)
        setattr(bench, slot, {"folds": folds, "partial": True})
        bench.write(args.output, partial=True)

    # the best row of the plain tables, chosen as a reader of those tables would, on the same outer folds
    plain = {}
    for section, label, changes in rows:
        report = bench.reports.get((section, label))
        if report is None:
            continue
        pooled = pooled_by_repeat(report, n_repeats=args.nested_repeats)
        plain[label] = (np.mean([binary_metrics(y, s, p, pos)["macro_f1"] for s, p in pooled]), pooled)
    best_label = max(plain, key=lambda label: plain[label][0]) if plain else None

    boot = bench.boot
    fn = bench.binary_fn
    result = {"folds": folds, "partial": False, "candidates": [label for label, _ in candidates],
              "baseline_label": baseline_spec[0], "best_row": best_label}
    result["nested"], nested_samples = boot.summarise(nested, fn)
    result["baseline"], baseline_samples = boot.summarise(baseline, fn)
    diff = {}
    for m in nested_samples:
        point = result["nested"][m][0] - result["baseline"][m][0]
        diff[m] = (point, *boot.interval(nested_samples[m] - baseline_samples[m]))
    result["nested_minus_baseline"] = diff
    if best_label is not None:
        result["plain_best"], plain_samples = boot.summarise(plain[best_label][1], fn)
        result["optimism"] = {
            m: (result["plain_best"][m][0] - result["nested"][m][0],
                *boot.interval(plain_samples[m] - nested_samples[m]))
            for m in nested_samples
        }
    return result
