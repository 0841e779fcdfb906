"""The execution engine of the image estimators: chunks of images, looked up, computed and merged, by a named strategy.

One ``transform`` call of a :class:`~dermfeat.base.BaseImageTransformer` is a
:class:`Job`: the input is cut into chunks; each chunk is *looked up* (cache
hits are taken, the misses are decoded and prepared, giving a :class:`Chunk`)
and then *computed* (the prepared misses go through ``_compute`` in one batch
and are stored in the cache); the chunks' rows and errors are merged in input
order.  How the chunks are spread over the machine is a *strategy*, chosen by
name (:data:`STRATEGIES`):

* ``"serial"``: one chunk after the other, in this thread.
* ``"processes"``: chunks spread over ``n_jobs`` joblib workers (used whenever
  the estimator's ``n_jobs`` asks for more than one).
* ``"prepare_then_infer"``: each chunk is prepared by several threads, then
  computed with every core (for a model that keeps all its cores busy, such as
  an ONNX backbone).

An estimator selects its strategy with the class attribute ``_strategy`` and,
for the threaded one, says how many threads it may use with
``_n_prepare_threads()``; it never overrides the engine.
"""

from __future__ import annotations

import dataclasses
import functools
from concurrent.futures import ThreadPoolExecutor

import joblib
import numpy as np

from .._exceptions import InvalidImageError
from .._progress import images_done
from ..io import source_bytes
from ._cache import source_hash
from ._errors import as_image_error
from ._threads import _one_opencv_thread, opencv_single_threaded

__all__ = ["CHUNK_SIZE", "STRATEGIES", "Chunk", "Job", "map_chunks"]

#: Images per chunk when the estimator has no ``batch_size``.
CHUNK_SIZE = 16


def _ranges(n, size):
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def chunk_size(estimator):
    """Images per chunk: the estimator's ``batch_size`` if it has one, else :data:`CHUNK_SIZE`."""
    return max(1, int(getattr(estimator, "batch_size", None) or CHUNK_SIZE))


def wants_processes(estimator, n_chunks):
    """Whether the estimator's ``n_jobs`` asks for worker processes (and there is more than one chunk)."""
    return getattr(estimator, "n_jobs", None) not in (None, 1) and n_chunks > 1


def map_chunks(estimator, func, sources, names, *, processes=None):
    """``func(sources_chunk, names_chunk)`` over the chunks, in input order, serially or in processes.

    ``processes``: ``None`` decides by the estimator's ``n_jobs``.  Every finished
    chunk moves the progress bar of :func:`dermfeat.show_progress`, if one is shown.
    """
    chunks = _ranges(len(sources), chunk_size(estimator))
    parts = [([sources[i] for i in c], [names[i] for i in c]) for c in chunks]
    if processes is None:
        processes = wants_processes(estimator, len(chunks))
    if processes:
        parallel = joblib.Parallel(n_jobs=estimator.n_jobs, return_as="generator")
        task = joblib.delayed(functools.partial(_one_opencv_thread, func))
        results = parallel(task(*part) for part in parts)
    else:
        results = (func(*part) for part in parts)
    out = []
    for part, result in zip(parts, results):
        out.append(result)
        images_done(len(part[1]))
    return out


# --------------------------------------------------------------------------- the state
@dataclasses.dataclass
class Chunk:
    """One chunk between look-up and compute.

    Attributes
    ----------
    rows : ndarray of shape (n_images, n_features)
        Rows found in the cache; NaN elsewhere until computed.
    errors : list of (int, str, str)
        ``(index in the chunk, source name, reason)`` of the images that failed.
    todo : list of (int, str or None, object)
        ``(index in the chunk, cache key, prepared image)`` of the images to compute.
    names : list of str
        The source names of the chunk's images.
    """

    rows: np.ndarray
    errors: list
    todo: list
    names: list

    @classmethod
    def merge(cls, chunks):
        """Consecutive parts of one chunk as one chunk (indices shifted to the whole)."""
        if len(chunks) == 1:
            return chunks[0]
        merged, offset = cls([], [], [], []), 0
        for part in chunks:
            merged.errors.extend((offset + j, name, reason) for j, name, reason in part.errors)
            merged.todo.extend((offset + j, key, prepared) for j, key, prepared in part.todo)
            merged.names.extend(part.names)
            offset += part.rows.shape[0]
        merged.rows = np.vstack([part.rows for part in chunks])
        return merged


