"""``dermfeat describe DATA``: the dataset overview."""

from __future__ import annotations

import json
import os

import numpy as np


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "describe",
        help="overview of a photo folder: classes, sizes, colour, bad files, near-duplicates",
        description="Print the overview a researcher starts with: images per class, width/height/aspect "
        "statistics, mean colour per class, unreadable files and near-duplicate groups.",
    )
    parser.add_argument("data", help="folder of class sub-folders, or a manifest CSV (or folder with manifest.csv)")
    parser.add_argument("--no-duplicates", action="store_true", help="skip the near-duplicate search")
    parser.add_argument("--examples", type=int, default=3, help="near-duplicate pairs shown per kind (default 3)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--n-jobs", type=int, default=None, help="parallel workers")
    parser.set_defaults(run=run)


def _short(path, root):
    try:
        return os.path.relpath(path, root)
    except ValueError:  # pragma: no cover - other drive on Windows
        return path


def run(args):
    from ..datasets import describe_dataset, load_image_folder

    data = load_image_folder(args.data, on_error="skip", n_jobs=args.n_jobs)
    summary = describe_dataset(data, duplicates=not args.no_duplicates, n_jobs=args.n_jobs)
    if args.json:
        out = {k: v for k, v in summary.items() if k != "groups"}
        print(json.dumps(out, indent=2, default=lambda o: o.tolist() if isinstance(o, np.ndarray) else str(o)))
        return 0
    root = data.root
    print(f"dataset: {args.data}")
    print(f"images: {summary.n_images} readable, {len(summary.skipped)} skipped")
    header = f"  {'class':<22}{'images':>7}{'share':>7}  {'width min/med/max':<19}{'height min/med/max':<20}{'aspect med':>10}  mean RGB"
    print("per class:")
    print(header)
    for row in summary.per_class:
        if not row["n"]:
            print(f"  {row['class']:<22}{0:>7}")
            continue
        w = "/".join(str(v) for v in row["width"])
        h = "/".join(str(v) for v in row["height"])
        rgb = ", ".join(f"{v:.0f}" for v in row["mean_rgb"])
        print(f"  {row['class']:<22}{row['n']:>7}{row['share']:>7.1%}  {w:<19}{h:<20}{row['aspect'][1]:>10.2f}  ({rgb})")
    if summary.extra_columns:
        cols = ", ".join(f"{k} ({n} distinct)" for k, n in summary.extra_columns.items())
        print(f"extra columns: {cols}")
    if summary.skipped:
        print("unreadable or skipped files:")
        for path, reason in summary.skipped:
            print(f"  {_short(path, root)}: {reason}")
    else:
        print("unreadable files: none")
    if "n_groups" in summary:
        links = ", ".join(f"{k} {v}" for k, v in sorted(summary.link_counts.items())) or "none"
        print(
            f"near-duplicate groups: {summary.n_groups} groups for {summary.n_images} images; "
            f"{summary.n_images_in_shared_groups} images share a group with another "
            f"(largest group {summary.largest_group}; links: {links}); "
            f"{summary.cross_class_groups} {'group spans' if summary.cross_class_groups == 1 else 'groups span'} "
            "more than one class"
        )
        shown = {}
        for kind, a, b, score in summary.example_pairs:
            if shown.get(kind, 0) >= args.examples:
                continue
            shown[kind] = shown.get(kind, 0) + 1
            print(f"  {kind:<9} {_short(a, root)}  ~  {_short(b, root)}  (score {score})")
    return 0
