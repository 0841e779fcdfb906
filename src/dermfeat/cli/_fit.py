"""``dermfeat fit DATA -o MODEL``: fit a pipeline on all images and save it (skops)."""

from __future__ import annotations

from ._options import add_pipeline_options, build_pipeline, load_data


def add_parser(subparsers):
    parser = subparsers.add_parser("fit", help="fit a pipeline on a labelled folder and save it")
    parser.add_argument("data", help="folder of class sub-folders, or a manifest CSV")
    parser.add_argument("-o", "--output", required=True, help="model file to write (.skops)")
    parser.add_argument("--pickle", action="store_true", help="save as a pickle instead of skops (only for your own use)")
    add_pipeline_options(parser)
    parser.set_defaults(run=run)


def run(args):
    from ..persistence import save_model

    data, y, pos_label = load_data(args.data, args.pos_label)
    groups = data.get("groups")
    pipe = build_pipeline(args, pos_label)
    fit_params = {}
    if groups is not None:
        fit_params["clf__groups"] = groups
    pipe.fit(list(data.filenames), y, **fit_params)
    final = pipe.steps[-1][1]
    threshold = getattr(final, "best_threshold_", None)
    meta = {
        "features": args.features, "head": args.head, "imbalance": args.imbalance,
        "threshold_objective": args.threshold, "constraint": args.constraint,
        "pos_label": str(pos_label), "threshold": threshold, "n_training_images": len(y),
    }
    path = save_model(pipe, args.output, format="pickle" if args.pickle else "skops", metadata=meta)
    print(f"fitted on {len(y)} images; decision threshold {threshold:.3f} for {pos_label}" if threshold is not None else f"fitted on {len(y)} images")
    print(f"saved: {path}")
    return 0
