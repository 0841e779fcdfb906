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
from ..io._formats import SUPPORTED_EXTENSIONS
from ..utils._columns import parse_column
from ._files import file_problem, find_image_files


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


def _walk_classes(root, found):
    """Class = first folder below ``root``; files directly in ``root`` have none."""
    paths, labels, skipped = [], [], []
    for path in found:
        parts = Path(os.path.relpath(path, root)).parts
        if len(parts) == 1:
            skipped.append((path, "file directly in the dataset folder, not inside a class folder"))
        elif parts[0].startswith("."):
            skipped.append((path, f"inside the hidden folder {parts[0]!r}, which is not a class"))
        else:
            paths.append(Path(path))
            labels.append(parts[0])
    return paths, labels, {}, skipped


def _read_manifest(manifest, base, path_column, label_column, allow_outside_root):
    """Rows of a manifest CSV, checked: labels stripped, paths kept inside ``base``, duplicates merged."""
    try:
        with open(manifest, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            for needed in (path_column, label_column):
                if needed not in fields:
                    raise ValueError(f"{manifest}: manifest has no {needed!r} column (columns: {', '.join(fields)})")
            rows = [(reader.line_num, row) for row in reader]
    except UnicodeDecodeError as exc:
        raise ValueError(f"{manifest}: manifest is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    base_real = os.path.realpath(base)
    paths, labels, kept, skipped, first = [], [], [], [], {}
    for number, row in rows:  # numbered by line: the header is line 1
        where = f"manifest row {number}"
        raw_path, raw_label = row.get(path_column), row.get(label_column)
        if raw_path is None or not raw_path.strip():
            skipped.append((f"{manifest}:{number}", f"{where} has no path"))
            continue
        path = base / raw_path
        if raw_label is None:
            skipped.append((str(path), f"{where} has no label (the row has too few columns)"))
            continue
        label = raw_label.strip()
        if not label:
            skipped.append((str(path), f"{where} has an empty label"))
            continue
        problem = file_problem(path, base_real, allow_outside_root)
        if problem is not None:
            skipped.append((str(path), f"{where}: {problem}"))
            continue
        key = _key(path)
        if key in first:
            seen_number, seen_label = first[key]
            if seen_label != label:
                raise ValueError(
                    f"{path}: listed twice in {manifest} with different labels: "
                    f"{seen_label!r} (row {seen_number}) and {label!r} (row {number})"
                )
            skipped.append((str(path), f"{where} repeats row {seen_number} (same path and label); taken once"))
            continue
        first[key] = (number, label)
        paths.append(path)
        labels.append(label)
        kept.append(row)
    extra = {f: [row[f] for row in kept] for f in fields if f not in (path_column, label_column)}
    return paths, labels, extra, skipped


def _utf8(text):
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _key(path):
    return os.path.normpath(os.path.abspath(path))


def load_image_folder(
    root,
    *,
    manifest="auto",
    classes=None,
    path_column="path",
    label_column="label",
    extensions=SUPPORTED_EXTENSIONS,
    sniff=True,
    allow_outside_root=False,
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

    Every file under ``root`` is either loaded or listed in ``skipped`` with the
    reason (see :func:`find_image_files` for what counts as an image): files
    directly in ``root`` or in hidden top-level folders have no class; with a
    manifest, images it does not list are reported.  Manifest rows are checked:
    labels are stripped of surrounding spaces, a row without a path or with an
    empty or missing label is skipped, a path listed again with the same label
    is loaded once (the repeat is noted in ``skipped``) and with another label
    raises ``ValueError``; paths that lead outside ``root`` (``..``, absolute
    paths, symbolic links) are refused unless ``allow_outside_root=True``.

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
    extensions : tuple of str, default=dermfeat.io.SUPPORTED_EXTENSIONS
        File endings taken as images when walking folders.
    sniff : bool, default=True
        Also take files whose content is an image of a known raster format,
        whatever their name (an unlisted extension, or none).  Other files are
        reported in ``skipped``.
    allow_outside_root : bool, default=False
        Accept manifest paths and symbolic links that lead outside ``root``
        (the manifest's folder).  By default they are refused and listed in
        ``skipped``, so that a manifest cannot make dermfeat read arbitrary files.
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
    exclude = [] if manifest is None else [manifest]
    found, not_images = find_image_files(root, extensions=extensions, sniff=sniff,
                                         allow_outside_root=allow_outside_root, exclude=exclude)
    if manifest is not None:
        paths, labels, extra, skipped = _read_manifest(Path(manifest), root, path_column, label_column,
                                                       allow_outside_root)
        listed = {_key(p) for p in paths} | {_key(p) for p, _ in skipped}
        skipped += [(p, r) for p, r in not_images if _key(p) not in listed]
        skipped += [(p, "image not listed in the manifest") for p in found if _key(p) not in listed]
    else:
        paths, labels, extra, skipped = _walk_classes(root, found)
        skipped = not_images + skipped

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
        data[column] = parse_column([values[i] for i in keep])
    if "group" in extra:
        data.groups = data["group"]
    if as_frame:
        import pandas as pd

        # file names that are not valid UTF-8 stay Python strings (pandas' text dtype cannot hold them)
        utf8 = all(_utf8(f) for f in data.filenames)
        frame = pd.DataFrame({"image": pd.Series(data.filenames, dtype=None if utf8 else object),
                              "label": pd.Series(labels_kept, dtype=None if utf8 else object)})
        for column in extra:
            frame[column] = data[column]
        data.frame = frame
    return data
