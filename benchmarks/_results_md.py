"""RESULTS.md of bench_accuracy.py, from the rows and the nested result of a run."""

from __future__ import annotations

import datetime
import os
import platform
from collections import Counter

import numpy as np
import sklearn
from _candidates import OPTIONS, RECIPE_ROWS, short_name
from _intervals import BINARY
from _options import GOAL, N_TIMED, SECTION, SENSITIVE, VARIANTS

import dermfeat

NAMES = {"roc_auc": "ROC AUC", "macro_f1": "macro-F1", "balanced_accuracy": "balanced accuracy",
         "sensitivity": "AD sensitivity", "specificity": "specificity", "weighted_f1": "weighted F1"}
HEADLINE = ("roc_auc", "macro_f1", "sensitivity", "specificity")


def write_keeping_blocks(path, text):
    """Write ``text`` to ``path``, keeping the ``<!-- name: begin -->...<!-- name: end -->`` blocks other
    benchmarks (bench_ood.py) wrote into the old file."""
    import re
    from pathlib import Path

    path = Path(path)
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    kept = [m.group(0) for m in re.finditer(r"<!-- ([\w.]+): begin -->.*?<!-- \1: end -->\n?", old, flags=re.S)]
    path.write_text(text.rstrip("\n") + "\n" + "".join("\n" + b for b in kept), encoding="utf-8")


def cell(figure):
    point, lo, hi = figure
    return "n/a" if np.isnan(point) else f"{point:.3f} ({lo:.3f}–{hi:.3f})"


def signed(figure):
    point, lo, hi = figure
    return f"{point:+.3f} ({lo:+.3f} to {hi:+.3f})"


def _minutes(seconds):
    return f"{seconds / 60:.1f} min"


def header(bench, partial):
    args = bench.args
    n, n_ad = len(bench.files), int((bench.labels == "atopic_dermatitis").sum())
    load = ", ".join(f"{a[0]:.1f}" for a in bench.load)
    sections = "; ".join(f"{k} {_minutes(v)}" for k, v in bench.section_seconds.items())
    total = bench.total_seconds if bench.total_seconds is not None else 0.0
    commands = bench.command.split("; then ")
    return [
        "# Benchmark results: atopic dermatitis vs other eczema (DermNet NZ)",
        "",
        *(["**Partial results: the run was still going when this was written.**", ""] if partial else []),
        f"Reproduce with `{commands[0]}` from the repository root (needs `../shared` beside it; the features "
        "are extracted once into the cache, so the first run takes longest).",
        "",
        *([f"This file was made by that command, then {', then '.join(f'`{c}`' for c in commands[1:])}, each of "
           "which computed only its sections again (or added new ones) and kept the rest."
           , ""] if len(commands) > 1 else []),
        f"- Data: `../shared/data/dermnetnz`, {n} photographs ({n_ad} atopic dermatitis, {n - n_ad} other eczema), "
        f"{len(np.unique(bench.groups))} near-duplicate groups (found in {bench.group_seconds:.0f} s).",
        f"- Protocol: repeated stratified group 5-fold over the near-duplicate groups, {args.repeats} repeats "
        f"({5 * args.repeats} test folds). Every pipeline is what `make_classifier` / `dermfeat fit` / `dermfeat cv` "
        "build: its decision threshold is tuned inside each training fold by a shuffled (seeded), stratified "
        "inner 5-fold cross-validation that receives that fold's near-duplicate groups. Nothing is chosen on a "
        "test fold (except in the leakage section, on purpose). Embeddings with the current default resize "
        "(`OnnxEmbedder(interpolation=\"antialias\")`).",
        "- Rows vary one factor at a time around the centre (\"**best**\", the best pipeline of the first "
        "benchmark): `make_classifier(\"efficientnet+dinov2\", \"svm\", fusion=\"late\", imbalance=\"balanced\", "
        "threshold=\"macro_f1\", tta={\"efficientnet\": True, \"dinov2\": \"flip\"})`: EfficientNet-Lite0 (flip + "
        "5 crops) and DINOv2 CLS (flip) embeddings, each standardised into an RBF SVM with class weights and Platt "
        "scaling, probabilities averaged, one threshold tuned for macro-F1. A row's label names what differs.",
        "- Figures: each metric is computed on the pooled out-of-fold predictions of a repeat (one prediction per "
        "photograph) and averaged over repeats. In brackets: its **95 % interval by bootstrap over photographs, "
        f"resampling near-duplicate groups** ({args.resamples} resamples, percentile interval; the same resamples "
        "for every row, so differences between rows get paired intervals). Positive class: atopic dermatitis "
        "(AD sensitivity = AD recall, specificity = other-eczema recall). Threshold column: mean ± std of the "
        "thresholds chosen in the training folds.",
        f"- Run: {datetime.date.today().isoformat()}, {os.cpu_count()} cores shared with other jobs (1-minute load "
        f"average {load} at the start and end of {'each run' if len(bench.load) > 2 else 'the run'}), "
        f"Python {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, dermfeat {dermfeat.__version__}; total wall time {_minutes(total)}"
        + (f" ({sections})" if sections else "") + "; features from the cache after their first extraction.",
        "",
    ]


