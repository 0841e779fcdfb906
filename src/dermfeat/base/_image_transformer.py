"""The base class of the feature extractors: parameters, hooks and the public API over the engine.

Two kinds share one input layer:

* :class:`BaseImageTransformer` turns each image into one row of features
  (``transform`` returns a 2-D array) and offers ``n_jobs`` parallelism, a
  per-image feature cache (``memory``) and ``on_error`` handling.
* :class:`BaseImagePreprocessor` turns each image into another image
  (``transform`` returns a list of ``uint8`` arrays), for steps such as colour
  constancy or a lesion crop placed in front of any extractor.

Subclasses implement small private hooks (sktime style): the public methods
validate and convert the input, the hooks receive decoded RGB ``uint8`` arrays;
the chunked execution (cache look-up, compute, merge) is
:mod:`dermfeat.base._executor`.
"""

from __future__ import annotations

import inspect
import warnings
from numbers import Integral

import joblib
import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._exceptions import SkippedImagesWarning
from ..io import image_name, read_image
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import HasMethods, Options, PathLike, validate_parameters
from ._cache import FeatureCache, cache_location, in_one_pass, pass_rows
from ._executor import Job
from ._inputs import as_image_list
from ._threads import opencv_single_threaded  # noqa: F401 - its old import path

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
    ``_cache_token()`` already covers them, and parameters added in a later
    version while they keep the value that reproduces the older features
    (``_cache_added_params``, a dict of name -> that value), so that a new
    option leaves the cache of existing settings valid; nested estimators are
    expanded recursively.

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
    added = getattr(estimator, "_cache_added_params", {})
    params = {}
    for key, value in estimator.get_params(deep=False).items():
        if key in ignored or (key in added and value == added[key]):
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


class _ImageInputMixin:
    """Shared input handling: each image is decoded once, at the size the estimator asks for."""

    #: Reads every image it is given (counted by :func:`dermfeat._progress.image_steps`).
    _reads_images = True

    def _decode_target(self):
        """Shorter side the JPEG decoder must reach (``None``: full size); see :func:`dermfeat.io.read_image`."""
        return None

    def _decode(self, content, name):
        return read_image(content, min_side=self._decode_target(), name=name)


class BaseImageTransformer(DocLinkMixin, _ImageInputMixin, TransformerMixin, BaseEstimator):
    """Base class for feature extractors that map each image to one feature row.

    Subclasses define ``__init__`` (storing parameters only, including ``n_jobs``,
    ``memory`` and ``on_error``), ``_feature_names()`` and either
    ``_transform_one(image)`` or the batched pair ``_prepare(image)`` /
    ``_compute(prepared)``.  Extractors that learn or resolve something implement
    ``_fit(X, y)``: ``fit`` itself is the same for all (validate the parameters
    once, ``_fit``, then the feature names).  The class attribute ``_strategy``
    names how chunks of images are run (see :mod:`dermfeat.base._executor`).

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
    #: How chunks are spread over the machine: a name in :data:`dermfeat.base._executor.STRATEGIES`
    #: (worker processes are used instead whenever ``n_jobs`` asks for them).
    _strategy = "serial"
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

    def _compute(self, prepared, spread=None):
        """Rows of the prepared images; ``spread(work, n)`` (threaded strategy) shares them between threads."""
        rows = [None] * len(prepared)

        def work(indices):
            for i in indices:
                rows[i] = np.asarray(self._transform_one(prepared[i]), dtype=self._output_dtype).ravel()

        if spread is None:
            work(range(len(prepared)))
        else:
            spread(work, len(prepared))
        return np.vstack(rows)

    def __setstate__(self, state):
        """Restore a pickled extractor; parameters added since it was saved take their defaults.

        So that a model saved before a new option existed (e.g. ``OnnxEmbedder``'s
        ``pooling``) still loads and behaves as it did.
        """
        super().__setstate__(state)
        for name, param in inspect.signature(type(self).__init__).parameters.items():
            if param.default is not param.empty and name not in self.__dict__:
                setattr(self, name, param.default)

    def _fit(self, X, y):
        """Learn what the extractor needs (called by ``fit`` after the parameters are validated).

        Stateless extractors need nothing; others resolve settings, open models
        or fit nested estimators here.  ``X`` and ``y`` are those given to ``fit``.
        """

    def _n_prepare_threads(self):
        """Threads the ``"prepare_then_infer"`` strategy may use (see :mod:`dermfeat.base._executor`)."""
        return 1

    # ------------------------------------------------------------ public API
    def fit(self, X=None, y=None):
        """Validate the parameters once, then learn what the extractor needs (``_fit``).

        ``fit`` is the same for every extractor: subclasses implement ``_fit``.

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
        self._fit(X, y)
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
        if location is None:  # inside one_pass(), the rows of this pass
            return pass_rows(type(self).__name__, joblib.hash(feature_state(self))) if in_one_pass() else None
        return FeatureCache(location, type(self).__name__, joblib.hash(feature_state(self)))

    def _extract(self, X, on_error):
        check_is_fitted(self, "feature_names_out_")
        sources = as_image_list(X)
        names = [image_name(s, i) for i, s in enumerate(sources)]
        if not sources:
            return np.empty((0, self.n_features_out_), dtype=self._output_dtype), []
        # the cache's state key (a hash of every feature-defining parameter) once per call, not per chunk
        results = Job(self, self._feature_cache(), raising=on_error == "raise").run(sources, names)
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
