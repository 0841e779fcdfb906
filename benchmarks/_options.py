"""The "Better features" section of bench_accuracy.py: each option for new photographs, and choosing among them.

1. Every option of ``_candidates.OPTIONS`` (the baseline, the previous best and each new option) is scored by
   the plain grouped cross-validation of the other sections (same folds, its threshold tuned inside each
   training fold): for one fixed pipeline that is already an honest estimate, as nothing is chosen on a test
   fold.
2. Its feature extraction is timed on the same photographs, uncached, in this process, beside the
   baseline's: seconds per 1,000 photographs and the ratio to the baseline.
3. Choosing the best option by looking at those figures is itself a procedure, and the best of many rows is
   optimistic: the nested selection (``_nested.nested_selection``) measures "pick the best option by inner
   cross-validation of the training part, fit it as users do" on outer folds it never saw.
"""

from __future__ import annotations

import time

import numpy as np
from _candidates import BASELINE, OPTIONS
from _nested import _fit_params

SECTION = "Better features for new photographs"
#: photographs timed per feature set (the same ones for every set)
N_TIMED = 48


def usable_options(bench):
    """The options this version of dermfeat can build (a missing feature name or option is reported)."""
    rows = []
    for label, changes in OPTIONS:
        if bench.args.only and not any(o in label for o in bench.args.only.split("|")):
            continue
        try:
            bench.pipeline(**changes)
        except (TypeError, ValueError, FileNotFoundError) as exc:
            print(f"[{SECTION}] skipped {label}: {exc}", flush=True)
            continue
        rows.append((SECTION, label, changes))
    return rows


def _feature_parts(changes):
    """(feature set, view, tta) of each extractor an option runs."""
    tta, view = changes.get("tta", False), changes.get("view", "crop")
    parts = [p.strip() for p in changes["features"].split("+")]
    return [(p, view.get(p, "crop") if isinstance(view, dict) else view,
             tta.get(p, False) if isinstance(tta, dict) else tta) for p in parts]


def extraction_seconds(bench, changes, timed):
    """Seconds per 1,000 photographs of an option's extractors (each timed once, uncached, on N_TIMED files)."""
    from bench_accuracy import MODELS

    from dermfeat.pipeline import make_features

    files = [bench.files[i] for i in np.random.default_rng(0).permutation(len(bench.files))[:N_TIMED]]
    total = 0.0
    for part in _feature_parts(changes):
        if part not in timed:
            name, view, tta = part
            extractor = make_features(name, model_dir=MODELS, view=view, tta=tta).fit(files[:1])
            extractor.transform(files[:2])  # the session is loaded once per process, as in a server
            start = time.perf_counter()
            extractor.transform(files)
            timed[part] = (time.perf_counter() - start) / len(files) * 1000
        total += timed[part]
    return total


def options(bench):
    """Plain CV and time of every option, then the nested selection among them."""
    from _nested import nested_selection

    rows = usable_options(bench)
    timed = {}
    # every extractor timed first, back to back, before the cross-validations load the machine
    bench.option_seconds = {label: extraction_seconds(bench, changes, timed) for _, label, changes in rows}
    print(f"[{SECTION}] s per 1,000 photographs: "
          + "; ".join(f"{label} {s:.0f}" for label, s in bench.option_seconds.items()), flush=True)
    for section, label, changes in rows:
        fit_params = _fit_params(bench, changes, np.arange(len(bench.files)))
        bench.run(section, label, bench.pipeline(**changes), fit_params=fit_params or None)
    bench.options_result = nested_selection(bench, rows, BASELINE, "atopic_dermatitis", slot="options_result")
    bench.write(bench.args.output, partial=True)


GOAL = {"roc_auc": 0.86, "macro_f1": 0.76, "sensitivity": 0.70}
#: The decision rule of the second nested selection: every option's threshold tuned for macro-F1 subject to
#: this AD sensitivity on the inner cross-validation of each training fold.
SENSITIVE = "sensitivity>=0.7"


def options_sensitive(bench):
    """The nested selection again, every option (and the baseline) with AD sensitivity >= 0.70 required."""
    from _nested import nested_selection

    rows = [(f"{SECTION} (sensitive)", label, {**changes, "constraint": SENSITIVE})
            for _, label, changes in usable_options(bench)]
    baseline = (f"{BASELINE[0]}, AD sensitivity >= 0.70", {**BASELINE[1], "constraint": SENSITIVE})
    bench.options_sensitive_result = nested_selection(bench, rows, baseline, "atopic_dermatitis",
                                                      slot="options_sensitive_result")
    bench.write(bench.args.output, partial=True)