def summary(bench):
    """A few sentences from the numbers of the nested section."""
    res = bench.nested_result
    if not res or res.get("partial") or res.get("best_row") is None:
        return []
    nested, plain, base = res["nested"], res["plain_best"], res["baseline"]
    gain, optimism = res["nested_minus_baseline"], res["optimism"]
    winners = Counter(f["winner"] for f in res["folds"])

    def fig(table, m):
        return f"{table[m][0]:.3f} ({table[m][1]:.3f}–{table[m][2]:.3f})"

    beats = {m: gain[m][0] > (nested[m][2] - nested[m][1]) / 2 for m in ("roc_auc", "macro_f1")}
    verdict = ("beats the baseline by more than the half-width of its own interval on both ROC AUC and macro-F1"
               if all(beats.values()) else
               "does **not** beat the baseline by more than the half-width of its own interval on "
               + " and ".join(NAMES[m] for m, ok in beats.items() if not ok))
    return [
        "## Summary",
        "",
        f"Picking the best of the {len(res['candidates'])} candidate rows by inner cross-validation, as someone "
        f"comparing these tables would, and fitting it as users do, gives ROC AUC **{fig(nested, 'roc_auc')}** and "
        f"macro-F1 **{fig(nested, 'macro_f1')}** on photographs it never saw (nested cross-validation; AD "
        f"sensitivity {fig(nested, 'sensitivity')}, specificity {fig(nested, 'specificity')}). The best row's own "
        f"cross-validated figures on the same folds ({short_name(res['best_row'])}: ROC AUC {plain['roc_auc'][0]:.3f}, "
        f"macro-F1 {plain['macro_f1'][0]:.3f}) overstate that by {optimism['roc_auc'][0]:+.3f} and "
        f"{optimism['macro_f1'][0]:+.3f}: the optimism of choosing. The procedure {verdict}: the baseline "
        f"({res['baseline_label']}) has ROC AUC {fig(base, 'roc_auc')} and macro-F1 {fig(base, 'macro_f1')}, the "
        f"paired differences are {signed(gain['roc_auc'])} and {signed(gain['macro_f1'])}, and AD sensitivity "
        f"differs by {signed(gain['sensitivity'])}.",
        "",
        f"{len(winners)} different rows won the {len(res['folds'])} outer folds: rows of the tables below that "
        "differ by a few hundredths are within the noise of 596 photographs, and none of them is \"the\" best "
        "pipeline.",
        "",
    ]


def nested_section(bench):
    res = bench.nested_result
    if not res:
        return []
    return render_nested(res, "the {n} candidate rows of the feature, head, imbalance and decision tables",
                         nested_repeats=bench.args.nested_repeats)


