"""The overview a researcher starts with: classes, sizes, colour, bad files, duplicates."""

from __future__ import annotations

import joblib
import numpy as np
from sklearn.utils import Bunch

from .._exceptions import InvalidImageError
from ..io import read_image


def _mean_colour(path):
    try:
        return read_image(path, min_side=32).reshape(-1, 3).mean(axis=0)
    except (InvalidImageError, OSError, RuntimeError, ValueError):  # already reported by the loader
        return np.full(3, np.nan)


def describe_dataset(data, *, duplicates=True, n_jobs=None):
    """Summarise a loaded image dataset.

    Parameters
    ----------
    data : Bunch
        What :func:`load_image_folder` returns (validated, so ``image_sizes`` is set).
    duplicates : bool, default=True
        Also compute near-duplicate groups
        (:func:`dermfeat.model_selection.near_duplicate_groups`).
    n_jobs : int, optional
        Parallel decoding.

    Returns
    -------
    summary : Bunch
        ``n_images``; ``per_class``: a list of dicts (``class``, ``n``, ``share``,
        ``width``/``height``/``aspect`` as (min, median, max), ``mean_rgb``);
        ``skipped``; ``extra_columns`` (name -> number of distinct values); and with
        ``duplicates``: ``groups``, ``n_groups``, ``n_images_in_shared_groups``,
        ``link_counts`` (by kind), ``cross_class_groups``, ``example_pairs``
        (file names) and ``duplicate_errors`` (``(file, reason)`` of images that
        could not be read or compared for the search; each has its own group).

    Examples
    --------
    >>> import tempfile
    >>> from dermfeat.datasets import describe_dataset, load_image_folder, make_lesion_images
    >>> folder = tempfile.mkdtemp()
    >>> _ = make_lesion_images(8, image_size=48, directory=folder, random_state=0)
    >>> summary = describe_dataset(load_image_folder(folder), duplicates=False)
    >>> summary.n_images, [row["class"] for row in summary.per_class]
    (8, ['atopic_dermatitis', 'eczema'])
    """
    if "image_sizes" not in data:
        raise ValueError("describe_dataset needs a validated dataset: load it with validate=True")
    filenames = np.asarray(data.filenames, dtype=object)
    colours = np.array(joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_mean_colour)(f) for f in filenames))
    colours = colours.reshape(-1, 3)
    heights, widths = data.image_sizes[:, 0], data.image_sizes[:, 1]
    per_class = []
    for code, name in enumerate(data.target_names):
        mask = data.target == code
        if not mask.any():
            per_class.append({"class": str(name), "n": 0, "share": 0.0})
            continue
        aspect = widths[mask] / heights[mask]
        per_class.append(
            {
                "class": str(name),
                "n": int(mask.sum()),
                "share": float(mask.mean()),
                "width": tuple(int(v) for v in np.percentile(widths[mask], [0, 50, 100])),
                "height": tuple(int(v) for v in np.percentile(heights[mask], [0, 50, 100])),
                "aspect": tuple(float(v) for v in np.percentile(aspect, [0, 50, 100])),
                "mean_rgb": tuple(float(v) for v in np.nanmean(colours[mask], axis=0)),
            }
        )
    standard = {"filenames", "target", "target_names", "labels", "skipped", "root", "image_sizes", "frame", "groups"}
    extra = {k: int(len(set(np.asarray(v).tolist()))) for k, v in data.items() if k not in standard}
    summary = Bunch(
        n_images=int(len(filenames)),
        per_class=per_class,
        skipped=list(data.skipped),
        extra_columns=extra,
    )
    if duplicates and len(filenames):
        from ..model_selection import near_duplicate_groups

        # a file that cannot be read (or compared) here gets its own group, is named in a
        # SkippedImagesWarning and in duplicate_errors: the overview goes on
        groups, details = near_duplicate_groups(filenames, return_details=True, on_error="singleton", n_jobs=n_jobs)
        kinds = {}
        for pair in details.pairs:
            kinds[pair[2]] = kinds.get(pair[2], 0) + 1
        cross = [g for g in np.unique(groups) if len(set(data.target[groups == g])) > 1]
        examples = []
        for kind in ("identical", "near", "crop"):
            examples.extend(
                (kind, str(filenames[i]), str(filenames[j]), score)
                for i, j, k, score in details.pairs
                if k == kind
            )
        summary.update(
            groups=groups,
            n_groups=details.n_groups,
            n_images_in_shared_groups=details.n_images_in_shared_groups,
            largest_group=int(details.group_sizes.max()),
            link_counts=kinds,
            cross_class_groups=len(cross),
            example_pairs=examples,
            duplicate_errors=[(str(name), reason) for _, name, reason in details.errors],
        )
    return summary
