"""Base class of the feature extractors, and the per-image engine shared with preprocessors.

Two kinds share one input layer:

* :class:`BaseImageTransformer` turns each image into one row of features
  (``transform`` returns a 2-D array) and offers ``n_jobs`` parallelism, a
  per-image feature cache (``memory``) and ``on_error`` handling.
* :class:`BaseImagePreprocessor` turns each image into another image
  (``transform`` returns a list of ``uint8`` arrays), for steps such as colour
  constancy or a lesion crop placed in front of any extractor.

Subclasses implement small private hooks (sktime style): the public methods
validate and convert the input, the hooks receive decoded RGB ``uint8`` arrays.
"""

from __future__ import annotations

import functools
import warnings
from numbers import Integral

import cv2
import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._exceptions import InvalidImageError, SkippedImagesWarning
from .._progress import images_done
from ..io import image_name, read_image, source_bytes
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Options, PathLike, validate_parameters
from ._cache import FeatureCache, cache_location, source_hash
from ._errors import as_image_error
from ._inputs import as_image_list
from ._threads import _one_opencv_thread, opencv_single_threaded  # noqa: F401 - re-exported

#: Parameters that change how features are computed but never their values.
EXECUTION_PARAMS = frozenset({"n_jobs", "memory", "on_error", "verbose", "batch_size", "n_threads"})

_COMMON_CONSTRAINTS = {
    "n_jobs": [None, Integral],
    "memory": [None, PathLike(), HasMethods("cache")],
    "on_error": [Options("raise", "nan")],
}


def feature_state(estimator):
    """Everything that determines an estimator's features, as a hashable dict.

    Execution parameters (``n_jobs``, ``memory``, ``on_error``, ...) are left out,
    and so are those a class lists in ``_cache_ignored_params`` because its
    ``_cache_token()`` already covers them; nested estimators are expanded
    recursively.

    Parameters
    ----------
    estimator : BaseEstimator

    Returns
    -------
    state : dict
    """
    state = {"class": f"{type(estimator).__module__}.{type(estimator).__qualname__}"}
    state["version"] = getattr(estimator, "_cache_version", 0)
    # a class may leave out parameters that its token already accounts for
    # (e.g. a model file's path, when the token is the file's content hash)
    ignored = EXECUTION_PARAMS.union(getattr(estimator, "_cache_ignored_params", ()))
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in ignored:
            continue
        if isinstance(value, BaseEstimator):
            value = feature_state(value)
        elif isinstance(value, (list, tuple)):
            value = [
                (
                    tuple(feature_state(v) if isinstance(v, BaseEstimator) else v for v in item)
                    if isinstance(item, tuple)
                    else (feature_state(item) if isinstance(item, BaseEstimator) else item)
                )
                for item in value
            ]
        params[key] = value
    state["params"] = params
    token = getattr(estimator, "_cache_token", None)
    if callable(token):
        state["token"] = token()
    return state


def _chunks(n, size):
    return [range(start, min(start + size, n)) for start in range(0, n, size)]