def render_nested(res, what, heading="## The selection procedure, measured by nested cross-validation",
                  nested_repeats=None):
    """A nested selection's tables: ``what`` names the candidates (``{n}``: their number)."""
    lines = [heading, ""]
    folds = res["folds"]
    nested_repeats = nested_repeats or (max(f["repeat"] for f in folds) + 1 if folds else 0)
    if res.get("partial"):
        lines += [f"{len(folds)} outer folds done so far.", ""]
    else:
        best = res["best_row"]
        lines += [
            f"Outer: repeated stratified group 5-fold, {nested_repeats} repeats ({len(folds)} outer folds; the "
            f"same folds as the first {nested_repeats} repeats of the tables). In each outer fold "
            f"{what.format(n=len(res['candidates']))} are compared by an inner repeated stratified group 5-fold cross-validation of the outer-training part only (pooled "
            "inner macro-F1), the winner is fitted on the outer-training part with the `fit` users run "
            "(`pipe.fit(X, y)`: the pipeline finds the near-duplicate groups of those photographs itself) and scores "
            "the outer-test part. The baseline is fitted and scored the same way in the same outer folds.",
            "",
            "| figure | " + " | ".join(NAMES[m] for m in HEADLINE) + " |",
            "|---|" + "---|" * len(HEADLINE),
            "| **pick the best candidate** (nested) | " + " | ".join(cell(res["nested"][m]) for m in HEADLINE) + " |",
        ]
        if best is not None:
            lines += [
                f"| best row of the tables ({short_name(best)}), plain CV on the same outer folds | "
                + " | ".join(cell(res["plain_best"][m]) for m in HEADLINE) + " |",
                "| optimism of choosing (plain best row − nested), paired | "
                + " | ".join(signed(res["optimism"][m]) for m in HEADLINE) + " |",
            ]
        lines += [
            f"| baseline: {res['baseline_label']} (nested = plain: nothing is chosen) | "
            + " | ".join(cell(res["baseline"][m]) for m in HEADLINE) + " |",
            "| pick the best − baseline, paired | "
            + " | ".join(signed(res["nested_minus_baseline"][m]) for m in HEADLINE) + " |",
            "",
        ]
        verdicts = []
        for m in ("roc_auc", "macro_f1"):
            point, lo, hi = res["nested"][m]
            gain = res["nested_minus_baseline"][m][0]
            half = (hi - lo) / 2
            verdicts.append(f"{NAMES[m]} {gain:+.3f} vs a half-width of {half:.3f}: "
                            + ("beats the baseline by more than it" if gain > half else "**does not** beat the baseline by more than it"))
        lines += ["Goal (the selection procedure beats the baseline by more than its interval's half-width): "
                  + "; ".join(verdicts) + ".", ""]
    lines += ["Winner of each outer fold:", "",
              "| outer fold | repeat | winner (inner macro-F1) | runner-up (inner macro-F1) | outer-test ROC AUC | "
              "outer-test macro-F1 | threshold | seconds |",
              "|---|---|---|---|---|---|---|---|"]
    for f in folds:
        threshold = "n/a" if f["threshold"] is None else f"{f['threshold']:.3f}"
        lines.append(f"| {f['fold'] + 1} | {f['repeat'] + 1} | {short_name(f['winner'])} ({f['inner_macro_f1']:.3f}) | "
                     f"{short_name(f['runner_up'])} ({f['runner_up_macro_f1']:.3f}) | {f['outer_roc_auc']:.3f} | "
                     f"{f['outer_macro_f1']:.3f} | {threshold} | {f['seconds']:.0f} |")
    counts = Counter(f["winner"] for f in folds)
    lines += ["", "Wins: " + "; ".join(f"{short_name(label)} {k}" for label, k in counts.most_common()) + ".", ""]
    return lines


def table(rows, multiclass_counts=None):
    lines = []
    if multiclass_counts is not None:
        counts = ", ".join(f"{k} {v}" for k, v in multiclass_counts.items())
        metrics = ("macro_f1", "weighted_f1", "balanced_accuracy", "roc_auc")
        lines += [f"Classes: {counts}.", "",
                  "| pipeline | macro-F1 | weighted F1 | balanced accuracy | ROC AUC (one-vs-rest) | seconds |",
                  "|---|---|---|---|---|---|"]
    else:
        metrics = BINARY
        lines += ["| pipeline | " + " | ".join(NAMES[m] for m in metrics) + " | threshold | seconds |",
                  "|---|" + "---|" * (len(metrics) + 2)]
    for r in rows:
        cells = " | ".join(cell(r["figures"][m]) for m in metrics)
        if multiclass_counts is not None:
            lines.append(f"| {r['label']} | {cells} | {r['seconds']:.0f} |")
        else:
            threshold = "n/a" if r["threshold"] is None else f"{r['threshold'][0]:.3f} ± {r['threshold'][1]:.3f}"
            lines.append(f"| {r['label']} | {cells} | {threshold} | {r['seconds']:.0f} |")
    return lines + [""]


