"""Options shared by the commands that build a pipeline (cv, fit, demo), and model loading.

``dermfeat fit`` and ``dermfeat cv`` build their pipeline with the same
:func:`build_pipeline` and resolve ``--groups`` with the same
:func:`resolve_groups`, so the model ``fit`` saves is the one ``cv`` measured:
same steps and parameters, same inner protocol (threshold tuned by shuffled,
seeded, stratified inner folds over the same near-duplicate groups).
"""

from __future__ import annotations

import argparse
import os
import sys

#: ``--threshold`` values that keep the head's own decision (probability 0.5).
FIXED_THRESHOLDS = ("fixed", "0.5")


def existing_folder(text):
    """argparse type of ``--model-dir``: a folder that exists (a typo must not fall back to another model)."""
    if not os.path.isdir(text):
        what = "not a folder" if os.path.exists(text) else "no such folder"
        raise argparse.ArgumentTypeError(f"{text}: {what}")
    return text


def non_negative_int(text):
    """argparse type of counts that may be 0 (``--heatmaps``)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def positive_int(text):
    """argparse type of counts that must be >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def threshold_choice(text):
    """argparse type of ``--threshold``: ``fixed`` or a metric the threshold can be tuned for."""
    from sklearn.metrics import get_scorer_names

    from ..metrics import BINARY_METRICS
    from ..metrics._threshold import BINARY_ALIASES

    if text in FIXED_THRESHOLDS or text in BINARY_METRICS or text in BINARY_ALIASES or text in get_scorer_names():
        return text
    raise argparse.ArgumentTypeError(
        f"unknown threshold {text!r}; use 'fixed' (0.5) or a metric to tune it for: "
        f"{', '.join(BINARY_METRICS)} (or a scikit-learn scorer name)"
    )


def add_pipeline_options(parser):
    from ..pipeline._recipes import EMBEDDINGS, HANDCRAFTED, HEADS, IMBALANCE

    group = parser.add_argument_group("pipeline")
    names = ", ".join(list(HANDCRAFTED) + list(EMBEDDINGS))
    group.add_argument("--features", default="handcrafted", help=f"feature set(s), joined by '+': {names} (default handcrafted)")
    group.add_argument("--head", default="logistic", choices=HEADS, help="classifier head (default logistic)")
    group.add_argument("--imbalance", default="balanced", choices=IMBALANCE, help="imbalance strategy (default balanced)")
    group.add_argument(
        "--threshold", default="fixed", type=threshold_choice,
        help="'fixed' (0.5) or a metric to tune the threshold for inside the training folds: macro_f1, "
        "balanced_accuracy, sensitivity, specificity, youden, ... (default fixed)",
    )
    group.add_argument("--constraint", default=None, help="with a tuned threshold, e.g. 'sensitivity>=0.8'")
    group.add_argument("--pos-label", default=None,
                       help="positive class, one of the classes found (default atopic_dermatitis when present, "
                       "else the last class in sorted order)")
    group.add_argument("--fusion", default="early", choices=("early", "late"),
                       help="with several feature sets: concatenate (early) or average per-set heads (late)")
    group.add_argument("--lesion-crop", action="store_true", help="crop to the lesion before extracting features")
    group.add_argument("--color-constancy", action="store_true", help="shades-of-grey white balance first (ColorConstancy, p=6)")
    group.add_argument("--tta", action="store_true", help="test-time augmentation of embeddings")
    group.add_argument("--precision", default="float32", choices=("float32", "int8"),
                       help="int8: the int8-quantised version of every embedding backbone (about twice as fast on "
                       "a CPU; handcrafted features unchanged; default float32)")
    from ..pipeline import RECIPES

    group.add_argument("--recipe", default=None, choices=tuple(RECIPES),
                       help="a named recipe of the benchmark (dermfeat.pipeline.RECIPES): it sets the features, head, "
                       "imbalance, threshold, fusion, view and subtypes options, which must then be left out")
    group.add_argument("--view", default="crop", choices=("crop", "whole", "pad"),
                       help="what embedding backbones see: the model card's centre crop, the whole photograph "
                       "squashed to the model's input, or padded to a square (default crop)")
    group.add_argument("--model-dir", default=None, type=existing_folder,
                       help="folder of ONNX models and cards (or DERMFEAT_MODEL_DIR); must exist")
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
    group.add_argument(
        "--subtypes", nargs="?", const="subtype", default=None, metavar="COLUMN",
        help="train the head on the subtypes of the manifest column COLUMN (default 'subtype'; an empty cell "
        "counts as the row's class) and decide on the summed probability of each class; 'dermfeat predict' "
        "then lists the most likely subtypes",
    )
    group.add_argument("--min-subtype-count", type=positive_int, default=None, metavar="N",
                       help="with --subtypes, subtypes with fewer training photographs merge into 'other <class>' "
                       "(default 20; 1 keeps every subtype)")


