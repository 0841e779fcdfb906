"""``dermfeat predict MODEL IMAGE...``: class, probability and threshold per image."""

from __future__ import annotations

import csv
import json
import sys


def add_parser(subparsers):
    parser = subparsers.add_parser("predict", help="predict images with a saved model (CSV or JSON)")
    parser.add_argument("model", help="model file written by 'dermfeat fit'")
    parser.add_argument("images", nargs="+", help="image files")
    parser.add_argument("--format", choices=("csv", "json"), default="csv")
    parser.add_argument("--model-dir", default=None, help="where the embedding model files are, if moved")
    parser.add_argument("--allow-pickle", action="store_true", help="allow a pickle model file (only your own)")
    parser.add_argument("--show-validation", action="store_true",
                        help="print the cross-validated figures stored with the model (dermfeat fit --validate) "
                        "to stderr, or that it has none")
    parser.set_defaults(run=run)


def load(args):
    from ..persistence import load_model

    return load_model(args.model, allow_pickle=args.allow_pickle, model_dir=args.model_dir)


def predict_rows(model, metadata, paths):
    """One dict per image: decoded once here, bad files reported and skipped."""
    import numpy as np

    from .._exceptions import InvalidImageError
    from ..io import read_image

    rows, good, images = [], [], []
    for path in paths:
        try:
            images.append(read_image(path))
            good.append(len(rows))
            rows.append({"file": path})
        except InvalidImageError as exc:
            rows.append({"file": path, "class": "", "probability": "", "threshold": "", "error": exc.reason})
    if images:
        proba = model.predict_proba(images)
        pred = model.predict(images)
        classes = list(model.classes_)
        pos = metadata.get("pos_label")
        pos = pos if pos in [str(c) for c in classes] else str(classes[-1])
        threshold = metadata.get("threshold")
        for i, p, c in zip(good, proba, pred):
            rows[i].update({
                "class": str(c),
                "probability": float(np.round(p[[str(k) for k in classes].index(pos)], 4)),
                "positive_class": pos,
                "threshold": "" if threshold is None else float(np.round(threshold, 4)),
                "error": "",
            })
    return rows


def run(args):
    model, metadata = load(args)
    if args.show_validation:
        from ..evaluation import describe_validation

        print(f"{args.model}: {describe_validation(metadata.get('validation'))}", file=sys.stderr)
    rows = predict_rows(model, metadata, args.images)
    if args.format == "json":
        print(json.dumps(rows, indent=2))
    else:
        writer = csv.DictWriter(sys.stdout, fieldnames=["file", "class", "probability", "positive_class", "threshold", "error"])
        writer.writeheader()
        for row in rows:
            writer.writerow({k: row.get(k, "") for k in writer.fieldnames})
    bad = [r for r in rows if r.get("error")]
    if bad:
        print(f"{len(bad)} of {len(rows)} images could not be read (listed with their reason)", file=sys.stderr)
    return 0 if len(bad) < len(rows) else 1