def render(bench, partial=False):
    lines = header(bench, partial)
    lines += summary(bench) + render_options(bench) + nested_section(bench)
    for sec in dict.fromkeys(r["section"] for r in bench.rows if r["section"] not in (SECTION, VARIANTS)):
        rows = [r for r in bench.rows if r["section"] == sec]
        counts = getattr(bench, "multiclass_counts", None) if sec.startswith("Multiclass") else None
        lines += [f"## {sec}", ""]
        if sec.startswith("Backbones"):
            lines += ["Each backbone with the baseline's head and decision (logistic regression with class weights, "
                      "threshold tuned for macro-F1 in the training folds, no TTA), every model from `dermfeat.zoo` "
                      "so that an int8 model meets the very float32 graph it was quantised from. Plain grouped CV "
                      "(the folds of the other sections): nothing is chosen among these rows, each is compared with "
                      "its partner. Seconds include the first extraction of each backbone's features.", ""]
        lines += table(rows, counts)
        if sec.startswith("Backbones") and getattr(bench, "backbone_diffs", None):
            lines += ["Paired differences (the same photographs, folds and bootstrap draws; 95 % interval):", "",
                      "| backbone | against | ROC AUC difference | macro-F1 difference |", "|---|---|---|---|"]
            lines += [f"| {label} | {partner} | {signed(d['roc_auc'])} | {signed(d['macro_f1'])} |"
                      for label, partner, d in bench.backbone_diffs]
            lines.append("")
    if getattr(bench, "subgroup_tables", None):
        lines += ["## Best pipeline by skin tone and image quality", "",
                  "Out-of-fold predictions of the best pipeline pooled over repeats; n = photographs in the group, "
                  "n AD = atopic dermatitis among them. Small groups give noisy numbers (no intervals here).", ""]
        for name, rows in bench.subgroup_tables.items():
            lines += [f"### {name.replace('_', ' ')}", "",
                      "| group | n | n AD | ROC AUC | macro-F1 | AD sensitivity | specificity |",
                      "|---|---|---|---|---|---|---|"]
            for r in rows:
                vals = [r.get(m, np.nan) for m in ("roc_auc", "macro_f1", "sensitivity", "specificity")]
                cells = " | ".join("n/a" if np.isnan(v) else f"{v:.3f}" for v in vals)
                lines.append(f"| {r['group']} | {r['n']} | {r.get('n_positive', '')} | {cells} |")
            lines.append("")
    return "\n".join(lines) + "\n"


