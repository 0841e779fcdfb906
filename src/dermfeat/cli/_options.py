"""Options shared by the commands that build a pipeline (cv, fit, demo), and model loading.

``dermfeat fit`` and ``dermfeat cv`` build their pipeline with the same
:func:`build_pipeline` and resolve ``--groups`` with the same
:func:`resolve_groups`, so the model ``fit`` saves is the one ``cv`` measured:
same steps and parameters, same inner protocol (threshold tuned by shuffled,
seeded, stratified inner folds over the same near-duplicate groups).
"""

from __future__ import annotations

import sys


def add_pipeline_options(parser):
    from ..pipeline._recipes import EMBEDDINGS, HANDCRAFTED, HEADS, IMBALANCE

    group = parser.add_argument_group("pipeline")
    names = ", ".join(list(HANDCRAFTED) + list(EMBEDDINGS))
    group.add_argument("--features", default="handcrafted", help=f"feature set(s), joined by '+': {names} (default handcrafted)")
    group.add_argument("--head", default="logistic", choices=HEADS, help="classifier head (default logistic)")
    group.add_argument("--imbalance", default="balanced", choices=IMBALANCE, help="imbalance strategy (default balanced)")
    group.add_argument(
        "--threshold", default="fixed",
        help="'fixed' (0.5) or a metric to tune the threshold for inside the training folds: macro_f1, "
        "balanced_accuracy, specificity, f1, ... (default fixed)",
    )
    group.add_argument("--constraint", default=None, help="with a tuned threshold, e.g. 'sensitivity>=0.8'")
    group.add_argument("--pos-label", default="atopic_dermatitis", help="positive class (default atopic_dermatitis)")
    group.add_argument("--fusion", default="early", choices=("early", "late"),
                       help="with several feature sets: concatenate (early) or average per-set heads (late)")
    group.add_argument("--lesion-crop", action="store_true", help="crop to the lesion before extracting features")
    group.add_argument("--color-constancy", action="store_true", help="grey-world colour correction first")
    group.add_argument("--tta", action="store_true", help="test-time augmentation of embeddings")
    group.add_argument("--model-dir", default=None, help="folder of ONNX models and cards (or DERMFEAT_MODEL_DIR)")
    group.add_argument("--cache", default=None, help="feature cache folder (features computed once per image)")
    group.add_argument("--n-jobs", type=int, default=None, help="parallel workers")
    group.add_argument(
        "--groups", default="auto",
        help="photographs that must stay together in every split, outer and inner: 'auto' (near-duplicates, "
        "default), a manifest column (e.g. patient ids), or 'none' (not recommended: warns)",
    )
    group.add_argument(
        "--uncertainty", default="none", choices=("none", "marginal", "class"),
        help="add an out-of-distribution guard (5 %% false alarms) and conformal prediction sets at "
        "--confidence-level, marginal or per class ('class', for imbalanced classes); 'dermfeat predict' then "
        "fills in_distribution and prediction_set (default none)",
    )
    group.add_argument("--confidence-level", type=float, default=0.9,
                       help="coverage of the prediction sets of --uncertainty (default 0.9)")


def add_protocol_options(parser, *, what="cross-validation"):
    """``--folds``, ``--repeats`` and ``--seed`` of the outer repeated stratified group K-fold."""
    group = parser.add_argument_group(what)
    group.add_argument("--folds", type=int, default=5, help="folds per repeat (default 5)")
    group.add_argument("--repeats", type=int, default=2, help="repeats (default 2)")
    group.add_argument("--seed", type=int, default=0, help="seed of the outer splits (default 0)")


def resolve_groups(args, data):
    """``--groups`` as :func:`~dermfeat.evaluation.evaluate` takes it: ``"auto"``, an array or None.

    ``auto`` is the near-duplicate groups; when the manifest has a ``group``
    column (patients, say), photographs linked by either stay together.
    """
    groups = args.groups
    if groups == "none":
        return None
    if groups == "auto":
        if data.get("groups") is None:
            return "auto"
        from ..model_selection import near_duplicate_groups

        return _merge_groups(data.groups, near_duplicate_groups(data.filenames, n_jobs=args.n_jobs, on_error="singleton"))
    if groups not in data:
        raise ValueError(f"the data have no column {groups!r} for groups")
    return data[groups]


def _merge_groups(*labelings):
    """Connected components of "same label in any of the labelings", numbered from 0."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(labelings[0])
    rows, cols = [], []
    for labels in labelings:
        _, codes = np.unique(np.asarray(labels).astype(str), return_inverse=True)
        rows.append(np.arange(n))
        cols.append(n + codes + sum(len(c) for c in cols))
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    size = int(cols.max()) + 1
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(size, size))
    _, components = connected_components(graph, directed=False)
    _, out = np.unique(components[:n], return_inverse=True)
    return out


def outer_cv(args):
    from ..model_selection import RepeatedStratifiedGroupKFold

    return RepeatedStratifiedGroupKFold(args.folds, args.repeats, random_state=args.seed)


def build_pipeline(args, pos_label):
    from ..pipeline import make_classifier

    pipe = make_classifier(
        args.features,
        args.head,
        imbalance=args.imbalance,
        threshold=args.threshold,
        constraint=args.constraint,
        pos_label=pos_label,
        fusion=args.fusion,
        lesion_crop=args.lesion_crop,
        color_constancy=args.color_constancy,
        tta=args.tta,
        model_dir=args.model_dir,
        memory=args.cache,
        n_jobs=args.n_jobs,
        groups=None if args.groups == "none" else "auto",
    )
    return _with_uncertainty(args, pipe)


def _with_uncertainty(args, pipe):
    """``--uncertainty``: the guard and the prediction sets of :func:`~dermfeat.uncertainty.add_uncertainty`."""
    choice = getattr(args, "uncertainty", "none")
    if choice == "none":
        return pipe
    from ..pipeline._recipes import EMBEDDINGS
    from ..uncertainty import OutOfDistributionDetector, add_uncertainty

    if len(pipe.steps) < 2:
        raise ValueError("--uncertainty needs one feature matrix for the guard; it does not work with --fusion late")
    parts = [p.strip().replace("-", "_").lower() for p in args.features.split("+")]
    # unit-length rows for embeddings, standardised features when handcrafted ones are among them
    normalize = "l2" if all(p in EMBEDDINGS for p in parts) else "standard"
    return add_uncertainty(pipe, confidence_level=args.confidence_level, class_conditional=choice == "class",
                           detector=OutOfDistributionDetector(normalize=normalize))


def load_data(path, pos_label):
    """Load a labelled folder; the positive label falls back to the last class."""
    from ..datasets import load_image_folder

    data = load_image_folder(path, on_error="skip")
    for p, reason in data.skipped:
        print(f"skipped {p}: {reason}", file=sys.stderr)
    names = list(data.target_names)
    if len(names) < 2:
        raise ValueError(
            f"{path}: found {len(data.filenames)} labelled images in {len(names)} classes; "
            "a classifier needs a folder of class sub-folders (or a manifest) with at least two classes"
        )
    if pos_label not in names:
        pos_label = names[-1]
    return data, data.labels, pos_label


def load_saved_model(path, *, allow_pickle=False, model_dir=None, what="the model"):
    """``(estimator, metadata)`` of a model file; every failure is one error naming the file."""
    from ..persistence import load_model
    from ._errors import reading

    with reading(path, what):
        return load_model(path, allow_pickle=allow_pickle, model_dir=model_dir)
