"""``dermfeat cv DATA``: leak-free cross-validation, metric table and HTML report."""

from __future__ import annotations

import sys

from ._options import (
    add_pipeline_options,
    add_progress_options,
    add_protocol_options,
    build_pipeline,
    fit_params,
    load_data,
    non_negative_int,
    outer_cv,
    resolve_groups,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "cv",
        help="cross-validate a pipeline without leakage; print the metrics, write the HTML report",
        description="Repeated stratified group K-fold with near-duplicate groups; thresholds and "
        "hyper-parameters are chosen inside the training folds.",
    )
    parser.add_argument("data", help="folder of class sub-folders, or a manifest CSV")
    add_pipeline_options(parser)
    add_protocol_options(parser)
    add_progress_options(parser)
    parser.add_argument("--report", default="dermfeat_report.html", help="HTML report path ('' to skip)")
    parser.add_argument("--no-subgroups", action="store_true",
                        help="skip the breakdown by skin tone, image quality and (when the manifest has a "
                        "'subtype' column) subtype")
    parser.add_argument("--heatmaps", type=non_negative_int, default=4,
                        help="occlusion heat maps of the most confident mistakes in the report (default 4; 0: none)")
    parser.set_defaults(run=run)


def _subgroups(data):
    """Skin tone and image quality, plus the manifest's ``subtype`` column when it has one."""
    if data.get("subtype") is None:
        return "auto"
    return ["auto", {"subtype": data["subtype"]}]


def _number(value):
    return "n/a" if value != value else f"{value:.2f}"  # NaN: undefined for a group of one class


def run(args):
    import warnings

    import numpy as np

    from .._exceptions import UngroupedSelectionWarning
    from ..evaluation import evaluate

    data, y, pos_label = load_data(args.data, args.pos_label)
    groups = resolve_groups(args, data)
    pipe = build_pipeline(args, pos_label)
    params = fit_params(args, data, y)
    with warnings.catch_warnings():
        if groups is None:  # said once below
            warnings.simplefilter("ignore", UngroupedSelectionWarning)
        report = evaluate(
            pipe, data.filenames, y, groups=groups, cv=outer_cv(args), pos_label=pos_label,
            subgroups=None if args.no_subgroups else _subgroups(data), fit_params=params, n_jobs=args.n_jobs,
            progress=args.progress,
        )
    print(f"{len(y)} images, {len(set(report.groups)) if report.groups is not None else len(y)} groups, "
          f"{len(report.folds)} folds; positive class {pos_label}; {report.elapsed:.1f} s")
    if groups is None:
        print("dermfeat cv: warning: --groups none: near-duplicate photographs can sit on both sides of the outer "
              "and inner splits, so these figures are optimistic", file=sys.stderr)
    print(report.table())
    thresholds = report.thresholds()
    if report.threshold_is_fixed:
        pass  # the table's threshold line says it: fixed, not tuned
    elif len(thresholds):
        inner = [f["threshold_std"] for f in report.folds if f.get("threshold_std") is not None]
        line = (f"decision threshold chosen in each training fold: {thresholds.mean():.3f} ± {thresholds.std():.3f} "
                f"(min {thresholds.min():.3f}, max {thresholds.max():.3f})")
        if inner:
            from ..model_selection import UNSTABLE_THRESHOLD_STD

            unstable = sum(v > UNSTABLE_THRESHOLD_STD for v in inner)
            line += (f"; spread across its inner folds: median std {float(np.median(inner)):.3f}, above "
                     f"{UNSTABLE_THRESHOLD_STD} in {unstable} of {len(inner)} training folds")
        print(line)
    for name in report.subgroups:
        print(f"by {name}: " + "; ".join(
            f"{r['group']} (n={r['n']}) sens {_number(r.get('sensitivity', float('nan')))} "
            f"spec {_number(r.get('specificity', float('nan')))}"
            for r in report.subgroup_table(name)))
    subtypes = report.subtype_confusion_matrix()
    if subtypes is not None:
        rows, columns, counts = subtypes
        print("subtypes (out-of-fold, most likely): true subtype (n) -> predicted subtypes (count)")
        for name, row in zip(rows, counts):
            print(f"  {name} ({int(row.sum())}) -> " + ", ".join(
                f"{c} ({int(v)})" for v, c in sorted(zip(row, columns), key=lambda t: -t[0]) if v))
    if args.report:
        path = report.to_html(args.report, n_heatmaps=args.heatmaps, title=f"dermfeat cv: {args.features} / {args.head} / {args.imbalance} / threshold {args.threshold}")
        print(f"report: {path}")
    return 0
