"""Real-data benchmark: atopic dermatitis vs other eczema on DermNet NZ photographs.

Uses the photographs in ../shared/data/dermnetnz and the ONNX backbones in
../shared/models (neither is copied into the repository).

    python benchmarks/bench_accuracy.py --repeats 5 --n-jobs 2 --output benchmarks/RESULTS.md

Protocol: repeated stratified group 5-fold cross-validation (5 repeats by default)
with near-duplicate groups (dermfeat.model_selection.near_duplicate_groups); every
threshold is tuned by an inner grouped cross-validation of the training fold and
every model is fitted on the training fold only (nested), so no test photograph
influences any choice.  Factors are varied one at a time around the best pipeline.
Features are computed once per photograph through the per-image feature cache
(``--cache``), so re-runs are fast.
"""

from __future__ import annotations

import argparse
import datetime
import re
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import sklearn
from sklearn.metrics import f1_score
from sklearn.model_selection import RepeatedStratifiedKFold

import dermfeat
from dermfeat.datasets import load_image_folder
from dermfeat.evaluation import evaluate, fold_metrics, image_subgroups
from dermfeat.model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups
from dermfeat.pipeline import make_classifier

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
POS = "atopic_dermatitis"

#: The best honest pipeline found; every section varies one factor around it.
BEST = dict(
    features="efficientnet+dinov2",
    fusion="late",
    head="svm",
    imbalance="balanced",
    threshold="macro_f1",
    tta={"efficientnet": True, "dinov2": "flip"},
)

#: Subtype groups of the multiclass benchmark.
SUBTYPES = {
    "Atopic dermatitis": "atopic dermatitis",
    "Discoid eczema": "discoid/nummular",
    "Nummular eczematous dermatitis": "discoid/nummular",
    "Hand dermatitis": "hand",
    "Lichen simplex": "lichen simplex",
    "Venous eczema": "venous",
}

METRICS = ("roc_auc", "macro_f1", "balanced_accuracy", "sensitivity", "specificity")


class GroupSubsample:
    """Keep a fraction of the training *groups* of each split (limited-data curve)."""

    def __init__(self, cv, fraction, groups, random_state=0):
        self.cv, self.fraction, self.groups, self.random_state = cv, fraction, groups, random_state
        self.n_repeats = getattr(cv, "n_repeats", 1)

    def get_n_splits(self, *args, **kwargs):
        return self.cv.get_n_splits()

    def split(self, X, y, groups=None):
        rng = np.random.RandomState(self.random_state)
        y = np.asarray(y)
        for train, test in self.cv.split(X, y, groups):
            if self.fraction >= 1:
                yield train, test
                continue
            keep = []
            for cls in np.unique(y[train]):  # stratified by class, sampled by group
                cls_groups = np.unique(self.groups[train][y[train] == cls])
                k = max(2, int(round(self.fraction * len(cls_groups))))
                keep.extend(rng.choice(cls_groups, k, replace=False))
            yield train[np.isin(self.groups[train], keep)], test


_ROW = re.compile(r"^\[(?P<section>[^\]]+)\] (?P<label>.+?): (?P<metrics>roc_auc .+?)(?: \((?P<seconds>\d+) s\))?$")


def rows_from_log(path):
    """Rows printed by an earlier run (its stdout), to continue it without recomputing them."""
    rows = []
    for line in Path(path).read_text().splitlines():
        match = _ROW.match(line.strip())
        if not match:
            continue
        row = {"section": match["section"], "label": match["label"], "seconds": float(match["seconds"] or 0),
               "n_folds": None, "threshold": (np.nan, np.nan), "weighted_f1": (np.nan, np.nan),
               "accuracy": (np.nan, np.nan)}
        for part in match["metrics"].split(", "):
            name, value = part.split(" ", 1)
            mean, std = (np.nan, np.nan) if value == "n/a" else tuple(float(v) for v in value.split(" ± "))
            row[name] = (mean, std)
        rows.append(row)
    return rows