def _ensure_min_side(image, min_side):
    """Upscale (nearest neighbour) images whose shorter side is below ``min_side``."""
    h, w = image.shape[:2]
    if min(h, w) >= min_side:
        return image
    scale = min_side / min(h, w)
    size = (max(min_side, round(w * scale)), max(min_side, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_NEAREST)


class _ImageInputMixin:
    """Shared input handling: decode once, honour ``n_jobs``, chunk the work."""

    #: JPEG files may be decoded at a reduced scale as long as the shorter side
    #: stays at or above this many pixels (``None``: always decode full size).
    _decode_min_side = None
    #: Images whose shorter side is smaller are upscaled before processing.
    _min_input_side = 1
    #: Images handled per task (and per model batch for batched extractors).
    _chunk_size = 16

    def _decode_target(self):
        return self._decode_min_side

    def _decode(self, content, name):
        image = read_image(content, min_side=self._decode_target(), name=name)
        return _ensure_min_side(image, self._min_input_side)

    def _map_chunks(self, func, sources, names):
        """Run ``func(self, sources_chunk, names_chunk)`` over chunks, in input order."""
        chunks = _chunks(len(sources), max(1, int(getattr(self, "batch_size", None) or self._chunk_size)))
        n_jobs = getattr(self, "n_jobs", None)
        if n_jobs in (None, 1) or len(chunks) <= 1:
            results = (func(self, [sources[i] for i in c], [names[i] for i in c]) for c in chunks)
        else:
            parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
            task = joblib.delayed(functools.partial(_one_opencv_thread, func))
            results = parallel(task(self, [sources[i] for i in c], [names[i] for i in c]) for c in chunks)
        out = []
        for c, result in zip(chunks, results):
            out.append(result)
            images_done(len(c))  # progress seam: moves the bar of dermfeat.show_progress, if any
        return out


class BaseImageTransformer(DocLinkMixin, _ImageInputMixin, TransformerMixin, BaseEstimator):
    """Base class for feature extractors that map each image to one feature row.

    Subclasses define ``__init__`` (storing parameters only, including ``n_jobs``,
    ``memory`` and ``on_error``), ``_feature_names()`` and either
    ``_transform_one(image)`` or the batched pair ``_prepare(image)`` /
    ``_compute(prepared)``.  Stateful extractors may override ``_fit(images, y)``.

    Input ``X`` may be a path, bytes, a decoded ``(H, W, 3)`` ``uint8`` array, or
    a sequence (list, 4-D array, pandas column) of either; see
    :func:`dermfeat.base.as_image_list`.  Each image is decoded once per
    ``transform`` call, with EXIF orientation, colour conversions and clear
    :class:`~dermfeat.InvalidImageError` messages from :func:`dermfeat.io.read_image`.

    Parameters
    ----------
    n_jobs : int or None
        Images are processed in chunks by ``joblib`` workers; the output keeps the
        input order and does not depend on ``n_jobs``.
    memory : None, str, path-like or joblib.Memory
        Folder of the per-image feature cache.  A row is stored per (image
        content hash, feature-defining parameters, extra token such as a model
        file's SHA-256); any other bytes or parameters miss.
    on_error : {"raise", "nan"}
        ``"raise"`` stops at the first invalid image with an
        :class:`~dermfeat.InvalidImageError` naming it; ``"nan"`` fills its row
        with NaN and emits one :class:`~dermfeat.SkippedImagesWarning` listing
        every skipped image and the reason.
    """

    _parameter_constraints = dict(_COMMON_CONSTRAINTS)
    #: Bump when the feature code changes so that old cache entries miss.
    _cache_version = 1
    _output_dtype = np.float64

    # ----------------------------------------------------------------- hooks
    def _feature_names(self):
        raise NotImplementedError

    def _transform_one(self, image):
        raise NotImplementedError

    def _prepare(self, image):
        return image

    def _compute(self, prepared):
        return np.vstack([np.asarray(self._transform_one(p), dtype=self._output_dtype).ravel() for p in prepared])

    def _fit(self, images, y):  # stateless by default
        return self

    _fit_needs_images = False

    # ------------------------------------------------------------ public API
    def fit(self, X=None, y=None):
        """Validate the parameters (and learn state, for stateful extractors).

        Parameters
        ----------
        X : images, optional
            Ignored by stateless extractors, which do not decode anything here.
        y : array-like, optional
            Ignored.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        if self._fit_needs_images:
            sources = as_image_list(X)
            names = [image_name(s, i) for i, s in enumerate(sources)]
            images = [self._decode(source_bytes(s, n), n) for s, n in zip(sources, names)]
            self._fit(images, y)
        names = [str(n) for n in self._feature_names()]
        self.feature_names_out_ = np.asarray(names, dtype=object)
        self.n_features_out_ = len(names)
        return self

    def transform(self, X):
        """Extract one feature row per image.

        Parameters
        ----------
        X : path, bytes, array or sequence of them
            The images.

        Returns
        -------
        features : ndarray of shape (n_images, n_features)
        """
        features, _ = self._extract(X, self.on_error)
        return features

    def transform_with_errors(self, X):
        """Extract features and report invalid images instead of raising.

        Parameters
        ----------
        X : path, bytes, array or sequence of them
            The images.

        Returns
        -------
        features : ndarray of shape (n_images, n_features)
            Rows of invalid images are NaN.
        errors : list of (int, str, str)
            ``(index, source name, reason)`` for every invalid image.
        """
        return self._extract(X, "collect")

    def get_feature_names_out(self, input_features=None):
        """Names of the output features.

        Parameters
        ----------
        input_features : ignored
            Present for API consistency.

        Returns
        -------
        names : ndarray of str objects
        """
        check_is_fitted(self, "feature_names_out_")
        return self.feature_names_out_.copy()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.requires_fit = True
        tags.non_deterministic = False
        return tags

    # --------------------------------------------------------------- engine
    def _feature_cache(self):
        location = cache_location(getattr(self, "memory", None))
        if location is None:
            return None
        return FeatureCache(location, type(self).__name__, joblib.hash(feature_state(self)))

    def _extract(self, X, on_error):
        check_is_fitted(self, "feature_names_out_")
        sources = as_image_list(X)
        names = [image_name(s, i) for i, s in enumerate(sources)]
        if not sources:
            return np.empty((0, self.n_features_out_), dtype=self._output_dtype), []
        # the cache's state key (a hash of every feature-defining parameter) once per call, not per chunk
        cache = self._feature_cache()
        chunk = functools.partial(_extract_chunk, raising=on_error == "raise", cache=cache)
        results = self._map_chunks(chunk, sources, names)
        features = np.vstack([r[0] for r in results])
        errors, offset = [], 0
        for rows, chunk_errors in results:
            errors.extend((offset + j, name, reason) for j, name, reason in chunk_errors)
            offset += rows.shape[0]
        if errors and on_error == "nan":
            listing = "; ".join(f"{name}: {reason}" for _, name, reason in errors)
            warnings.warn(
                f"{len(errors)} of {len(sources)} images could not be read; their rows are NaN: {listing}",
                SkippedImagesWarning,
                stacklevel=3,
            )
        return features, errors


_AUTO = "auto"


def _extract_chunk(transformer, sources, names, raising=None, cache=_AUTO):
    """Decode, look up the cache, compute the misses; one chunk, in order.

    ``raising=None`` follows the transformer's ``on_error``; ``False`` collects
    errors (for :meth:`BaseImageTransformer.transform_with_errors`).  ``cache``
    is the transformer's :class:`FeatureCache` (or ``None``), computed once per
    ``transform`` call; ``"auto"`` asks the transformer.
    """
    return _compute_chunk(transformer, _lookup_chunk(transformer, sources, names, raising, cache))


def _lookup_chunk(transformer, sources, names, raising=None, cache=_AUTO):
    """First half of :func:`_extract_chunk`: cache look-ups, then decode and prepare the misses.

    Batched extractors may run this for the next chunk while the previous one is
    being computed (see :func:`_compute_chunk`).  Returns an opaque state.
    """
    if raising is None:
        raising = transformer.on_error == "raise"
    if isinstance(cache, str) and cache == _AUTO:
        cache = transformer._feature_cache()
    n_features = transformer.n_features_out_
    out = np.full((len(sources), n_features), np.nan, dtype=transformer._output_dtype)
    errors, todo, hits, hit_rows = [], [], [], []
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
            todo.append((j, key, transformer._prepare(transformer._decode(content, name))))
        except Exception as exc:  # noqa: BLE001 - sorted by as_image_error
            error = as_image_error(exc, name, f"reading and preparing the image for {type(transformer).__name__}")
            if error is None:
                raise
            if raising:
                raise error from (None if error is exc else exc)
            errors.append((j, name, error.reason))
    if hits:
        out[hits] = hit_rows
    return out, errors, todo, cache, names, raising


def _merge_states(states):
    """Join the states of consecutive parts of one chunk (see :func:`_lookup_chunk`) into one."""
    if len(states) == 1:
        return states[0]
    outs, errors, todo, names, offset = [], [], [], [], 0
    for out, part_errors, part_todo, cache, part_names, _ in states:
        outs.append(out)
        errors.extend((offset + j, name, reason) for j, name, reason in part_errors)
        todo.extend((offset + j, key, prepared) for j, key, prepared in part_todo)
        names.extend(part_names)
        offset += out.shape[0]
    return np.vstack(outs), errors, todo, states[0][3], names, states[0][5]


def _compute_chunk(transformer, state, **options):
    """Second half of :func:`_extract_chunk`: compute the misses in one batch, store them.

    ``options`` are passed on to the transformer's ``_compute``.  If the batch
    fails, each image is computed alone, so that only the images that fail are
    reported (see :func:`~dermfeat.base._errors.as_image_error`); so are images
    whose features are not finite.
    """
    out, errors, todo, cache, names, raising = state
    if not todo:
        return out, errors
    label = f"computing {type(transformer).__name__} features"
    try:
        rows = [(item, row) for item, row in zip(todo, _computed(transformer, todo, options))]
    except Exception as exc:  # noqa: BLE001 - sorted by as_image_error
        if len(todo) == 1:
            error = as_image_error(exc, names[todo[0][0]], label)
            if error is None:
                raise
            rows = [(todo[0], error)]
        else:
            rows = []
            for item in todo:
                try:
                    rows.append((item, _computed(transformer, [item], options)[0]))
                except Exception as one:  # noqa: BLE001
                    error = as_image_error(one, names[item[0]], label)
                    if error is None:
                        raise
                    rows.append((item, error))
    failed = []
    for (j, key, _), row in rows:
        if not isinstance(row, InvalidImageError) and not np.all(np.isfinite(row)):
            row = InvalidImageError(names[j], f"{type(transformer).__name__} produced non-finite features (NaN or inf)")
        if isinstance(row, InvalidImageError):
            if raising:
                raise row
            failed.append((j, names[j], row.reason))
            continue
        out[j] = row
        if cache is not None:
            cache.set(key, row)
    if failed:
        errors = sorted(errors + failed)
    return out, errors


def _computed(transformer, todo, options):
    """``transformer._compute`` on the prepared items of ``todo``, checked for shape."""
    computed = np.asarray(transformer._compute([p for _, _, p in todo], **options), dtype=transformer._output_dtype)
    if computed.shape != (len(todo), transformer.n_features_out_):
        raise AssertionError(
            f"{type(transformer).__name__} computed features of shape {computed.shape}, "
            f"expected {(len(todo), transformer.n_features_out_)}"
        )
    return computed
