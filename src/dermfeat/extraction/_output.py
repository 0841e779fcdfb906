"""Extraction output: file paths, Parquet and ``.npy`` writers, the error file, reading back."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

from ..utils._columns import parse_column
from ..utils._files import atomic_write

#: Columns written before the features.
RESERVED_COLUMNS = ("file", "label", "group")
_META_KEY = b"dermfeat"

# ------------------------------------------------------------------ paths
def _has_pyarrow():
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        return False
    return True


def output_paths(output):
    """Where :func:`extract_features` writes for ``output``.

    Parameters
    ----------
    output : path-like
        The features file: ``*.npy`` for a NumPy array, anything else (usually
        ``*.parquet``) for Parquet.  Without pyarrow, Parquet falls back to
        ``.npy`` (same stem).

    Returns
    -------
    paths : :class:`~sklearn.utils.Bunch`
        ``format`` (``"parquet"`` or ``"npy"``), ``features`` (the main file),
        ``errors`` (``<stem>.errors.csv``: file and reason of every image left
        out), ``parts`` (``<name>.parts``: per-batch results of an unfinished
        run), and for ``.npy`` also ``rows`` (``<stem>.csv``: file, label and
        group of each row) and ``meta`` (``<stem>.json``: feature names and
        provenance, written last).

    Examples
    --------
    >>> from dermfeat.extraction import output_paths
    >>> paths = output_paths("features.parquet")
    >>> paths.format, paths.errors.name, paths.parts.name
    ('parquet', 'features.errors.csv', 'features.parquet.parts')
    >>> output_paths("features.npy").rows.name
    'features.csv'
    """
    path = Path(output)
    fmt = "npy" if path.suffix.lower() == ".npy" else "parquet"
    if fmt == "parquet" and not _has_pyarrow():
        fmt, path = "npy", path.with_suffix(".npy")
    paths = Bunch(format=fmt, features=path, errors=path.with_suffix(".errors.csv"),
                  parts=path.with_name(path.name + ".parts"))
    if fmt == "npy":
        paths.rows = path.with_suffix(".csv")
        paths.meta = path.with_suffix(".json")
    return paths


# ---------------------------------------------------------------- writers
def _column_values(values, rows):
    return [v.item() if hasattr(v, "item") else v for v in values[rows]]


def _utf8(value):
    """Whether a value can be written as UTF-8 text (file names from the disk may not)."""
    if not isinstance(value, str):
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _binary_columns(names, labels, groups):
    """Text columns holding names that are not valid UTF-8 (undecodable bytes of a file name).

    Parquet text must be UTF-8, so these columns are written as binary: the
    file-system bytes of each value (:func:`os.fsencode`), which
    :func:`read_features` decodes back (:func:`os.fsdecode`) to the same strings.
    """
    out = [] if all(map(_utf8, names)) else ["file"]
    for column, values in (("label", labels), ("group", groups)):
        if values is not None and values.dtype.kind in "OU" and not all(map(_utf8, values.tolist())):
            out.append(column)
    return out


class _ParquetSink:
    """Appends one row group per batch with ``pyarrow.parquet.ParquetWriter``."""

    def __init__(self, path, feature_names, dtype, labels, groups, metadata):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self._pa = pa
        self._binary = set(metadata.get("binary_columns", ()))
        fields = [pa.field("file", pa.binary() if "file" in self._binary else pa.string())]
        self._types = {}
        for name, values in (("label", labels), ("group", groups)):
            if values is not None:
                self._types[name] = (pa.binary() if name in self._binary
                                     else pa.array(_column_values(values, slice(None))).type)
                fields.append(pa.field(name, self._types[name]))
        value_type = pa.from_numpy_dtype(dtype)
        fields += [pa.field(name, value_type) for name in feature_names]
        self.schema = pa.schema(fields, metadata={_META_KEY: json.dumps(metadata).encode()})
        self.labels, self.groups, self.dtype = labels, groups, dtype
        self.writer = pq.ParquetWriter(path, self.schema)

    def _values(self, name, values):
        return [os.fsencode(str(v)) for v in values] if name in self._binary else values

    def write(self, files, rows, features):
        pa = self._pa
        columns = [pa.array(self._values("file", files), type=self.schema.field("file").type)]
        for name, values in (("label", self.labels), ("group", self.groups)):
            if values is not None:
                columns.append(pa.array(self._values(name, _column_values(values, rows)), type=self._types[name]))
        features = np.asarray(features, dtype=self.dtype)
        columns += [pa.array(np.ascontiguousarray(features[:, j])) for j in range(features.shape[1])]
        self.writer.write_table(pa.Table.from_arrays(columns, schema=self.schema))

    def close(self):
        self.writer.close()


class _NpySink:
    """Fills a memory-mapped ``.npy`` and appends rows (file, label, group) to a CSV."""

    def __init__(self, path, rows_path, n_rows, width, dtype, labels, groups):
        self.features = np.lib.format.open_memmap(path, mode="w+", dtype=dtype, shape=(n_rows, width))
        # file names that are not valid UTF-8 keep their bytes (read back with the same error handler)
        self._fh = open(rows_path, "w", newline="", encoding="utf-8", errors="surrogateescape")
        self._csv = csv.writer(self._fh)
        header = ["file"] + [n for n, v in (("label", labels), ("group", groups)) if v is not None]
        self._csv.writerow(header)
        self.labels, self.groups, self._at = labels, groups, 0

    def write(self, files, rows, features):
        n = len(files)
        self.features[self._at:self._at + n] = features
        self._at += n
        extra = [_column_values(v, rows) for v in (self.labels, self.groups) if v is not None]
        self._csv.writerows(zip(files, *extra))

    def close(self):
        self.features.flush()
        del self.features
        self._fh.close()


def _read_errors(path):
    if not Path(path).is_file():
        return []
    with open(path, newline="", encoding="utf-8", errors="surrogateescape") as fh:
        return [(row["file"], row["reason"]) for row in csv.DictReader(fh)]


def _write_errors(path, errors):
    def write(tmp):
        # a file name that is not valid UTF-8 is written as its own bytes: lossless, and read back alike
        with open(tmp, "w", newline="", encoding="utf-8", errors="surrogateescape") as fh:
            out = csv.writer(fh)
            out.writerow(["file", "reason"])
            out.writerows(errors)

    atomic_write(path, write)


def _refresh_errors(path, names, skipped):
    """The error file of a finished run, with the ``skipped`` files of this call.

    Files rejected before extraction (a new stray file, say) may differ between
    runs of one job; the extraction errors (files among ``names``) are kept.
    """
    old = _read_errors(path)
    extracted = set(names)
    errors = [(str(f), str(r)) for f, r in skipped] + [(f, r) for f, r in old if f in extracted]
    if errors != old:
        _write_errors(path, errors)
    return errors


def read_features(path):
    """Load features written by :func:`extract_features`.

    Parameters
    ----------
    path : path-like
        The ``.parquet`` or ``.npy`` file.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X`` (ndarray of shape (n_rows, n_features)), ``feature_names``,
        ``filenames``, ``labels`` and ``groups`` (when written, else ``None``),
        ``frame`` (a pandas DataFrame with all columns, when pandas is
        installed), ``errors`` (``(file, reason)`` pairs of the error file) and
        ``metadata`` (provenance: dermfeat version, transformer, run key).

    Examples
    --------
    >>> from dermfeat.extraction import read_features
    >>> data = read_features("features.parquet")  # doctest: +SKIP
    >>> data.X.shape  # doctest: +SKIP
    (10, 10)
    """
    paths = output_paths(path)
    if paths.format == "parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(paths.features)
        meta = json.loads(table.schema.metadata[_META_KEY])
        names = meta["feature_names"]
        X = (np.column_stack([table.column(c).to_numpy() for c in names]) if names
             else np.empty((table.num_rows, 0)))
        columns = {c: table.column(c).to_numpy(zero_copy_only=False) for c in RESERVED_COLUMNS
                   if c in table.column_names}
        for c in meta.get("binary_columns", ()):  # names that are not UTF-8, stored as their bytes
            if c in columns:
                columns[c] = np.array([os.fsdecode(v) for v in columns[c]], dtype=object)
    else:
        meta = json.loads(paths.meta.read_text())
        names = meta["feature_names"]
        X = np.load(paths.features)
        with open(paths.rows, newline="", encoding="utf-8", errors="surrogateescape") as fh:
            rows = list(csv.DictReader(fh))
        columns = {c: parse_column([r[c] for r in rows]) for c in RESERVED_COLUMNS if rows and c in rows[0]}
        if not rows:
            columns = {"file": np.array([], dtype=object)}
    filenames = np.asarray(columns["file"], dtype=object)
    data = Bunch(
        X=X, feature_names=np.asarray(names, dtype=object), filenames=filenames,
        labels=columns.get("label"), groups=columns.get("group"),
        errors=_read_errors(paths.errors), metadata=meta,
    )
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is an optional extra
        return data
    # names that are not valid UTF-8 stay Python strings (pandas' text dtype cannot hold them)
    frame = pd.DataFrame({c: pd.Series(v, dtype=None if all(map(_utf8, v.tolist())) else object)
                          for c, v in columns.items()})
    data.frame = pd.concat([frame, pd.DataFrame(X, columns=list(names))], axis=1)
    return data
