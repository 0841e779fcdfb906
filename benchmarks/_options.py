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

from pathlib import Path

import numpy as np
from _candidates import BASELINE, OPTIONS
from _nested import subtype_fit_params

#: The backbones beside the project (the same folder bench_accuracy.py uses)
MODELS = Path(__file__).resolve().parents[1].parent / "shared" / "models"

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
        fit_params = subtype_fit_params(bench, changes, np.arange(len(bench.files)))
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
                fit_params = subtype_fit_params(bench, options[label], np.arange(len(bench.files)))
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
    fit_params = subtype_fit_params(bench, row, np.arange(len(bench.files)))
    for rule, changes in RULES:
        bench.run(VARIANTS, rule, bench.pipeline(**{**row, **changes}), fit_params=fit_params or None)
