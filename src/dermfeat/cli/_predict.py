"""``dermfeat predict MODEL IMAGE...``: class, probability and threshold per image.

Models fitted with ``dermfeat fit --uncertainty`` also say whether each image
looks like the training photographs (``in_distribution``) and which classes it
could be at the model's confidence level (``prediction_set``: one class, or
several joined by ``|`` in CSV, a list in JSON); other models leave these empty.
Models fitted with ``dermfeat fit --subtypes`` add the most likely subtypes with
their probabilities (``subtype_1``, ``subtype_1_probability``, ... up to
:data:`TOP_SUBTYPES`); other models have no such columns.

The photographs are streamed: at most ``--batch-size`` of them are decoded at a
time, and each batch's rows are written before the next batch is read, so memory
does not grow with the number of photographs.  A file that cannot be read or
analysed becomes a row with the reason; it never stops the run.
"""

from __future__ import annotations

import csv
import json
import os
import sys

from ._options import existing_folder

#: Photographs decoded and predicted together by default (a 12-megapixel photo
#: takes 36 MB once decoded).
DEFAULT_BATCH_SIZE = 8

FIELDS = ["file", "class", "probability", "positive_class", "threshold", "in_distribution", "prediction_set", "error"]

#: Subtypes listed per image by a model fitted on subtypes.
TOP_SUBTYPES = 3


def subtype_fields(k=TOP_SUBTYPES):
    """The subtype columns: ``subtype_1``, ``subtype_1_probability``, ..., ``subtype_k_probability``."""
    return [name for i in range(1, k + 1) for name in (f"subtype_{i}", f"subtype_{i}_probability")]


def fields_of(model):
    """The output columns for ``model``: :data:`FIELDS`, plus the subtype columns when it has subtypes."""
    from ..decision import hierarchical_step

    return FIELDS + (subtype_fields() if hierarchical_step(model) is not None else [])


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "predict", help="predict images with a saved model (CSV or JSON)",
        description="One row per image, written as soon as its batch is done; unreadable files get a row "
        "with the reason and the others are still predicted. Exit code 0 when at least one image was "
        "predicted.",
    )
    parser.add_argument("model", help="model file written by 'dermfeat fit'")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--format", choices=("csv", "json"), default="csv", help="output format (default csv)")
    parser.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE,
                        help=f"photos decoded and predicted together (default {DEFAULT_BATCH_SIZE}); memory grows "
                        "with it, not with the number of photos")
    parser.add_argument("--model-dir", default=None, type=existing_folder,
                        help="where the embedding model files are, if moved (must exist)")
    parser.add_argument("--allow-pickle", action="store_true", help="allow a pickle model file (only your own)")
    parser.add_argument("--show-validation", action="store_true",
                        help="print the cross-validated figures stored with the model (dermfeat fit --validate) "
                        "to stderr, or that it has none")
    parser.set_defaults(run=run)


def load(args):
    from ._options import load_saved_model

    return load_saved_model(args.model, allow_pickle=args.allow_pickle, model_dir=args.model_dir)


def _fatal(exc):
    """Whether an exception raised on one image is about the model or the machine, not the image."""
    from .._exceptions import InvalidImageError

    if isinstance(exc, InvalidImageError):
        return False
    if isinstance(exc, (MemoryError, OSError, ImportError)):
        return True
    return type(exc).__module__.split(".")[0] == "dermfeat"  # ModelMismatchError and the like


def _reason(exc):
    from .._exceptions import InvalidImageError
    from ._errors import describe

    if isinstance(exc, InvalidImageError):
        return exc.reason
    return "could not be analysed: " + describe(exc)[0].removeprefix("unexpected ")


def _predict_batch(model, images):
    """``[(probabilities, class, in_distribution, prediction set, top subtypes) or exception]`` per image.

    One pass through the feature extraction per batch; one bad image never fails the others.
    """
    from ..decision import top_subtypes
    from ..uncertainty import predict_with_uncertainty, set_labels

    try:
        r = predict_with_uncertainty(model, images)
        n = len(r.pred)
        in_dist = [None] * n if r.in_distribution is None else [bool(v) for v in r.in_distribution]
        sets = [None] * n if r.prediction_set is None else [set_labels(row, r.classes) for row in r.prediction_set]
        subtypes = [None] * n if r.subtype_proba is None else top_subtypes(r.subtype_classes, r.subtype_proba, TOP_SUBTYPES)
        return list(zip(r.proba, r.pred, in_dist, sets, subtypes))
    except Exception as exc:
        if _fatal(exc):
            raise
        if len(images) == 1:
            return [exc]
    return [r for image in images for r in _predict_batch(model, [image])]