def render_options(bench):
    """The "Better features" section: the table of options, paired changes, decision rules, the nested choices."""
    rows = [r for r in bench.rows if r["section"] == SECTION]
    if not rows:
        return []
    seconds = getattr(bench, "option_seconds", {}) or {}
    base = seconds.get(OPTIONS[0][0])
    metrics = ("roc_auc", "macro_f1", "sensitivity", "specificity")
    lines = [
        f"## {SECTION}", "",
        "Each option with the baseline's head and decision (standardised features, logistic regression C=0.1 with "
        "class weights, threshold tuned for macro-F1 inside each training fold) unless its label says otherwise; "
        "\"whole photograph\" is `view=\"whole\"` (the photograph squashed to the model's input instead of the "
        "card's centre crop), \"subtype head\" is `make_classifier(subtypes=True)` (the head learns the manifest's "
        "subtypes and decides from their summed probabilities). Plain grouped CV on the folds of the other "
        "sections: for a fixed pipeline this is an honest estimate (nothing is chosen on a test fold); choosing the "
        "best row of this table is not, and is measured by the nested selection below. Time: feature extraction "
        f"of {N_TIMED} photographs of the set, uncached, in the benchmark's process (2 cores, load as in the "
        "header), per 1,000 photographs; the head's fit and prediction take well under a second.", "",
        "| option | " + " | ".join(NAMES[m] for m in metrics) + " | threshold | s per 1,000 photographs | × baseline |",
        "|---|" + "---|" * (len(metrics) + 3),
    ]
    for r in rows:
        s = seconds.get(r["label"])
        threshold = "n/a" if r["threshold"] is None else f"{r['threshold'][0]:.3f} ± {r['threshold'][1]:.3f}"
        lines.append(f"| {r['label']} | " + " | ".join(cell(r["figures"][m]) for m in metrics) + f" | {threshold} | "
                     + ("n/a" if s is None else f"{s:.0f}") + " | "
                     + ("n/a" if s is None or not base else f"{s / base:.1f}") + " |")
    lines.append("")
    diffs = getattr(bench, "option_diffs", None)
    if diffs:
        lines += ["**What each change does**, paired (the same photographs, folds and bootstrap draws; 95 % "
                  "interval). A change is kept where its interval lies above zero:", "",
                  "| option | compared with | ROC AUC difference | macro-F1 difference | AD sensitivity difference |",
                  "|---|---|---|---|---|"]
        lines += [f"| {ours} | {theirs} | {signed(d['roc_auc'])} | {signed(d['macro_f1'])} | {signed(d['sensitivity'])} |"
                  for ours, theirs, d in diffs]
        lines.append("")
        # one change each (the recipe's own rows compare it with the baseline and the previous best)
        changes = [(ours, theirs, d) for ours, theirs, d in diffs if ours not in RECIPE_ROWS.values()]
        helps = [f"{ours} (against {theirs})" for ours, theirs, d in changes if d["roc_auc"][1] > 0]
        not_clear = [f"{ours} (against {theirs})" for ours, theirs, d in changes if d["roc_auc"][1] <= 0]
        lines += ["Single changes clearly better in ROC AUC (interval above zero): " + ("; ".join(helps) or "none")
                  + ". Not clearly better, so kept out of the defaults and of the recipe: "
                  + ("; ".join(not_clear) or "none") + ". "
                  "No default changed: `OnnxEmbedder(view=\"crop\", pooling=None)` and `make_classifier(subtypes=False)` "
                  "remain the defaults; the whole view and the subtype heads are used where they helped, through the "
                  "named recipe.", ""]
    rules = [r for r in bench.rows if r["section"] == VARIANTS]
    if rules:
        lines += [
            f"**{VARIANTS}** (`make_classifier(recipe=\"subtype-ensemble\", ...)`, the last row above; measured after "
            "the nested selection below, so not part of what it chose; every threshold chosen inside the training "
            "folds, the constraint met on the inner cross-validation's out-of-fold predictions):", "",
            "| decision rule | " + " | ".join(NAMES[m] for m in metrics) + " | threshold |",
            "|---|" + "---|" * (len(metrics) + 1),
        ]
        for r in rules:
            threshold = "n/a" if r["threshold"] is None else f"{r['threshold'][0]:.3f} ± {r['threshold'][1]:.3f}"
            lines.append(f"| {r['label']} | " + " | ".join(cell(r["figures"][m]) for m in metrics) + f" | {threshold} |")
        lines.append("")
    res = getattr(bench, "options_result", None)
    sensitive = getattr(bench, "options_sensitive_result", None)
    for result, heading, what in [
        (res, "### Choosing among the options, measured by nested cross-validation",
         "the {n} options of the table above"),
        (sensitive, "### The same choice when AD sensitivity >= 0.70 is required",
         "the {n} options of the table above, each with its threshold tuned for the best macro-F1 whose AD "
         "sensitivity is at least 0.70 on the inner cross-validation of the training part (`constraint=\""
         + SENSITIVE + "\"`; the baseline too),"),
    ]:
        if not result:
            continue
        lines += render_nested(result, what, heading=heading)
        if not result.get("partial"):
            reached = {m: result["nested"][m][0] >= goal for m, goal in GOAL.items()}
            lines += ["Goal for the chosen procedure, nested: " + "; ".join(
                f"{NAMES[m]} {result['nested'][m][0]:.3f} against ≥ {GOAL[m]:.2f}: "
                + ("reached" if reached[m] else "**not reached**") for m in GOAL) + ".", ""]
    return lines