@dataclasses.dataclass
class Job:
    """One ``transform`` call of a feature extractor: what stays the same for all its chunks.

    Attributes
    ----------
    transformer : BaseImageTransformer
        Fitted.
    cache : FeatureCache or None
        The feature cache (its state key is computed once per call).
    raising : bool
        Raise at the first invalid image (else collect the errors).
    """

    transformer: object
    cache: object
    raising: bool

    def lookup(self, sources, names):
        """Cache look-ups, then decode and prepare the misses: a :class:`Chunk`."""
        transformer, cache = self.transformer, self.cache
        n_features = transformer.n_features_out_
        chunk = Chunk(np.full((len(sources), n_features), np.nan, dtype=transformer._output_dtype), [], [], names)
        hits, hit_rows = [], []
        for j, (source, name) in enumerate(zip(sources, names)):
            try:
                key = content = None
                if cache is not None:
                    # stat-memoised: an unchanged file is neither read nor hashed again
                    key, content = source_hash(source, name)
                    row = cache.get(key)
                    if row is not None and row.shape == (n_features,):
                        hits.append(j)
                        hit_rows.append(row)
                        continue
                if content is None:
                    content = source_bytes(source, name)
                chunk.todo.append((j, key, transformer._prepare(transformer._decode(content, name))))
            except Exception as exc:  # noqa: BLE001 - sorted by as_image_error
                error = as_image_error(exc, name, f"reading and preparing the image for {type(transformer).__name__}")
                if error is None:
                    raise
                if self.raising:
                    raise error from (None if error is exc else exc)
                chunk.errors.append((j, name, error.reason))
        if hits:
            chunk.rows[hits] = hit_rows
        return chunk

    def compute(self, chunk, **options):
        """Compute the chunk's misses in one batch and store them: ``(rows, errors)``.

        ``options`` are passed on to the transformer's ``_compute``.  If the batch
        fails, each image is computed alone, so that only the images that fail are
        reported (see :func:`~dermfeat.base._errors.as_image_error`); so are
        images whose features are not finite.
        """
        transformer, names = self.transformer, chunk.names
        if not chunk.todo:
            return chunk.rows, chunk.errors
        label = f"computing {type(transformer).__name__} features"
        try:
            rows = list(zip(chunk.todo, self._computed(chunk.todo, options)))
        except Exception as exc:  # noqa: BLE001 - sorted by as_image_error
            if len(chunk.todo) == 1:
                error = as_image_error(exc, names[chunk.todo[0][0]], label)
                if error is None:
                    raise
                rows = [(chunk.todo[0], error)]
            else:
                rows = []
                for item in chunk.todo:
                    try:
                        rows.append((item, self._computed([item], options)[0]))
                    except Exception as one:  # noqa: BLE001
                        error = as_image_error(one, names[item[0]], label)
                        if error is None:
                            raise
                        rows.append((item, error))
        out, failed = chunk.rows, []
        for (j, key, _), row in rows:
            if not isinstance(row, InvalidImageError) and not np.all(np.isfinite(row)):
                reason = f"{type(transformer).__name__} produced non-finite features (NaN or inf)"
                row = InvalidImageError(names[j], reason)
            if isinstance(row, InvalidImageError):
                if self.raising:
                    raise row
                failed.append((j, names[j], row.reason))
                continue
            out[j] = row
            if self.cache is not None:
                self.cache.set(key, row)
        return out, sorted(chunk.errors + failed) if failed else chunk.errors

    def _computed(self, todo, options):
        """``transformer._compute`` on the prepared items of ``todo``, checked for shape."""
        transformer = self.transformer
        computed = np.asarray(transformer._compute([p for _, _, p in todo], **options), dtype=transformer._output_dtype)
        if computed.shape != (len(todo), transformer.n_features_out_):
            raise AssertionError(
                f"{type(transformer).__name__} computed features of shape {computed.shape}, "
                f"expected {(len(todo), transformer.n_features_out_)}"
            )
        return computed

    def __call__(self, sources, names):
        """Look up and compute one chunk: ``(rows, errors)``."""
        return self.compute(self.lookup(sources, names))

    # ------------------------------------------------------------------ strategies
    def run(self, sources, names):
        """Every chunk, by the strategy the transformer selects: a list of ``(rows, errors)`` in input order."""
        n_chunks = len(_ranges(len(sources), chunk_size(self.transformer)))
        if wants_processes(self.transformer, n_chunks):
            strategy = "processes"
        else:
            strategy = getattr(self.transformer, "_strategy", "serial")
        return STRATEGIES[strategy](self, sources, names)


