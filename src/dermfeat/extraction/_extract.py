"""Streaming feature extraction to Parquet (or ``.npy`` + CSV): batches, resume, error file."""

from __future__ import annotations

import copy
import json
import os
import shutil
import time
import warnings
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from .. import __version__
from .._exceptions import InvalidImageError, SkippedImagesWarning
from .._progress import progress_bar
from ..base._image_transformer import feature_state
from ..base._inputs import as_image_list
from ..io import image_name
from ._output import (
    _META_KEY,
    RESERVED_COLUMNS,
    _atomic_write,
    _binary_columns,
    _NpySink,
    _ParquetSink,
    _refresh_errors,
    _write_errors,
    output_paths,
)

_PART = "part-{:07d}"
_RUN_FILE = "run.json"


# ------------------------------------------------------------ transformer
def _ensure_fitted(transformer, first_batch):
    try:
        check_is_fitted(transformer)
        return transformer
    except NotFittedError:
        pass
    except TypeError:  # not an estimator: use as is
        return transformer
    sample = list(first_batch)
    while True:
        try:
            return clone(transformer).fit(sample)
        except InvalidImageError as exc:  # fit (e.g. of a preprocessing step) on the readable images
            bad = [i for i, s in enumerate(sample) if image_name(s, i) == exc.source]
            if not bad or len(sample) == 1:
                raise
            del sample[bad[0]]


