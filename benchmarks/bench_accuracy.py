"""Real-data benchmark: atopic dermatitis vs other eczema on DermNet NZ photographs.

Uses the photographs in ../shared/data/dermnetnz and the ONNX backbones in
../shared/models (neither is copied into the repository).

    python benchmarks/bench_accuracy.py --repeats 5 --nested-repeats 2 --n-jobs 2 --skip-gb

Protocol: repeated stratified group 5-fold cross-validation (5 repeats by default)
with near-duplicate groups (dermfeat.model_selection.near_duplicate_groups); every
pipeline is an ImagePipeline whose threshold is tuned by an inner grouped,
shuffled, stratified cross-validation of the training fold (the protocol of
``dermfeat fit`` and ``dermfeat cv``), so no test photograph influences any choice.
Factors are varied one at a time around the best pipeline.

Every figure is the metric of the pooled out-of-fold predictions (one per
photograph and repeat), averaged over repeats, with a 95 % interval from a
bootstrap over near-duplicate groups (``_intervals.py``).

The ``nested`` section measures the whole selection procedure: in each outer fold
(same outer folds as the first ``--nested-repeats`` repeats of the other sections),
every candidate row is scored by an inner grouped 5-fold CV of the outer-training
part only, the winner (highest pooled inner macro-F1) is fitted on that part with
the ``fit`` users run (``pipe.fit(X, y)``, near-duplicate groups found by the
pipeline itself), and it predicts the outer-test part.

Features are computed once per photograph through the per-image feature cache
(``--cache``), so re-runs and the nested section cost head fits, not extractions.
"""

from __future__ import annotations

import argparse
import copy
import os
import pickle
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score
from sklearn.model_selection import RepeatedStratifiedKFold

from _candidates import BACKBONES, BASELINE, BEST, ROWS, SECTION_KEYS
from _intervals import BINARY, MULTICLASS, GroupBootstrap, binary_metrics, multiclass_metrics, pooled_by_repeat
from _results_md import cell
from dermfeat import UngroupedSelectionWarning, UnstableThresholdWarning
from dermfeat.datasets import load_image_folder
from dermfeat.evaluation import evaluate, image_subgroups
from dermfeat.model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups
from dermfeat.pipeline import make_classifier

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
POS = "atopic_dermatitis"

#: Subtype groups of the multiclass benchmark.
SUBTYPES = {
    "Atopic dermatitis": "atopic dermatitis",
    "Discoid eczema": "discoid/nummular",
    "Nummular eczematous dermatitis": "discoid/nummular",
    "Hand dermatitis": "hand",
    "Lichen simplex": "lichen simplex",
    "Venous eczema": "venous",
}

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


def quiet():
    """Warnings the tables already report (threshold spread) or that are on purpose (leakage rows)."""
    ctx = warnings.catch_warnings()
    ctx.__enter__()
    for category in (FutureWarning, UnstableThresholdWarning, UngroupedSelectionWarning):
        warnings.simplefilter("ignore", category=category)
    return ctx