def fmt(mean, std):
    return "n/a" if np.isnan(mean) else f"{mean:.3f} ± {std:.3f}"


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.data = load_image_folder(DATA)
        self.files = self.data.filenames
        self.labels = self.data.labels
        t = time.perf_counter()
        self.groups = near_duplicate_groups(self.files, n_jobs=args.n_jobs)
        self.group_seconds = time.perf_counter() - t
        self.cv = RepeatedStratifiedGroupKFold(5, args.repeats, random_state=0)
        self.reports = {}
        self.started = time.perf_counter()
        self.command = ""

    def pipeline(self, **changes):
        params = {**BEST, **changes}
        return make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=POS, **params)

    def run(self, section, label, estimator, *, cv=None, groups="default", y=None, pos_label=POS, key=None):
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            report = evaluate(
                estimator, self.files, self.labels if y is None else y,
                groups=self.groups if isinstance(groups, str) else groups,
                cv=cv or self.cv, pos_label=pos_label, subgroups=None, n_jobs=self.args.n_jobs,
            )
        seconds = time.perf_counter() - start
        s = report.summary()
        thresholds = report.thresholds()
        row = {"section": section, "label": label, "seconds": seconds, "n_folds": len(report.folds)}
        for m in METRICS + ("weighted_f1", "accuracy"):
            row[m] = s.get(m, (np.nan, np.nan))
        row["threshold"] = (thresholds.mean(), thresholds.std()) if len(thresholds) else (np.nan, np.nan)
        # a re-run (e.g. continuing an interrupted run) replaces the row of the same name
        self.rows = [r for r in self.rows if (r["section"], r["label"]) != (section, label)]
        self.rows.append(row)
        print(f"[{section}] {label}: " + ", ".join(f"{m} {fmt(*row[m])}" for m in METRICS)
              + f" ({seconds:.0f} s)", flush=True)
        self.write(self.args.output, time.perf_counter() - self.started, self.command, partial=True)
        if key:
            self.reports[key] = report
        return report

    # ------------------------------------------------------------- sections
    def features(self):
        sec = "Feature sets"
        self.run(sec, "handcrafted bank (217 features)", self.pipeline(features="handcrafted", tta=False))
        self.run(sec, "EfficientNet-Lite0 embedding", self.pipeline(features="efficientnet", tta=False))
        self.run(sec, "DINOv2 CLS token", self.pipeline(features="dinov2", tta=False))
        self.run(sec, "DINOv2 patch mean", self.pipeline(features="dinov2_patch", tta=False))
        self.run(sec, "EfficientNet + DINOv2 CLS, early fusion (concatenated)",
                 self.pipeline(fusion="early", tta=False))
        self.run(sec, "EfficientNet + DINOv2 CLS, late fusion", self.pipeline(tta=False))
        self.run(sec, "EfficientNet + DINOv2 CLS + patch mean, late fusion",
                 self.pipeline(features="efficientnet+dinov2+dinov2_patch",
                               tta={"efficientnet": True, "dinov2": "flip", "dinov2_patch": "flip"}))
        self.run(sec, "EfficientNet + DINOv2 CLS + handcrafted, late fusion, TTA",
                 self.pipeline(features="efficientnet+dinov2+handcrafted"))
        self.run(sec, "**best**: EfficientNet + DINOv2 CLS, late fusion, TTA", self.pipeline(), key="best")
        self.run(sec, "best + lesion crop", self.pipeline(lesion_crop=True))
        self.run(sec, "best + colour constancy (shades of grey)", self.pipeline(color_constancy=True))

    def heads(self):
        sec = "Heads (best features)"
        self.run(sec, "logistic regression (C=0.1)", self.pipeline(head="logistic"))
        self.run(sec, "MLP, one hidden layer of 128, early stopping (oversampled)",
                 self.pipeline(head="mlp", imbalance="oversample"))
        if not self.args.skip_gb:
            self.run(sec, "gradient boosting (histogram)", self.pipeline(head="gb"))

    def imbalance(self):
        sec = "Imbalance (best pipeline)"
        self.run(sec, "none", self.pipeline(imbalance="none"))
        self.run(sec, "random over-sampling", self.pipeline(imbalance="oversample"))
        self.run(sec, "SMOTE (on features)", self.pipeline(imbalance="smote"))

    def decisions(self):
        sec = "Decision (best pipeline)"
        self.run(sec, "threshold 0.5", self.pipeline(threshold="fixed"), key="fixed")
        self.run(sec, "best specificity with AD sensitivity >= 0.8",
                 self.pipeline(threshold="specificity", constraint="sensitivity>=0.8"))

    def leakage(self):
        sec = "Leakage"
        cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=self.args.repeats, random_state=0)
        self.run(sec, "best pipeline, plain stratified K-fold (near-duplicates split across folds)",
                 self.pipeline(), cv=cv, groups=None)
        # threshold picked on each test fold itself (the published mistake)
        fixed = self.reports["fixed"]
        classes = list(fixed.classes)
        y = np.asarray(self.labels)
        per_fold = []
        grid = np.linspace(0.01, 0.99, 99)
        for fold in fixed.fold_predictions:
            p = fold["proba"][:, classes.index(POS)]
            yt = y[fold["test"]]
            best = max(grid, key=lambda t: f1_score(yt, np.where(p >= t, POS, "eczema"), average="macro"))
            pred = np.where(p >= best, POS, "eczema")
            per_fold.append(fold_metrics(yt, pred, fold["proba"], fixed.classes, POS))
        row = {"section": sec, "label": "best pipeline, threshold chosen on each test fold for macro-F1",
               "seconds": 0.0, "n_folds": len(per_fold), "threshold": (np.nan, np.nan)}
        for m in METRICS + ("weighted_f1", "accuracy"):
            vals = np.array([f[m] for f in per_fold])
            row[m] = (vals.mean(), vals.std())
        self.rows.append(row)
        print(f"[{sec}] {row['label']}: " + ", ".join(f"{m} {fmt(*row[m])}" for m in METRICS), flush=True)

    def limited_data(self):
        sec = "Limited data (share of each training fold's groups)"
        for fraction in (0.2, 0.4, 0.6, 0.8):
            cv = GroupSubsample(self.cv, fraction, self.groups, random_state=1)
            self.run(sec, f"{int(fraction * 100)}%", self.pipeline(), cv=cv)
        best = next(r for r in self.rows if r.get("label", "").startswith("**best**"))
        self.rows.append({**best, "section": sec, "label": "100%", "seconds": 0.0})

    def multiclass(self):
        sec = "Multiclass by subtype"
        y = np.array([SUBTYPES.get(s, "other eczema") for s in self.data.subtype], dtype=object)
        self.multiclass_counts = {c: int((y == c).sum()) for c in sorted(set(y))}
        pipe = make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=None,
                               **{**BEST, "threshold": "macro_f1"})
        self.run(sec, "best features, per-class offsets tuned for macro-F1", pipe, y=y, pos_label=None)
        pipe = make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=None,
                               **{**BEST, "threshold": "fixed"})
        self.run(sec, "best features, most probable class", pipe, y=y, pos_label=None)

    def subgroups(self):
        report = self.reports["best"]
        report.subgroups = image_subgroups(self.files, n_jobs=self.args.n_jobs)
        self.subgroup_tables = {name: report.subgroup_table(name) for name in report.subgroups}

    # ---------------------------------------------------------------- output
    def write(self, path, total_seconds, command, partial=False):
        lines = [
            "# Benchmark results: atopic dermatitis vs other eczema (DermNet NZ)",
            "",
            *(["**Partial results: the run was still going when this was written.**", ""] if partial else []),
            f"Reproduce with `{command}` from the repository root (needs `../shared` beside it).",
            "",
            f"- Data: `../shared/data/dermnetnz`, {len(self.files)} photographs "
            f"({int((self.labels == POS).sum())} atopic dermatitis, {int((self.labels != POS).sum())} other eczema), "
            f"{len(np.unique(self.groups))} near-duplicate groups (found in {self.group_seconds:.0f} s).",
            f"- Protocol: repeated stratified group 5-fold, {self.args.repeats} repeats "
            f"({5 * self.args.repeats} test folds); thresholds tuned by inner grouped 5-fold CV of each "
            "training fold; nothing is chosen on a test fold (except in the leakage section, on purpose).",
            "- Metrics: mean ± std over test folds. Positive class: atopic dermatitis (sensitivity = AD recall, "
            "specificity = other-eczema recall).",
            "- Best pipeline: `make_classifier(\"efficientnet+dinov2\", \"svm\", fusion=\"late\", imbalance=\"balanced\", "
            "threshold=\"macro_f1\", tta={\"efficientnet\": True, \"dinov2\": \"flip\"})`: EfficientNet-Lite0 "
            "(flip + 5 crops) and DINOv2 CLS (flip) embeddings, each standardised into an RBF SVM with class "
            "weights and Platt scaling, probabilities averaged, one threshold tuned for macro-F1.",
            f"- Run: {datetime.date.today().isoformat()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"scikit-learn {sklearn.__version__}, dermfeat {dermfeat.__version__}; total wall time "
            f"{total_seconds / 60:.1f} min (features from the cache after the first pass).",
            "",
        ]
        sections = list(dict.fromkeys(r["section"] for r in self.rows))
        for sec in sections:
            lines += [f"## {sec}", ""]
            rows = [r for r in self.rows if r["section"] == sec]
            multiclass = sec.startswith("Multiclass")
            if multiclass:
                counts = ", ".join(f"{k} {v}" for k, v in self.multiclass_counts.items())
                lines += [f"Classes: {counts}.", "",
                          "| pipeline | macro-F1 | weighted F1 | balanced accuracy | ROC AUC (one-vs-rest) | seconds |",
                          "|---|---|---|---|---|---|"]
                for r in rows:
                    lines.append(f"| {r['label']} | {fmt(*r['macro_f1'])} | {fmt(*r['weighted_f1'])} | "
                                 f"{fmt(*r['balanced_accuracy'])} | {fmt(*r['roc_auc'])} | {r['seconds']:.0f} |")
            else:
                lines += ["| pipeline | ROC AUC | macro-F1 | balanced accuracy | AD sensitivity | specificity | threshold | seconds |",
                          "|---|---|---|---|---|---|---|---|"]
                for r in rows:
                    cells = " | ".join(fmt(*r[m]) for m in METRICS)
                    lines.append(f"| {r['label']} | {cells} | {fmt(*r['threshold'])} | {r['seconds']:.0f} |")
            lines.append("")
        if getattr(self, "subgroup_tables", None):
            lines += ["## Best pipeline by skin tone and image quality", "",
                      "Out-of-fold predictions of the best pipeline pooled over repeats; n = photographs in the group, "
                      "n AD = atopic dermatitis among them. Small groups give noisy numbers.", ""]
            for name, table in self.subgroup_tables.items():
                lines += [f"### {name.replace('_', ' ')}", "",
                          "| group | n | n AD | ROC AUC | macro-F1 | AD sensitivity | specificity |",
                          "|---|---|---|---|---|---|---|"]
                for r in table:
                    vals = [r.get(m, np.nan) for m in ("roc_auc", "macro_f1", "sensitivity", "specificity")]
                    cells = " | ".join("n/a" if np.isnan(v) else f"{v:.3f}" for v in vals)
                    lines.append(f"| {r['group']} | {r['n']} | {r.get('n_positive', '')} | {cells} |")
                lines.append("")
        Path(path).write_text("\n".join(lines) + "\n")
        if not partial:
            print(f"wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "dermfeat-bench-cache"),
                        help="feature cache folder (kept between runs)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--sections", default="features,heads,imbalance,decisions,leakage,limited,multiclass,subgroups")
    parser.add_argument("--skip-gb", action="store_true",
                        help="leave out the gradient-boosting head (slow on 1,280-d embeddings: 12 fits per fold)")
    parser.add_argument("--include-log", default=None,
                        help="stdout of an interrupted run: its finished rows are kept and not recomputed")
    args = parser.parse_args()
    if not (DATA / "manifest.csv").is_file() or not (MODELS / "efficientnet_lite0.onnx").is_file():
        sys.exit("this benchmark needs ../shared/data/dermnetnz and ../shared/models beside the project")
    print("data: ../shared/data/dermnetnz; models: ../shared/models (EfficientNet-Lite0, DINOv2-small-like ViT)")
    start = time.perf_counter()
    bench = Bench(args)
    bench.command = f"python benchmarks/bench_accuracy.py --repeats {args.repeats} --n-jobs {args.n_jobs}"
    if args.sections != parser.get_default("sections"):
        bench.command += f" --sections {args.sections}"
    sections = args.sections.split(",")
    order = [("features", bench.features), ("heads", bench.heads), ("imbalance", bench.imbalance),
             ("decisions", bench.decisions), ("leakage", bench.leakage), ("limited", bench.limited_data),
             ("multiclass", bench.multiclass), ("subgroups", bench.subgroups)]
    if args.include_log:
        bench.rows.extend(rows_from_log(args.include_log))
        print(f"kept {len(bench.rows)} rows from {args.include_log}")
    if "features" not in sections:  # every other section compares with the best pipeline
        bench.run("Feature sets", "**best**: EfficientNet + DINOv2 CLS, late fusion, TTA", bench.pipeline(), key="best")
    if "leakage" in sections and "decisions" not in sections:
        bench.run("Decision (best pipeline)", "threshold 0.5", bench.pipeline(threshold="fixed"), key="fixed")
    for name, step in order:
        if name in sections:
            step()
    total = time.perf_counter() - start
    bench.write(args.output, total, bench.command)
    print(f"total: {total / 60:.1f} min")


if __name__ == "__main__":
    main()
