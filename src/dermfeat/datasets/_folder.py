"""Load a folder of class sub-folders, or a manifest CSV, into a Bunch."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import joblib
import numpy as np
from sklearn.utils import Bunch

from .._exceptions import InvalidImageError
from ..io import image_size, read_image, source_bytes

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".heic", ".heif")


def _check_one(path, name):
    """Decode a file at a reduced scale to prove it is readable.

    Returns the full-resolution ``(height, width)`` (from the header, EXIF-oriented)
    or the reason it cannot be read.
    """
    try:
        content = source_bytes(path, name)
        read_image(content, min_side=16, name=name)
        width, height = image_size(content, name=name)
    except InvalidImageError as exc:
        return None, exc.reason
    return (height, width), None


def _walk_classes(root, extensions):
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    paths, labels, skipped = [], [], []
    for label in classes:
        for dirpath, dirnames, filenames in os.walk(root / label):
            dirnames.sort()
            for fname in sorted(filenames):
                path = Path(dirpath) / fname
                if fname.startswith("."):
                    continue
                if path.suffix.lower() in extensions:
                    paths.append(path)
                    labels.append(label)
                else:
                    skipped.append((str(path), f"extension {path.suffix or '(none)'!r} is not an image type"))
    return paths, labels, {}, skipped


def _read_manifest(manifest, base, path_column, label_column):
    with open(manifest, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        for needed in (path_column, label_column):
            if needed not in fields:
                raise ValueError(f"{manifest}: manifest has no {needed!r} column (columns: {', '.join(fields)})")
        rows = list(reader)
    paths = [base / row[path_column] for row in rows]
    labels = [row[label_column] for row in rows]
    extra = {f: [row[f] for row in rows] for f in fields if f not in (path_column, label_column)}
    return paths, labels, extra, []


def _as_column(values):
    """Integer or float arrays where every value parses, else object arrays."""
    for kind in (int, float):
        try:
            return np.array([kind(v) for v in values])
        except (TypeError, ValueError):
            continue
    return np.array(values, dtype=object)


def load_image_folder(
    root,
    *,
    manifest="auto",
    classes=None,
    path_column="path",
    label_column="label",
    extensions=IMAGE_EXTENSIONS,
    validate=True,
    on_error="raise",
    as_frame=False,
    n_jobs=None,
):
    """Load a folder of labelled photographs.

    Two layouts are read:

    * a folder with one sub-folder per class (``root/<label>/**/*.jpg``);
    * a manifest CSV with a path column (relative to the CSV's folder) and a
      label column, plus any extra columns (group, subtype, age, body site, ...),
      which are returned as arrays of the same length.

    Parameters
    ----------
    root : path-like
        The folder, or the manifest CSV itself.
    manifest : "auto", path-like or None, default="auto"
        ``"auto"`` uses ``root/manifest.csv`` when it exists; ``None`` always walks
        the class sub-folders.
    classes : sequence of str, optional
        Class order for the integer ``target`` (default: sorted labels).  Labels not
        listed are skipped with a reason.
    path_column, label_column : str
        Manifest column names.
    extensions : tuple of str
        File endings taken as images when walking folders.  Other files are
        reported in ``skipped``.
    validate : bool, default=True
        Decode every image (at a reduced scale, so it is fast) and handle the
        unreadable ones per ``on_error``.
    on_error : {"raise", "skip"}, default="raise"
        ``"raise"`` raises :class:`~dermfeat.InvalidImageError` for the first
        unreadable or missing file; ``"skip"`` leaves it out and lists it with
        the reason in ``skipped``.  Nothing is dropped silently.
    as_frame : bool, default=False
        Also return ``frame``, a pandas DataFrame with columns ``image`` (the
        paths), ``label`` and the extra columns, ready for a
        :class:`~sklearn.compose.ColumnTransformer`.
    n_jobs : int, optional
        Parallel validation.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``filenames`` (str paths), ``target`` (int codes), ``target_names``,
        ``labels`` (class name per image), ``image_sizes`` (height, width per
        image, when validated), ``skipped`` (list of ``(path, reason)``), each
        extra manifest column by name (and ``groups`` when the manifest has a
        ``group`` column), ``frame`` when ``as_frame``, and ``root``.

    Examples
    --------
    >>> import tempfile
    >>> from dermfeat.datasets import load_image_folder, make_lesion_images
    >>> folder = tempfile.mkdtemp()
    >>> _ = make_lesion_images(6, image_size=32, directory=folder, random_state=0)
    >>> data = load_image_folder(folder)
    >>> len(data.filenames), list(data.target_names)
    (6, ['atopic_dermatitis', 'eczema'])
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    root = Path(root)
    if root.is_file():
        manifest, root = root, root.parent
    elif not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder or manifest file")
    if isinstance(manifest, str) and manifest == "auto":
        manifest = root / "manifest.csv" if (root / "manifest.csv").is_file() else None
    if manifest is not None:
        paths, labels, extra, skipped = _read_manifest(Path(manifest), root, path_column, label_column)
    else:
        paths, labels, extra, skipped = _walk_classes(root, tuple(e.lower() for e in extensions))

    target_names = sorted(set(labels)) if classes is None else list(classes)
    index = {name: i for i, name in enumerate(target_names)}
    keep = []
    for i, (path, label) in enumerate(zip(paths, labels)):
        if label not in index:
            skipped.append((str(path), f"label {label!r} is not among classes {target_names}"))
        else:
            keep.append(i)

    sizes = {}
    if validate:
        checks = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(_check_one)(paths[i], str(paths[i])) for i in keep)
        still = []
        for i, (size, reason) in zip(keep, checks):
            if reason is None:
                sizes[i] = size
                still.append(i)
            elif on_error == "raise":
                raise InvalidImageError(str(paths[i]), reason)
            else:
                skipped.append((str(paths[i]), reason))
        keep = still

    labels_kept = np.array([labels[i] for i in keep], dtype=object)
    data = Bunch(
        filenames=np.array([str(paths[i]) for i in keep], dtype=object),
        target=np.array([index[labels[i]] for i in keep], dtype=np.int64),
        target_names=np.array(target_names, dtype=object),
        labels=labels_kept,
        skipped=skipped,
        root=str(root),
    )
    if validate:
        data.image_sizes = np.array([sizes[i] for i in keep], dtype=np.int64).reshape(-1, 2)
    for column, values in extra.items():
        data[column] = _as_column([values[i] for i in keep])
    if "group" in extra:
        data.groups = data["group"]
    if as_frame:
        import pandas as pd

        frame = pd.DataFrame({"image": data.filenames, "label": labels_kept})
        for column in extra:
            frame[column] = data[column]
        data.frame = frame
    return data