class Bench:
    def __init__(self, args):
        self.args = args
        self.rows = []
        self.data = load_image_folder(DATA)
        if args.limit:  # a stratified subset, for trying the benchmark out
            keep = np.sort(np.concatenate([
                np.random.default_rng(0).permutation(np.flatnonzero(self.data.labels == c))[
                    : max(10, round(args.limit * np.mean(self.data.labels == c)))]
                for c in np.unique(self.data.labels)]))
            for key in ("filenames", "labels", "subtype"):
                self.data[key] = np.asarray(self.data[key])[keep]
        self.files = list(self.data.filenames)
        self.labels = np.asarray(self.data.labels)
        t = time.perf_counter()
        self.groups = near_duplicate_groups(self.files, n_jobs=args.n_jobs)
        self.group_seconds = time.perf_counter() - t
        self.cv = RepeatedStratifiedGroupKFold(5, args.repeats, random_state=0)
        self.boot = GroupBootstrap(self.labels, self.groups, n_resamples=args.resamples, random_state=0)
        self.reports = {}
        self.samples = {}  # (section, label) -> the row's bootstrap values, for paired differences
        self.nested_result = None
        self.section_seconds = {}
        self.started = time.perf_counter()
        self.load = [os.getloadavg()]
        self.total_seconds = None
        self.command = ""

    def pipeline(self, **changes):
        params = {**BEST, **changes}
        return make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=POS, **params)

    def binary_fn(self, y, score, pred):
        return binary_metrics(y, score, pred, POS)

    def run(self, section, label, estimator, *, cv=None, groups="default", y=None, pos_label=POS, key=None,
            fit_params=None):
        start = time.perf_counter()
        ctx = quiet()
        try:
            report = evaluate(
                estimator, self.files, self.labels if y is None else y,
                groups=self.groups if isinstance(groups, str) else groups,
                cv=cv or self.cv, pos_label=pos_label, subgroups=None, n_jobs=self.args.n_jobs,
                fit_params=fit_params,
            )
        finally:
            ctx.__exit__(None, None, None)
        seconds = time.perf_counter() - start
        self.add_row(section, label, report, seconds, key=key)
        return report

    def add_row(self, section, label, report, seconds, key=None):
        multiclass = len(report.classes) > 2
        if multiclass:
            classes = report.classes

            def fn(y, proba, pred):
                return multiclass_metrics(y, proba, pred, classes)
        else:
            fn = self.binary_fn
        figures, self.samples[(section, label)] = self.boot.summarise(pooled_by_repeat(report), fn, y=report.y)
        thresholds = report.thresholds()
        row = {"section": section, "label": label, "seconds": seconds, "n_folds": len(report.folds),
               "figures": figures, "threshold": (thresholds.mean(), thresholds.std()) if len(thresholds) else None}
        # a re-run replaces the row of the same name
        self.rows = [r for r in self.rows if (r["section"], r["label"]) != (section, label)]
        self.rows.append(row)
        metrics = MULTICLASS if multiclass else BINARY
        print(f"[{section}] {label}: " + ", ".join(f"{m} {cell(figures[m])}" for m in metrics)
              + f" ({seconds:.0f} s)", flush=True)
        self.write(self.args.output, partial=True)
        self.reports[(section, label)] = report
        if key:
            self.reports[key] = report
        return row

    # ------------------------------------------------------------- sections
    def candidate_rows(self):
        """The rows of the feature, head, imbalance and decision tables this run computes."""
        return [(sec, label, changes) for sec, label, changes in ROWS
                if not (self.args.skip_gb and changes.get("head") == "gb")
                and (not self.args.only or any(o in label for o in self.args.only.split("|")))]

    def plain_rows(self, section):
        for sec, label, changes in self.candidate_rows():
            if sec != section:
                continue
            key = "best" if label.startswith("**best**") else ("fixed" if changes.get("threshold") == "fixed" else None)
            self.run(sec, label, self.pipeline(**changes), key=key)

    def leakage(self):
        sec = "Leakage"
        cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=self.args.repeats, random_state=0)
        # no groups anywhere: outer folds and the threshold's inner folds split near-duplicates
        pipe = make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=POS, groups=None, **BEST)
        self.run(sec, "best pipeline, no groups anywhere (near-duplicates split across outer and inner folds)",
                 pipe, cv=cv, groups=None)
        # threshold picked on each test fold itself (the published mistake)
        fixed = self.reports["fixed"]
        classes = list(fixed.classes)
        grid = np.linspace(0.01, 0.99, 99)
        folds = []
        for fold in fixed.fold_predictions:
            p = fold["proba"][:, classes.index(POS)]
            yt = self.labels[fold["test"]]
            best = max(grid, key=lambda t: f1_score(yt, np.where(p >= t, POS, "eczema"), average="macro"))
            folds.append({**fold, "pred": np.where(p >= best, POS, "eczema")})

        chosen = copy.copy(fixed)  # each fold's predictions re-thresholded on its own test part
        chosen.fold_predictions = folds
        chosen.folds = [{**f, "threshold": None} for f in fixed.folds]
        self.add_row(sec, "best pipeline, threshold chosen on each test fold for macro-F1", chosen, 0.0)

    def limited_data(self):
        sec = "Limited data (share of each training fold's groups)"
        for fraction in (0.2, 0.4, 0.6, 0.8):
            cv = GroupSubsample(self.cv, fraction, self.groups, random_state=1)
            self.run(sec, f"{int(fraction * 100)}%", self.pipeline(), cv=cv)
        self.add_row(sec, "100%", self.reports["best"], 0.0)

    def multiclass(self):
        sec = "Multiclass by subtype"
        y = np.array([SUBTYPES.get(s, "other eczema") for s in self.data.subtype], dtype=object)
        self.multiclass_counts = {c: int((y == c).sum()) for c in sorted(set(y))}
        pipe = make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=None, **{**BEST, "threshold": "macro_f1"})
        self.run(sec, "best features, per-class offsets tuned for macro-F1", pipe, y=y, pos_label=None)
        pipe = make_classifier(model_dir=MODELS, memory=self.args.cache, pos_label=None, **{**BEST, "threshold": "fixed"})
        self.run(sec, "best features, most probable class", pipe, y=y, pos_label=None)

    def subgroups(self):
        report = self.reports["best"]
        report.subgroups = image_subgroups(self.files, n_jobs=self.args.n_jobs)
        self.subgroup_tables = {name: report.subgroup_table(name) for name in report.subgroups}

    def backbones(self):
        """int8 against float32 and Lite2 against Lite0, with the baseline's head, and paired differences."""
        sec = "Backbones (baseline head and decision)"
        self.backbone_diffs = []
        for label, features, partner in BACKBONES:
            # every backbone of this section from dermfeat.zoo (built from the same weights packages as
            # ../shared/models' files), so an int8 model is compared with the very graph it was quantised from
            pipe = make_classifier(model_dir=None, memory=self.args.cache, pos_label=POS,
                                   **{**BASELINE[1], "features": features})
            self.run(sec, label, pipe)
            if partner is not None:
                point = {m: self.rows[-1]["figures"][m][0] - next(
                    r for r in self.rows if r["section"] == sec and r["label"] == partner)["figures"][m][0]
                    for m in ("roc_auc", "macro_f1")}
                ours, theirs = self.samples[(sec, label)], self.samples[(sec, partner)]
                diffs = {m: (point[m], *self.boot.interval(ours[m] - theirs[m])) for m in point}
                self.backbone_diffs.append((label, partner, diffs))
                print(f"  {label} - {partner}: ROC AUC {diffs['roc_auc'][0]:+.3f} "
                      f"({diffs['roc_auc'][1]:+.3f} to {diffs['roc_auc'][2]:+.3f})", flush=True)
        self.write(self.args.output, partial=True)

    def nested(self):
        """Nested CV of "pick the best row by inner CV, fit it as users do"."""
        from _nested import nested_selection

        self.nested_result = nested_selection(self, self.candidate_rows(), BASELINE, POS)
        self.write(self.args.output, partial=True)

    def options(self):
        """Better features for new photographs: each option's plain CV and time, and the nested choice."""
        from _options import options

        options(self)

    def options_sensitive(self):
        """The nested choice among the options again, AD sensitivity >= 0.70 required inside the training folds."""
        from _options import options_sensitive

        options_sensitive(self)

    def option_pairs(self):
        """Paired differences between options: what each change does."""
        from _options import option_pairs

        option_pairs(self)

    def recipe_rules(self):
        """The named recipe under other decision rules."""
        from _options import recipe_rules

        recipe_rules(self)

    # ---------------------------------------------------------------- output
    STATE = ("args", "rows", "nested_result", "files", "labels", "groups", "group_seconds", "section_seconds",
             "load", "total_seconds", "command", "multiclass_counts", "subgroup_tables", "backbone_diffs",
             "option_seconds", "options_result", "options_sensitive_result", "option_diffs")

    def write(self, path, partial=False):
        from _results_md import render, write_keeping_blocks

        write_keeping_blocks(path, render(self, partial=partial))
        if not partial:
            # everything RESULTS.md is made of, to render it again without re-running (--render STATE)
            state = {k: getattr(self, k, None) for k in self.STATE}
            Path(path).with_suffix(".state.pickle").write_bytes(pickle.dumps(state))
            print(f"wrote {path}")


