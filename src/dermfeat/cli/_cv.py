"""``dermfeat cv DATA``: leak-free cross-validation, metric table and HTML report."""

from __future__ import annotations

from ._options import add_pipeline_options, build_pipeline, load_data


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "cv",
        help="cross-validate a pipeline without leakage; print the metrics, write the HTML report",
        description="Repeated stratified group K-fold with near-duplicate groups; thresholds and "
        "hyper-parameters are chosen inside the training folds.",
    )
    parser.add_argument("data", help="folder of class sub-folders, or a manifest CSV")
    add_pipeline_options(parser)
    parser.add_argument("--folds", type=int, default=5, help="folds per repeat (default 5)")
    parser.add_argument("--repeats", type=int, default=2, help="repeats (default 2)")
    parser.add_argument("--groups", default="auto", help="'auto' (near-duplicates), 'none', or a manifest column")
    parser.add_argument("--report", default="dermfeat_report.html", help="HTML report path ('' to skip)")
    parser.add_argument("--no-subgroups", action="store_true", help="skip the skin-tone and quality breakdown")
    parser.add_argument("--seed", type=int, default=0, help="seed of the splits")
    parser.set_defaults(run=run)


def run(args):
    from ..evaluation import evaluate
    from ..model_selection import RepeatedStratifiedGroupKFold

    data, y, pos_label = load_data(args.data, args.pos_label)
    groups = args.groups
    if groups == "none":
        groups = None
    elif groups != "auto":
        if groups not in data:
            raise ValueError(f"the data have no column {groups!r} for groups")
        groups = data[groups]
    pipe = build_pipeline(args, pos_label)
    cv = RepeatedStratifiedGroupKFold(args.folds, args.repeats, random_state=args.seed)
    report = evaluate(
        pipe, data.filenames, y, groups=groups, cv=cv, pos_label=pos_label,
        subgroups=None if args.no_subgroups else "auto", n_jobs=args.n_jobs, progress=True,
    )
    print(f"{len(y)} images, {len(set(report.groups)) if report.groups is not None else len(y)} groups, "
          f"{len(report.folds)} folds; positive class {pos_label}; {report.elapsed:.1f} s")
    print(report.table())
    for name in report.subgroups:
        print(f"by {name}: " + "; ".join(
            f"{r['group']} (n={r['n']}) sens {r.get('sensitivity', float('nan')):.2f} spec {r.get('specificity', float('nan')):.2f}"
            for r in report.subgroup_table(name)))
    if args.report:
        path = report.to_html(args.report, title=f"dermfeat cv: {args.features} / {args.head} / {args.imbalance} / threshold {args.threshold}")
        print(f"report: {path}")
    return 0