def run_serial(job, sources, names):
    """Strategy ``"serial"``: one chunk after the other, in this thread."""
    return map_chunks(job.transformer, job, sources, names, processes=False)


def run_processes(job, sources, names):
    """Strategy ``"processes"``: chunks spread over the transformer's ``n_jobs`` joblib workers."""
    return map_chunks(job.transformer, job, sources, names, processes=True)


def run_prepare_then_infer(job, sources, names):
    """Strategy ``"prepare_then_infer"``: prepare each chunk on every core, then compute it with every core.

    Preparation (reading, decoding, resizing) and inference alternate rather
    than overlap: a backbone keeps all the cores it is given busy, so preparing
    the next chunk beside it only takes cores from it, and costs extra CPU
    besides (threads competing for the same cores and caches).  Preparing one
    chunk with as many threads as the model has, then running the model, was
    measured faster on EfficientNet-Lite0 (see ``benchmarks/bench_embeddings.py``).
    The transformer's ``_compute`` receives ``spread=``, to share its own
    per-image work between the same threads.  With fewer than two threads this
    is the serial strategy.
    """
    threads = job.transformer._n_prepare_threads()
    if threads < 2:
        return run_serial(job, sources, names)
    chunks = _ranges(len(sources), chunk_size(job.transformer))

    def lookup(part):
        return job.lookup([sources[i] for i in part], [names[i] for i in part])

    # Chunks served entirely from the feature cache are looked up right here:
    # handing them to threads would cost more than the look-ups themselves.
    results, remaining = [], iter(chunks)
    for indices in remaining:
        chunk = lookup(indices)
        if chunk.todo:  # images to compute: from here on, every thread prepares
            break
        results.append(job.compute(chunk))
        images_done(len(indices))
    else:
        return results
    pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="dermfeat-prepare")

    def spread(work, n):
        """``work(indices)`` over ``threads`` consecutive parts of range(n): this thread takes the first."""
        n_parts = max(1, min(threads, n))
        parts = [range(k * n // n_parts, (k + 1) * n // n_parts) for k in range(n_parts)]
        futures = [pool.submit(work, part) for part in parts[1:]]
        return [work(parts[0])] + [future.result() for future in futures]

    # OpenCV's own pool would only add threads competing for the same cores.
    with opencv_single_threaded():
        try:
            results.append(job.compute(chunk, spread=spread))
            images_done(len(chunk.names))
            for indices in remaining:
                parts = spread(lambda part, indices=indices: lookup([indices[i] for i in part]), len(indices))
                results.append(job.compute(Chunk.merge(parts), spread=spread))
                images_done(len(indices))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return results


#: The strategies by name (see the module's documentation).
STRATEGIES = {
    "serial": run_serial,
    "processes": run_processes,
    "prepare_then_infer": run_prepare_then_infer,
}