def render_again(state_path, output):
    """RESULTS.md again from the state a finished run saved beside it."""
    from _results_md import render, write_keeping_blocks

    bench = argparse.Namespace(**pickle.loads(Path(state_path).read_bytes()))
    write_keeping_blocks(output, render(bench))
    print(f"wrote {output}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--nested-repeats", type=int, default=2,
                        help="outer repeats of the nested section (its outer folds are the first repeats of the others)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples of the intervals")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "dermfeat-bench-cache"),
                        help="feature cache folder (kept between runs)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"))
    parser.add_argument("--sections",
                        default="features,heads,imbalance,decisions,leakage,limited,multiclass,subgroups,backbones,nested,"
                        "options,recipe,sensitive,pairs")
    parser.add_argument("--skip-gb", action="store_true",
                        help="leave out the gradient-boosting head (slow on 1,280-d embeddings: 12 fits per fold)")
    parser.add_argument("--limit", type=int, default=None, help="a stratified subset of this many photographs (trials)")
    parser.add_argument("--only", default=None, help="only the rows whose label contains one of these '|'-separated texts")
    parser.add_argument("--keep", default=None, metavar="STATE",
                        help="keep the rows and nested result of an earlier run's .state.pickle and compute only "
                        "--sections (their rows replace the kept ones of the same name)")
    parser.add_argument("--render", default=None, metavar="STATE",
                        help="only write --output again from the .state.pickle a finished run left beside its output")
    args = parser.parse_args()
    if args.render:
        return render_again(args.render, args.output)
    if not (DATA / "manifest.csv").is_file() or not (MODELS / "efficientnet_lite0.onnx").is_file():
        sys.exit("this benchmark needs ../shared/data/dermnetnz and ../shared/models beside the project")
    print("data: ../shared/data/dermnetnz; models: ../shared/models (EfficientNet-Lite0, DINOv2-small-like ViT)")
    start = time.perf_counter()
    bench = Bench(args)
    bench.command = (f"python benchmarks/bench_accuracy.py --repeats {args.repeats} --nested-repeats "
                     f"{args.nested_repeats} --n-jobs {args.n_jobs}" + (" --skip-gb" if args.skip_gb else ""))
    if args.sections != parser.get_default("sections"):
        bench.command += f" --sections {args.sections}"
    if args.limit or args.only:
        bench.command += (f" --limit {args.limit}" if args.limit else "") + (f" --only '{args.only}'" if args.only else "")
    sections = args.sections.split(",")
    if args.keep:
        kept = pickle.loads(Path(args.keep).read_bytes())
        bench.rows, bench.nested_result = kept["rows"], kept["nested_result"]
        for name in ("multiclass_counts", "subgroup_tables", "backbone_diffs", "option_seconds", "options_result",
                     "options_sensitive_result", "option_diffs"):
            if kept.get(name) is not None:
                setattr(bench, name, kept[name])
        bench.section_seconds.update(kept["section_seconds"])
        bench.command = kept["command"] + f"; then {bench.command} --keep <its state>"
        print(f"kept {len(bench.rows)} rows from {args.keep}")
    steps = [(key, (lambda sec=sec: bench.plain_rows(sec))) for key, sec in SECTION_KEYS.items()]
    steps += [("leakage", bench.leakage), ("limited", bench.limited_data), ("multiclass", bench.multiclass),
              ("subgroups", bench.subgroups), ("backbones", bench.backbones), ("nested", bench.nested),
              ("options", bench.options), ("recipe", bench.recipe_rules), ("sensitive", bench.options_sensitive),
              ("pairs", bench.option_pairs)]
    if "features" not in sections and {"heads", "imbalance", "limited", "subgroups", "nested"} & set(sections):
        bench.run("Feature sets", ROWS[8][1], bench.pipeline(), key="best")
    if "leakage" in sections and "decisions" not in sections:
        bench.run("Decision (best pipeline)", "threshold 0.5", bench.pipeline(threshold="fixed"), key="fixed")
    for name, step in steps:
        if name in sections:
            t = time.perf_counter()
            step()
            bench.section_seconds[name] = time.perf_counter() - t
    bench.total_seconds = time.perf_counter() - start
    bench.load.append(os.getloadavg())
    if args.keep:  # the kept run's time and load, then this one's
        bench.total_seconds += kept["total_seconds"] or 0.0
        bench.load = kept["load"] + bench.load
    bench.write(args.output)
    print(f"total: {bench.total_seconds / 60:.1f} min")


if __name__ == "__main__":
    main()
