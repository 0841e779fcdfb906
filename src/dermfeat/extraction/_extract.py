"""Streaming feature extraction to Parquet (or ``.npy`` + CSV): the orchestration of a run.

:func:`extract_features` cuts the images into batches, sends each through the
transformer (:mod:`._batches`), here or on a Dask cluster, commits it to the
run journal (:mod:`._journal`) and finally writes the output (:mod:`._output`).
"""

from __future__ import annotations

import sys
import time
import warnings
from numbers import Integral
from pathlib import Path

import joblib
import numpy as np
from sklearn.utils import Bunch

from .. import __version__
from .._exceptions import InvalidImageError, SkippedImagesWarning
from .._progress import progress_bar
from ..base._inputs import as_image_list
from ._batches import _ensure_fitted, _extract_batch, _identity, _serial_copy, _state_key
from ._journal import _completed_info, _consolidate, _part_done, _prepare_parts, _write_part
from ._output import _refresh_errors, output_paths


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