#: (option, the option it is compared with): what one change does, paired on the same photographs and folds.
PAIRS = [
    ("EfficientNet-Lite0, whole photograph", "baseline: EfficientNet-Lite0, centre crop"),
    ("EfficientNet-Lite2, whole photograph", "EfficientNet-Lite2, centre crop"),
    ("DINOv2 CLS, whole photograph", "DINOv2 CLS, centre crop"),
    ("DINOv2 GeM of patch tokens, centre crop", "DINOv2 CLS, centre crop"),
    ("DINOv2 patch tokens pooled in the lesion, centre crop", "DINOv2 CLS, centre crop"),
    ("DINOv2 CLS at 336 px, centre crop", "DINOv2 CLS, centre crop"),
    ("EfficientNet-Lite2, centre crop, subtype head", "EfficientNet-Lite2, centre crop"),
    ("EfficientNet-Lite0, whole photograph, subtype head", "EfficientNet-Lite0, whole photograph"),
    ("Lite0 (whole) + Lite2 + DINOv2 CLS, late fusion, subtype head",
     "previous best: Lite0 (TTA) + DINOv2 CLS (flip), late fusion, SVM"),
    ("Lite0 (whole) + Lite2 + DINOv2 CLS, late fusion, subtype head", "baseline: EfficientNet-Lite0, centre crop"),
]


def option_pairs(bench):
    """Paired differences of :data:`PAIRS` (rows computed again where this run has no bootstrap values of them)."""
    options = dict(OPTIONS)
    bench.option_diffs = []
    for ours, theirs in PAIRS:
        for label in (ours, theirs):
            if (SECTION, label) not in bench.samples:
                fit_params = _fit_params(bench, options[label], np.arange(len(bench.files)))
                bench.run(SECTION, label, bench.pipeline(**options[label]), fit_params=fit_params or None)
        a, b = bench.samples[(SECTION, ours)], bench.samples[(SECTION, theirs)]
        rows = {r["label"]: r for r in bench.rows if r["section"] == SECTION}
        diffs = {m: (rows[ours]["figures"][m][0] - rows[theirs]["figures"][m][0], *bench.boot.interval(a[m] - b[m]))
                 for m in ("roc_auc", "macro_f1", "sensitivity")}
        bench.option_diffs.append((ours, theirs, diffs))
        print(f"  {ours} - {theirs}: ROC AUC {diffs['roc_auc'][0]:+.3f} "
              f"({diffs['roc_auc'][1]:+.3f} to {diffs['roc_auc'][2]:+.3f})", flush=True)
    bench.write(bench.args.output, partial=True)


VARIANTS = "Decision rules for the recipe"
#: (label, changes to the recipe's row): the recipe with another threshold rule, chosen inside the training folds.
RULES = [
    ("threshold tuned for macro-F1 (the recipe)", {}),
    ("best macro-F1 with AD sensitivity >= 0.70", {"constraint": "sensitivity>=0.7"}),
    ("best macro-F1 with AD sensitivity >= 0.75", {"constraint": "sensitivity>=0.75"}),
    ("best specificity with AD sensitivity >= 0.80", {"threshold": "specificity", "constraint": "sensitivity>=0.8"}),
]


def recipe_rules(bench):
    """The named recipe's row under other decision rules (measured after the nested run: not part of its choice)."""
    from _candidates import RECIPE_ROWS

    label = RECIPE_ROWS["subtype-ensemble"]
    row = dict(OPTIONS)[label]
    for rule, changes in RULES:
        fit_params = _fit_params(bench, row, np.arange(len(bench.files)))
        bench.run(VARIANTS, rule, bench.pipeline(**{**row, **changes}), fit_params=fit_params or None)


def render_options(bench, render_nested):
    """The section's Markdown: the table of options, then the nested selection (``render_nested``)."""
    rows = [r for r in bench.rows if r["section"] == SECTION]
    if not rows:
        return []
    seconds = getattr(bench, "option_seconds", {}) or {}
    base = seconds.get(OPTIONS[0][0])
    metrics = ("roc_auc", "macro_f1", "sensitivity", "specificity")
    from _results_md import NAMES, cell

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
        from _results_md import signed

        lines += ["**What each change does**, paired (the same photographs, folds and bootstrap draws; 95 % "
                  "interval). A change is kept where its interval lies above zero:", "",
                  "| option | compared with | ROC AUC difference | macro-F1 difference | AD sensitivity difference |",
                  "|---|---|---|---|---|"]
        lines += [f"| {ours} | {theirs} | {signed(d['roc_auc'])} | {signed(d['macro_f1'])} | {signed(d['sensitivity'])} |"
                  for ours, theirs, d in diffs]
        lines.append("")
        from _candidates import RECIPE_ROWS

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
