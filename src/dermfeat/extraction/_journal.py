"""The run journal of an extraction: numbered part files with commit marks, resuming, and the final consolidation.

Each finished batch is saved as ``part-NNNNNNN.npy`` with a ``.json`` record
written last (its commit mark); ``run.json`` names the job, so that a run of
the same job resumes from the parts already committed, and
:func:`_consolidate` streams the parts, in input order, into the output.
"""

from __future__ import annotations

import json
import os
import shutil

import numpy as np

from .. import __version__
from ..utils._files import atomic_write
from ._batches import _declared_names, _feature_names
from ._output import _META_KEY, RESERVED_COLUMNS, _binary_columns, _NpySink, _ParquetSink, _write_errors

_PART = "part-{:07d}"
_RUN_FILE = "run.json"


def _write_part(parts, index, start, features, keep, errors):
    stem = parts / _PART.format(index)
    def save(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, features, allow_pickle=False)

    atomic_write(stem.with_suffix(".npy"), save)
    record = {"start": start, "rows": (start + keep).tolist(), "errors": [[start + j, r] for j, r in errors]}
    # the .json is the part's commit mark: written last, so a part without it is redone
    atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(record)))


def _read_part(parts, index):
    stem = parts / _PART.format(index)
    record = json.loads(stem.with_suffix(".json").read_text())
    return record, stem.with_suffix(".npy")


def _part_done(parts, index):
    stem = parts / _PART.format(index)
    return stem.with_suffix(".json").is_file() and stem.with_suffix(".npy").is_file()


def _prepare_parts(parts, run_key, resume):
    """Create the parts folder, or keep it for a resumed run of the same job."""
    run_file = parts / _RUN_FILE
    if parts.exists():
        if not run_file.is_file():
            raise FileExistsError(f"{parts} exists and is not a dermfeat parts folder; move it away")
        try:
            same = json.loads(run_file.read_text()).get("run_key") == run_key
        except (OSError, ValueError):
            same = False
        if resume and same:
            return
        shutil.rmtree(parts)
    parts.mkdir(parents=True)
    atomic_write(run_file, lambda p: p.write_text(json.dumps({"run_key": run_key, "dermfeat": __version__})))


def _completed_info(paths, run_key):
    """Metadata of a finished output of the same job, or ``None``."""
    try:
        if paths.format == "parquet":
            import pyarrow.parquet as pq

            if not paths.features.is_file():
                return None
            info = json.loads(pq.read_schema(paths.features).metadata[_META_KEY])
        else:
            if not (paths.meta.is_file() and paths.features.is_file() and paths.rows.is_file()):
                return None
            info = json.loads(paths.meta.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if info.get("run_key") != run_key or not paths.errors.is_file():
        return None
    return info


def _consolidate(paths, n_batches, names, labels, groups, transformer, metadata, skipped):
    """Stream the parts, in input order, into the final file: one batch in memory at a time."""
    parts = paths.parts
    shapes, n_rows, errors = [], 0, []
    for index in range(n_batches):
        record, npy = _read_part(parts, index)
        shapes.append(np.load(npy, mmap_mode="r").shape if record["rows"] else None)
        n_rows += len(record["rows"])
        errors.extend((names[i], reason) for i, reason in record["errors"])
    widths = {s[1] for s in shapes if s is not None}
    if len(widths) > 1:
        raise RuntimeError(f"batches gave different numbers of features: {sorted(widths)}")
    if widths:
        width = widths.pop()
        dtypes = [np.load(parts / (_PART.format(i) + ".npy"), mmap_mode="r").dtype
                  for i, s in enumerate(shapes) if s is not None]
        dtype = np.result_type(*dtypes)
    else:
        width = len(_declared_names(transformer) or ())
        dtype = np.dtype(np.float64)
    if dtype.kind not in "fiub":
        dtype = np.dtype(np.float64)
    feature_names = _feature_names(transformer, width)
    metadata = dict(metadata, feature_names=feature_names, n_rows=n_rows, n_errors=len(errors) + len(skipped),
                    has_label=labels is not None, has_group=groups is not None)
    if paths.format == "parquet":
        metadata["binary_columns"] = _binary_columns(names, labels, groups)
    all_errors = [(str(f), str(r)) for f, r in skipped] + errors
    _write_errors(paths.errors, all_errors)

    def fill(sink):
        try:
            for index in range(n_batches):
                record, npy = _read_part(parts, index)
                if not record["rows"]:
                    continue
                rows = np.asarray(record["rows"], dtype=np.int64)
                sink.write([names[i] for i in rows], rows, np.load(npy))
        finally:
            sink.close()

    if paths.format == "parquet":
        atomic_write(paths.features, lambda p: fill(_ParquetSink(p, feature_names, dtype, labels, groups, metadata)))
    else:
        if paths.meta.exists():  # the commit mark of an older output goes first
            paths.meta.unlink()
        rows_tmp = paths.rows.with_name(f".{paths.rows.name}.{os.getpid()}.tmp")

        def write_npy(tmp):
            try:
                fill(_NpySink(tmp, rows_tmp, n_rows, width, dtype, labels, groups))
                os.replace(rows_tmp, paths.rows)
            finally:
                if rows_tmp.exists():
                    rows_tmp.unlink()

        atomic_write(paths.features, write_npy)
        atomic_write(paths.meta, lambda p: p.write_text(json.dumps(metadata, indent=1)))
    shutil.rmtree(parts)
    return metadata, all_errors
