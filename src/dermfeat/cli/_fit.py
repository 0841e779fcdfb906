"""``dermfeat fit DATA -o MODEL``: fit a pipeline on all images and save it (skops).

The pipeline and its inner protocol are those of ``dermfeat cv`` with the same
options (:mod:`._options`); ``--validate`` runs that cross-validation first and
stores its figures in the model file.
"""

from __future__ import annotations

import sys
import warnings

from ._options import (
    add_pipeline_options,
    add_progress_options,
    add_protocol_options,
    build_pipeline,
    fit_params,
    load_data,
    outer_cv,
    resolve_groups,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "fit", help="fit a pipeline on a labelled folder and save it",
        description="Fit the pipeline 'dermfeat cv' measures with the same options (same steps, same inner "
        "protocol: the threshold is tuned by shuffled stratified inner folds that keep near-duplicate "
        "photographs together) on all images, and save it. With --validate, run that cross-validation "
        "first and store its figures in the model file.",
    )
    parser.add_argument("data", help="folder of class sub-folders, or a manifest CSV")
    parser.add_argument("-o", "--output", required=True, help="model file to write (.skops)")
    parser.add_argument("--pickle", action="store_true", help="save as a pickle instead of skops (only for your own use)")
    parser.add_argument(
        "--validate", action="store_true",
        help="before the final fit, cross-validate the same pipeline (repeated stratified group K-fold, "
        "--folds x --repeats) and store mean ± std of ROC AUC, sensitivity, specificity and macro-F1 in the model",
    )
    add_pipeline_options(parser)
    add_protocol_options(parser, what="validation (with --validate)")
    add_progress_options(parser)
    parser.set_defaults(run=run)


def _threshold_lines(final, objective):
    """What the tuned decision of a fitted final step says about its own stability."""
    folds = getattr(final, "fold_best_thresholds_", None)
    if folds is None or len(folds) == 0:
        return []
    line = (f"  per inner fold: {', '.join(f'{t:.3f}' for t in folds)} (std {final.best_threshold_std_:.3f}); "
            f"{objective} at the chosen threshold {final.best_score_:.3f} ± {final.best_score_std_:.3f}")
    return [line]


def fit_model(args, data, y, pos_label):
    """The fitted pipeline, its validation record (or None) and dermfeat's warnings during the fit."""
    from .._exceptions import UngroupedSelectionWarning, UnstableThresholdWarning

    ours = (UnstableThresholdWarning, UngroupedSelectionWarning)
    groups = resolve_groups(args, data)
    pipe = build_pipeline(args, pos_label)
    params = fit_params(args, data, y)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UnstableThresholdWarning)
        warnings.simplefilter("once", UngroupedSelectionWarning)
        if args.validate:
            from ..evaluation import validate

            result = validate(pipe, list(data.filenames), y, groups=groups, cv=outer_cv(args),
                              pos_label=pos_label, fit_params=params, n_jobs=args.n_jobs, random_state=args.seed,
                              progress=getattr(args, "progress", "auto"))
            pipe, validation = result.estimator, result.validation
        else:
            from .._progress import image_steps, show_progress

            validation = None
            with show_progress(getattr(args, "progress", "auto"), desc="fit", total=len(y) * image_steps(pipe)):
                pipe.fit(list(data.filenames), y, **params,
                         **({} if isinstance(groups, str) or groups is None else {"groups": groups}))
    messages = []
    for w in caught:
        if issubclass(w.category, ours):
            if str(w.message) not in messages:
                messages.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return pipe, validation, messages


def _subtypes_record(pipe, args):
    """What ``--subtypes`` made of the model: the column, the minimum count and the subtypes learned."""
    from ..decision import hierarchical_step

    step = hierarchical_step(pipe)
    if step is None:
        return None
    return {"column": args.subtypes, "min_count": step.min_fine_count,
            "classes": [str(c) for c in step.fine_classes_],
            "merged": sorted(str(k) for k, v in step.fine_mapping_.items() if k != v)}


def groups_label(args, data):
    """What the groups of ``--groups`` are, in words."""
    if args.groups == "none":
        return "no groups"
    if args.groups == "auto":
        return "near-duplicate" + (" and manifest" if data.get("groups") is not None else "") + " groups"
    return f"groups of the column {args.groups!r}"


def run(args):
    from ..evaluation import describe_validation
    from ..persistence import save_model

    data, y, pos_label = load_data(args.data, args.pos_label)
    pipe, validation, messages = fit_model(args, data, y, pos_label)
    from ..uncertainty import decision_step

    final = decision_step(pipe)  # the tuned decision, also inside --uncertainty's wrappers
    threshold = getattr(final, "best_threshold_", None)
    folds = getattr(final, "fold_best_thresholds_", None)
    meta = {
        "recipe": getattr(args, "recipe", None),
        "features": args.features, "head": args.head, "imbalance": args.imbalance,
        "threshold_objective": args.threshold, "constraint": args.constraint,
        "fusion": args.fusion, "view": getattr(args, "view", "crop"),
        "pos_label": str(pos_label), "threshold": threshold, "n_training_images": len(y),
        "groups": groups_label(args, data), "n_groups": getattr(pipe, "n_groups_", None),
        "threshold_std": getattr(final, "best_threshold_std_", None),
        "fold_thresholds": None if folds is None else [round(float(t), 4) for t in folds],
        "validation": validation,
        "subtypes": _subtypes_record(pipe, args),
        "uncertainty": None if args.uncertainty == "none" else {
            "prediction_sets": args.uncertainty, "confidence_level": args.confidence_level,
            "false_alarm_rate": 0.05},
    }
    path = save_model(pipe, args.output, format="pickle" if args.pickle else "skops", metadata=meta)
    if threshold is None:
        print(f"fitted on {len(y)} images")
    else:
        how = ""
        if folds is not None:
            n_groups = getattr(pipe, "n_groups_", None)
            over = f" over {n_groups} {groups_label(args, data)}" if n_groups else " without groups"
            how = f", tuned for {args.threshold} by {len(folds)}-fold inner cross-validation{over}"
        print(f"fitted on {len(y)} images; decision threshold {threshold:.3f} for {pos_label}{how}")
        for line in _threshold_lines(final, args.threshold):
            print(line)
    for message in messages:
        print(f"dermfeat fit: warning: {message}", file=sys.stderr)
    if validation is not None:
        print(describe_validation(validation))
        spread = validation.get("threshold")
        if spread:
            print(f"  threshold chosen in each training fold: {spread['mean']:.3f} ± {spread['std']:.3f} "
                  f"({spread['min']:.3f}-{spread['max']:.3f}); final: {threshold:.3f}")
    print(f"saved: {path}")
    return 0