class _Rules:
    """How a model's output becomes a row: the positive class and the threshold."""

    def __init__(self, model, metadata):
        import numpy as np

        self.classes = [str(c) for c in model.classes_]
        pos = metadata.get("pos_label")
        self.pos = pos if pos in self.classes else self.classes[-1]
        threshold = metadata.get("threshold")
        self.threshold = "" if threshold is None else float(np.round(threshold, 4))

    def row(self, path, proba, label, in_distribution=None, prediction_set=None, subtypes=None):
        import numpy as np

        row = {"file": path, "class": str(label),
               "probability": float(np.round(proba[self.classes.index(self.pos)], 4)),
               "positive_class": self.pos, "threshold": self.threshold,
               "in_distribution": "" if in_distribution is None else in_distribution,
               "prediction_set": "" if prediction_set is None else prediction_set, "error": ""}
        if subtypes is not None:
            names = subtype_fields()
            for i in range(TOP_SUBTYPES):
                name, p = subtypes[i] if i < len(subtypes) else ("", None)
                row[names[2 * i]] = name
                row[names[2 * i + 1]] = "" if p is None else float(np.round(p, 4))
        return row


def _error_row(path, reason):
    return {"file": path, "class": "", "probability": "", "threshold": "", "in_distribution": "",
            "prediction_set": "", "error": reason}


def iter_rows(model, metadata, paths, batch_size=DEFAULT_BATCH_SIZE):
    """Yield one dict per image, in order, decoding at most ``batch_size`` images at a time.

    Each image is decoded once here; files that cannot be read or analysed get a
    row with the reason (``error``) and the others are still predicted.
    """
    from .._exceptions import InvalidImageError
    from ..io import read_image

    rules = None
    for start in range(0, len(paths), batch_size):
        chunk = paths[start : start + batch_size]
        rows, good, images = [None] * len(chunk), [], []
        for j, path in enumerate(chunk):
            try:
                images.append(read_image(path))
                good.append(j)
            except InvalidImageError as exc:
                rows[j] = _error_row(path, exc.reason)
        if images:
            rules = rules or _Rules(model, metadata)
            results = _predict_batch(model, images)
            del images  # the decoded photos are released before the next batch is read
            for j, result in zip(good, results):
                rows[j] = _error_row(chunk[j], _reason(result)) if isinstance(result, BaseException) \
                    else rules.row(chunk[j], *result)
        yield from rows


def predict_rows(model, metadata, paths, batch_size=DEFAULT_BATCH_SIZE):
    """All rows of :func:`iter_rows` as a list."""
    return list(iter_rows(model, metadata, paths, batch_size))


def _printable(path):
    """A file name any terminal or CSV reader can take (undecodable bytes as ``\\xNN``)."""
    try:
        path.encode("utf-8")
        return path
    except UnicodeEncodeError:
        return os.fsencode(path).decode("utf-8", "backslashreplace")


class _Writer:
    """Writes rows to stdout as they come: CSV, or the JSON list ``json.dumps(rows, indent=2)`` gives."""

    def __init__(self, fmt, out=None, fields=None):
        self.fmt, self.out, self.n = fmt, out or sys.stdout, 0
        self.fields = list(fields or FIELDS)
        self.extra = [k for k in self.fields if k not in FIELDS]
        if fmt == "csv":
            self.csv = csv.DictWriter(self.out, fieldnames=self.fields)
            self.csv.writeheader()

    def write(self, row):
        row = {**row, "file": _printable(row["file"])}
        if self.fmt == "csv":
            values = {k: row.get(k, "") for k in self.fields}
            if isinstance(values["prediction_set"], list):
                values["prediction_set"] = "|".join(values["prediction_set"])
            self.csv.writerow(values)
        else:
            row.update({k: row.get(k, "") for k in self.extra})  # error rows too, so every row has the same keys
            text = json.dumps(row, indent=2).replace("\n", "\n  ")
            self.out.write(("[\n  " if self.n == 0 else ",\n  ") + text)
        self.n += 1
        self.out.flush()

    def close(self):
        if self.fmt == "json":
            self.out.write("\n]\n" if self.n else "[]\n")
        self.out.flush()


def run(args):
    model, metadata = load(args)
    if args.show_validation:
        from ..evaluation import describe_validation

        print(f"{args.model}: {describe_validation(metadata.get('validation'))}", file=sys.stderr)
    writer, n_bad, n = _Writer(args.format, fields=fields_of(model)), 0, 0
    for row in iter_rows(model, metadata, args.images, args.batch_size):
        writer.write(row)
        n += 1
        n_bad += bool(row.get("error"))
    writer.close()
    if n_bad:
        print(f"{n_bad} of {n} images could not be read or analysed (listed with their reason)", file=sys.stderr)
    return 0 if n_bad < n else 1