def _identity(source, index):
    """The name an image is stored under: a path exactly as the operating system gave it.

    :func:`~dermfeat.io.image_name` escapes bytes that are not UTF-8 for messages;
    the output keeps the path itself, so that it can be opened again.
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(os.fspath(source))
    return image_name(source, index)


def _serial_copy(transformer):
    """A copy whose nested ``n_jobs`` are ``None``: on a cluster, the cluster parallelises."""
    out = copy.deepcopy(transformer)
    if hasattr(out, "get_params") and hasattr(out, "set_params"):
        keys = [k for k in out.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        if keys:
            out.set_params(**dict.fromkeys(keys))
    return out


def _state_key(transformer):
    try:
        return joblib.hash(feature_state(transformer))
    except Exception:  # not a scikit-learn estimator, or unpicklable parameters
        return joblib.hash(repr(transformer))


def _dense(features):
    if hasattr(features, "toarray"):
        features = features.toarray()
    return np.asarray(features)


def _extract_batch(transformer, batch):
    """One batch: ``(start, sources)`` -> ``(features of readable images, their positions, errors)``.

    Uses ``transform_with_errors`` when the transformer has it (every
    :class:`~dermfeat.base.BaseImageTransformer`); other transformers are run on
    the whole batch and, if an image is invalid, image by image.
    """
    _, sources = batch
    if hasattr(transformer, "transform_with_errors"):
        features, found = transformer.transform_with_errors(sources)
        features = _dense(features)
        errors = [(j, reason) for j, _, reason in found]
    else:
        try:
            features, errors = _dense(transformer.transform(sources)), []
        except InvalidImageError:
            rows, errors = [], []
            for j, source in enumerate(sources):
                try:
                    rows.append(_dense(transformer.transform([source]))[0])
                except InvalidImageError as exc:
                    errors.append((j, exc.reason))
            features = np.vstack(rows) if rows else np.empty((0, 0))
            bad = {j for j, _ in errors}
            keep = np.array([j for j in range(len(sources)) if j not in bad], dtype=np.int64)
            return features, keep, errors
    bad = {j for j, _ in errors}
    keep = np.array([j for j in range(len(sources)) if j not in bad], dtype=np.int64)
    if features.ndim != 2 or features.shape[0] != len(sources):
        raise RuntimeError(
            f"{type(transformer).__name__}.transform returned shape {features.shape} for {len(sources)} images"
        )
    return features[keep], keep, errors


def _declared_names(transformer):
    # a Pipeline of image preprocessors + extractor: the names are the extractor's
    for candidate in (transformer, getattr(transformer, "steps", [(None, None)])[-1][1]):
        try:
            return [str(n) for n in candidate.get_feature_names_out()]
        except Exception:
            continue
    return None


def _feature_names(transformer, width):
    names = _declared_names(transformer)
    if names is None or len(names) != width or len(set(names)) != width or set(names) & set(RESERVED_COLUMNS):
        names = [f"feature_{j}" for j in range(width)]
    return names


# ------------------------------------------------------------------ parts
def _write_part(parts, index, start, features, keep, errors):
    stem = parts / _PART.format(index)
    def save(tmp):
        with open(tmp, "wb") as fh:
            np.save(fh, features, allow_pickle=False)

    _atomic_write(stem.with_suffix(".npy"), save)
    record = {"start": start, "rows": (start + keep).tolist(), "errors": [[start + j, r] for j, r in errors]}
    # the .json is the part's commit mark: written last, so a part without it is redone
    _atomic_write(stem.with_suffix(".json"), lambda p: p.write_text(json.dumps(record)))


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
    _atomic_write(run_file, lambda p: p.write_text(json.dumps({"run_key": run_key, "dermfeat": __version__})))


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
        _atomic_write(paths.features, lambda p: fill(_ParquetSink(p, feature_names, dtype, labels, groups, metadata)))
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

        _atomic_write(paths.features, write_npy)
        _atomic_write(paths.meta, lambda p: p.write_text(json.dumps(metadata, indent=1)))
    shutil.rmtree(parts)
    return metadata, all_errors


# -------------------------------------------------------------- public API
def _as_column(values, n, what):
    if values is None:
        return None
    values = np.asarray(list(values) if hasattr(values, "iloc") else values)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"{what} must have one entry per image ({n}), got shape {values.shape}")
    return values


def extract_features(
    transformer,
    images,
    output,
    *,
    labels=None,
    groups=None,
    batch_size=512,
    resume=True,
    progress="auto",
    scheduler=None,
    on_error="skip",
    skipped=(),
):
    """Stream images in batches through a transformer and write the features to disk.

    Memory is bounded by ``batch_size``, not by the number of images: each batch
    is extracted, saved as a part file and dropped; at the end the parts are
    streamed, one batch at a time, into the output (one Parquet row group per
    batch) and removed.  A run that stops half-way (error, interruption, lost
    cluster) keeps its parts, and a rerun of the same job only extracts the
    missing batches; a rerun after a finished run does nothing.  Images that
    cannot be read are left out of the output and listed, with the reason, in a
    side file ``<stem>.errors.csv``.

    Parameters
    ----------
    transformer : transformer
        Any scikit-learn transformer that takes images (paths, arrays; see
        :func:`dermfeat.base.as_image_list`): a
        :class:`~dermfeat.base.BaseImageTransformer`, a
        :class:`~sklearn.pipeline.FeatureUnion` of them, a preprocessing
        :class:`~sklearn.pipeline.Pipeline`, ...  Unfitted transformers are
        cloned and fitted on the readable images of the first batch (stateless
        extractors do not read the images in ``fit``).  Give it a feature cache
        (``memory=``) so that reruns over a grown image list only compute the
        new images.
    images : sequence of paths or arrays
        The images, in output order.
    output : path-like
        ``*.parquet`` (columns ``file``, ``label``, ``group``, then one column per
        feature; provenance in the schema metadata) or ``*.npy`` (the feature
        matrix, with ``<stem>.csv`` listing file, label and group per row and
        ``<stem>.json`` the feature names).  Without pyarrow, Parquet falls back
        to ``.npy``.  See :func:`output_paths`; read it back with
        :func:`read_features`.
    labels, groups : array-like of shape (n_images,), optional
        Written as the ``label`` and ``group`` columns.
    batch_size : int, default=512
        Images per batch: the unit of memory, of resuming, of a Parquet row group
        and of a cluster task.
    resume : bool, default=True
        Reuse the results of an earlier run of the same job (same transformer
        parameters, images, labels, groups and batch size).  ``False`` starts
        over.
    progress : "auto" or bool, default="auto"
        Show a ``tqdm.auto`` progress bar: ``"auto"`` when stderr is a terminal
        or in a Jupyter notebook, ``True`` always (logs too), ``False`` never.
    scheduler : str, dask.distributed.Client, cluster or None, default=None
        ``None`` extracts in this process (with the transformer's own
        ``n_jobs``).  A scheduler address (``"tcp://host:8786"``), a ``Client``
        or a cluster object sends each batch to a Dask cluster as one task (the
        transformer's ``n_jobs`` are set to ``None`` there); the images, ONNX
        models and feature cache must be at the same paths on every worker.
        The output is identical either way.
    on_error : {"skip", "raise"}, default="skip"
        ``"skip"`` leaves unreadable images out, lists them in the error file
        and warns (:class:`~dermfeat.SkippedImagesWarning`); ``"raise"`` stops at
        the first one with :class:`~dermfeat.InvalidImageError` (the finished
        batches are kept for a rerun).
    skipped : sequence of (str, str), default=()
        ``(file, reason)`` pairs rejected before extraction (e.g. the
        ``skipped`` of :func:`~dermfeat.datasets.load_image_folder`), written to
        the error file first.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``output``, ``errors_path``, ``format``, ``n_images``, ``n_rows`` (images
        written), ``n_errors``, ``n_computed`` (images extracted by this call),
        ``n_resumed`` (images taken from an earlier run), ``feature_names``,
        ``errors`` (list of ``(file, reason)``) and ``elapsed`` (seconds).

    See Also
    --------
    read_features : Load the written features.
    dask_parallel : Grid searches and cross-validation on a Dask cluster.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.extraction import extract_features, read_features
    >>> from dermfeat.features import QualityFeatures
    >>> folder = Path(tempfile.mkdtemp())
    >>> data = make_lesion_images(10, image_size=48, directory=folder / "images", random_state=0)
    >>> result = extract_features(QualityFeatures(), data.filenames, folder / "features.parquet",
    ...                           labels=data.labels, batch_size=4, progress=False)
    >>> result.n_rows, result.n_errors, result.n_computed
    (10, 0, 10)
    >>> again = extract_features(QualityFeatures(), data.filenames, folder / "features.parquet",
    ...                          labels=data.labels, batch_size=4, progress=False)
    >>> again.n_computed, again.n_resumed
    (0, 10)
    >>> features = read_features(folder / "features.parquet")
    >>> features.X.shape, list(features.frame.columns[:3])
    ((10, 10), ['file', 'label', 'blur_laplacian_var'])
    """
    if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    start_time = time.perf_counter()
    paths = output_paths(output)
    if paths.format == "npy" and Path(output).suffix.lower() != ".npy":
        warnings.warn(f"pyarrow is not installed; writing {paths.features} (+ .csv, .json) instead of {output}",
                      UserWarning, stacklevel=2)
    sources = as_image_list(images)
    n = len(sources)
    names = [_identity(s, i) for i, s in enumerate(sources)]
    labels = _as_column(labels, n, "labels")
    groups = _as_column(groups, n, "groups")
    transformer = _ensure_fitted(transformer, sources[:batch_size])
    run_key = joblib.hash([_state_key(transformer), names, labels, groups, int(batch_size)])
    n_batches = -(-n // batch_size)
    metadata = {"run_key": run_key, "dermfeat": __version__, "transformer": repr(transformer)[:2000],
                "n_images": n, "batch_size": int(batch_size)}

    def result(info, errors, computed):
        return Bunch(
            output=str(paths.features), errors_path=str(paths.errors), format=paths.format, n_images=n,
            n_rows=int(info["n_rows"]), n_errors=len(errors), n_computed=computed, n_resumed=n - computed,
            feature_names=np.asarray(info["feature_names"], dtype=object), errors=errors,
            elapsed=time.perf_counter() - start_time,
        )

    if resume:
        info = _completed_info(paths, run_key)
        if info is not None:
            return result(info, _refresh_errors(paths.errors, names, skipped), 0)
    paths.features.parent.mkdir(parents=True, exist_ok=True)
    _prepare_parts(paths.parts, run_key, resume)
    todo = [b for b in range(n_batches) if not _part_done(paths.parts, b)]
    computed = sum(len(range(b * batch_size, min(n, (b + 1) * batch_size))) for b in todo)

    bar = progress_bar(total=n, unit="img", desc="extract", progress=progress)
    bar.update(n - computed)
    batches = ((b * batch_size, sources[b * batch_size:(b + 1) * batch_size]) for b in todo)
    try:
        if scheduler is None:
            finished = ((batch, _extract_batch(transformer, batch)) for batch in batches)
            _store(finished, paths, names, batch_size, on_error, bar)
        else:
            from ._dask import dask_client, map_batches

            with dask_client(scheduler) as client:
                finished = map_batches(client, _extract_batch, _serial_copy(transformer), batches)
                _store(finished, paths, names, batch_size, on_error, bar)
    finally:
        bar.close()
    info, errors = _consolidate(paths, n_batches, names, labels, groups, transformer, metadata, list(skipped))
    if errors and on_error == "skip":
        warnings.warn(
            f"{len(errors)} of {n + len(skipped)} images could not be read and are not in {paths.features}; "
            f"each is listed with the reason in {paths.errors}",
            SkippedImagesWarning,
            stacklevel=2,
        )
    return result(info, errors, computed)


def _store(finished, paths, names, batch_size, on_error, bar):
    for (start, sources), (features, keep, errors) in finished:
        if errors and on_error == "raise":
            j, reason = errors[0]
            raise InvalidImageError(names[start + j], reason)
        _write_part(paths.parts, start // batch_size, start, features, keep, errors)
        bar.update(len(sources))