def add_progress_options(parser, *aliases):
    """``--progress`` / ``--quiet``: progress bars on stderr (default: when stderr is a terminal).

    ``aliases`` are older spellings of ``--quiet`` (``--no-progress``).
    """
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--progress", dest="progress", action="store_const", const=True, default="auto",
                       help="always show progress bars on stderr, in logs too (default: only on a terminal)")
    group.add_argument("--quiet", *aliases, dest="progress", action="store_const", const=False,
                       help="no progress bars")


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


def subtype_option(args):
    """``subtypes=`` of :func:`~dermfeat.pipeline.make_classifier` for ``--subtypes`` / ``--min-subtype-count``."""
    count = getattr(args, "min_subtype_count", None)
    if getattr(args, "subtypes", None) is None:
        if count is not None:
            raise ValueError("--min-subtype-count needs --subtypes")
        return False
    return True if count is None else count


def apply_recipe(args):
    """``--recipe``: set the options the recipe fixes (an error if one of them was given otherwise).

    Everything downstream (the pipeline, the subtype column, the model file's
    record of its options) then sees the recipe's settings.  Applying it twice
    changes nothing.
    """
    name = getattr(args, "recipe", None)
    if name is None:
        return args
    from ..pipeline import RECIPES
    from ..pipeline._named import RECIPE_SETTINGS
    from ..pipeline._recipes import _CLASSIFIER_DEFAULTS

    # the options' defaults are make_classifier's, except --subtypes (a column name, None when absent)
    defaults = {**{key: _CLASSIFIER_DEFAULTS[key] for key in RECIPE_SETTINGS}, "subtypes": None}
    wanted = dict(RECIPES[name])
    if "subtypes" in wanted:  # make_classifier's True / minimum count -> the manifest column and --min-subtype-count
        count = wanted.pop("subtypes")
        wanted["subtypes"] = "subtype" if count else None
        if count and count is not True and getattr(args, "min_subtype_count", None) is None:
            args.min_subtype_count = int(count)
    clash = ["--" + key.replace("_", "-") for key, value in wanted.items()
             if getattr(args, key, defaults[key]) not in (defaults[key], value)
             and not (key == "subtypes" and value is not None)]  # --subtypes COLUMN names the recipe's column
    if clash:
        raise ValueError(f"--recipe {name} sets {', '.join(clash)}: leave {'it' if len(clash) == 1 else 'them'} out")
    for key, value in wanted.items():
        if key == "subtypes" and value is not None and getattr(args, "subtypes", None) is not None:
            continue  # a column given with --subtypes
        setattr(args, key, value)
    return args


def fit_params(args, data, y):
    """The ``fit`` parameters of the options: ``fine_labels`` (the ``--subtypes`` column), or none.

    ``dermfeat fit`` and ``dermfeat cv`` both take them from here, so cv
    validates the procedure fit deploys.
    """
    apply_recipe(args)
    column = getattr(args, "subtypes", None)
    if column is None:
        return {}
    if data.get(column) is None:
        have = [k for k in ("subtype", "group") if data.get(k) is not None]
        raise ValueError(
            f"--subtypes: the data have no column {column!r} (a manifest CSV with a {column!r} column is needed"
            + (f"; it has {', '.join(have)}" if have else "") + ")"
        )
    import numpy as np

    fine = np.array([str(f).strip() if f is not None else "" for f in data[column]], dtype=object)
    labels = np.asarray(y).astype(str)
    return {"fine_labels": np.where(fine == "", labels, fine).astype(object)}


def outer_cv(args):
    from ..model_selection import RepeatedStratifiedGroupKFold

    return RepeatedStratifiedGroupKFold(args.folds, args.repeats, random_state=args.seed)


def build_pipeline(args, pos_label):
    from ..pipeline import make_classifier

    apply_recipe(args)
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
        precision=getattr(args, "precision", "float32"),
        view=getattr(args, "view", "crop"),
        subtypes=subtype_option(args),
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


def load_data(path, pos_label=None):
    """Load a labelled folder and settle the positive class.

    ``pos_label=None`` gives ``atopic_dermatitis`` when it is a class, else the
    last class in sorted order; a given label must be one of the classes found.
    """
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
    return data, data.labels, resolve_pos_label(pos_label, names, path)


def resolve_pos_label(pos_label, names, where):
    """The positive class among ``names``: the given one (checked), else the default."""
    names = [str(n) for n in names]
    if pos_label is None:
        return "atopic_dermatitis" if "atopic_dermatitis" in names else names[-1]
    if str(pos_label) not in names:
        raise ValueError(f"--pos-label {pos_label!r} is not a class of {where}; the classes are {', '.join(names)}")
    return str(pos_label)


def load_saved_model(path, *, allow_pickle=False, model_dir=None, what="the model"):
    """``(estimator, metadata)`` of a model file; every failure is one error naming the file."""
    from ..persistence import load_model
    from ._errors import reading

    with reading(path, what):
        return load_model(path, allow_pickle=allow_pickle, model_dir=model_dir)
