"""``dermfeat extract DATA -o FEATURES``: stream features to Parquet, resumable, locally or on Dask."""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

from ._options import add_progress_options, existing_folder


def add_parser(subparsers):
    from ..pipeline._recipes import EMBEDDINGS, HANDCRAFTED

    names = ", ".join(list(HANDCRAFTED) + list(EMBEDDINGS))
    parser = subparsers.add_parser(
        "extract",
        help="extract features of a photo folder to Parquet (resumable; locally or on a Dask cluster)",
        description="Stream the images in batches through a feature extractor and write one row per "
        "image (file, label, group, features) to Parquet, or to .npy + CSV when FEATURES ends in .npy. "
        "A rerun resumes an interrupted run. Every file under DATA is either extracted or listed, with the reason, "
        "in <stem>.errors.csv (images are recognised by extension or by content).",
    )
    parser.add_argument("data", metavar="DATA", help="folder of class sub-folders, a manifest CSV, or a folder of unlabelled images "
                        "(used as such when it has no class sub-folders, or with --unlabelled)")
    parser.add_argument("-o", "--output", metavar="FEATURES", required=True, help="features file (.parquet, or .npy)")
    parser.add_argument("--features", default="handcrafted",
                        help=f"feature set(s), joined by '+': {names} (default handcrafted)")
    parser.add_argument("--model-dir", default=None, type=existing_folder,
                        help="folder of ONNX models and cards (or DERMFEAT_MODEL_DIR); must exist")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation of embeddings")
    parser.add_argument("--cache", default=None, help="feature cache folder (features computed once per image)")
    parser.add_argument("--batch-size", type=int, default=512,
                        help="images per batch, row group and task (default 512)")
    parser.add_argument("--unlabelled", action="store_true",
                        help="every image under DATA, recursively, without labels (sub-folders are not classes)")
    parser.add_argument("--group-column", default="group",
                        help="manifest column written as 'group' (default group; '' for none)")
    parser.add_argument("--scheduler", default=None,
                        help="Dask scheduler address, e.g. tcp://host:8786 (default: this machine)")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel workers on this machine")
    parser.add_argument("--no-resume", action="store_true", help="start over instead of resuming an earlier run")
    add_progress_options(parser, "--no-progress")
    parser.set_defaults(run=run)


def _shown(name):
    """A file name for the terminal: bytes that are not UTF-8 shown as ``\\xNN`` (the files keep them)."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def _output_files(output):
    """Real paths of what ``extract`` writes for ``output`` (left out when it lies under DATA)."""
    from ..extraction import output_paths

    paths = output_paths(output)
    files = [paths.features, paths.errors, paths.parts] + [paths[k] for k in ("rows", "meta") if k in paths]
    return [os.path.realpath(p) for p in files]


def _is_output(path, outputs):
    real = os.path.realpath(path)
    for out in outputs:
        folder, name = os.path.split(out)
        if real == out or real.startswith(out + os.sep):
            return True
        here, base = os.path.split(real)
        if here == folder and base.startswith(f".{name}.") and base.endswith(".tmp"):  # an atomic write under way
            return True
    return False


def _unlabelled(root, outputs):
    from ..datasets import find_image_files

    return find_image_files(root, exclude=outputs)


def _load(path, group_column, unlabelled=False, output=None):
    """Images, labels, groups and the files rejected by the listing (every other file under DATA)."""
    from ..datasets import load_image_folder

    outputs = [] if output is None else _output_files(output)
    if unlabelled:
        if not Path(path).is_dir():
            raise FileNotFoundError(f"{path}: no such folder")
        files, skipped = _unlabelled(path, outputs)
        return files, None, None, skipped
    # no validation pass here: unreadable images are found (and listed) by the extraction itself
    data = load_image_folder(path, on_error="skip", validate=False)
    if len(data.filenames):
        groups = None
        if group_column:
            if group_column in data:
                groups = data[group_column]
            elif group_column != "group":
                raise ValueError(f"{path}: the data have no column {group_column!r} for groups")
        skipped = [(p, r) for p, r in data.skipped if not _is_output(p, outputs)]
        return list(data.filenames), data.labels, groups, skipped
    if Path(path).is_dir():
        files, skipped = _unlabelled(path, outputs)
        return files, None, None, skipped
    return [], None, None, list(data.skipped)


def run(args):
    from ..extraction import extract_features
    from ..pipeline import make_features

    files, labels, groups, skipped = _load(args.data, args.group_column, args.unlabelled, args.output)
    if not files:
        raise ValueError(f"{args.data}: no images found")
    transformer = make_features(args.features, model_dir=args.model_dir, memory=args.cache,
                                n_jobs=args.n_jobs, tta=args.tta)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the error file and the summary below say it all
        result = extract_features(
            transformer, files, args.output, labels=labels, groups=groups, batch_size=args.batch_size,
            resume=not args.no_resume, progress=args.progress, scheduler=args.scheduler,
            skipped=skipped,
        )
    where = f" on {args.scheduler}" if args.scheduler else ""
    rate = result.n_computed / result.elapsed if result.elapsed > 0 else float("nan")
    print(f"{result.n_rows} of {result.n_images + len(skipped)} images x {len(result.feature_names)} features "
          f"({args.features}) -> {_shown(result.output)}")
    if result.n_computed == 0 and result.n_resumed:
        print(f"already done: nothing to extract ({result.elapsed:.1f} s)")
    else:
        print(f"extracted {result.n_computed}{where}, resumed {result.n_resumed}; "
              f"{result.elapsed:.1f} s ({rate:.0f} images/s)")
    if result.n_errors:
        print(f"{result.n_errors} unreadable or skipped files, listed in {_shown(result.errors_path)}:", file=sys.stderr)
        for name, reason in result.errors[:5]:
            print(f"  {_shown(name)}: {_shown(reason)}", file=sys.stderr)
        if result.n_errors > 5:
            print(f"  ... and {result.n_errors - 5} more", file=sys.stderr)
    else:
        print("unreadable files: none")
    return 0
