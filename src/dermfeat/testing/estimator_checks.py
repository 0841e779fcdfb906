"""Checks every dermfeat image estimator must pass.

In the spirit of scikit-learn's and imbalanced-learn's ``estimator_checks``:
scikit-learn's own suite feeds numeric tables, which image estimators do not
take, so these checks exercise what matters for images instead: path vs array
input, colour modes, varied sizes, determinism, ``n_jobs`` invariance, pickling,
``clone``, feature names and ``set_output``, the feature cache and clear errors.

Use :func:`check_image_estimator` to run them all on one instance, or
:func:`image_estimator_checks` to parametrize a test::

    @pytest.mark.parametrize("check", image_estimator_checks(MyTransformer()), ids=repr)
    def test_my_transformer(check):
        check()
"""

from __future__ import annotations

import functools
import pickle
import tempfile
import warnings
from pathlib import Path

import cv2
import numpy as np
from sklearn.base import clone
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from .._exceptions import InvalidImageError, SkippedImagesWarning
from ..base import BaseImagePreprocessor, BaseImageTransformer

__all__ = [
    "check_color_modes",
    "check_feature_cache",
    "check_feature_names",
    "check_finite_and_deterministic",
    "check_image_estimator",
    "check_invalid_input",
    "check_n_jobs_invariance",
    "check_path_and_array_agree",
    "check_pickle_roundtrip",
    "check_sklearn_api",
    "check_varied_sizes",
    "image_estimator_checks",
]


@functools.lru_cache(maxsize=4)
def _images(size=72, n=4):
    from ..datasets import make_lesion_images

    return make_lesion_images(n, image_size=size, random_state=7).images


def _write_png(folder, name, image):
    path = Path(folder) / name
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    assert ok
    path.write_bytes(buf.tobytes())
    return str(path)


def _run(estimator, X):
    est = clone(estimator).fit(X)
    return est.transform(X)


def _assert_output(estimator, out, n):
    if isinstance(estimator, BaseImageTransformer):
        out = np.asarray(out)
        assert out.ndim == 2 and out.shape[0] == n, f"expected {n} rows, got shape {out.shape}"
        assert np.all(np.isfinite(out)), "features must be finite"
    else:
        assert isinstance(out, list) and len(out) == n, "a preprocessor returns a list with one image per input"
        for image in out:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3


def _same(a, b):
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def check_sklearn_api(estimator):
    """``__init__`` stores parameters only; ``get_params``/``set_params``/``clone`` work."""
    name = type(estimator).__name__
    check_parameters_default_constructible(name, estimator)
    check_no_attributes_set_in_init(name, clone(estimator))
    check_get_params_invariance(name, clone(estimator))
    check_set_params(name, clone(estimator))
    cloned = clone(estimator)
    assert cloned.get_params().keys() == estimator.get_params().keys()


def check_path_and_array_agree(estimator):
    """A lossless file on disk and the same decoded array give identical output."""
    images = _images()
    with tempfile.TemporaryDirectory() as tmp:
        paths = [_write_png(tmp, f"im{i}.png", im) for i, im in enumerate(images)]
        from_paths = _run(estimator, paths)
        from_bytes = _run(estimator, [Path(p).read_bytes() for p in paths])
    from_arrays = _run(estimator, list(images))
    from_batch = _run(estimator, images)
    _assert_output(estimator, from_arrays, len(images))
    _same(from_paths, from_arrays)
    _same(from_bytes, from_arrays)
    _same(from_batch, from_arrays)


def check_color_modes(estimator):
    """RGB, RGBA (composited on white) and grey inputs are accepted."""
    image = _images()[0]
    rgba = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    out = _run(estimator, [image, rgba, grey, grey[:, :, None]])
    _assert_output(estimator, out, 4)
    _same(out[0:1] if not isinstance(out, list) else out[:1], out[1:2] if not isinstance(out, list) else out[1:2])


def check_varied_sizes(estimator):
    """Images of different sizes and aspect ratios in one batch, including tiny ones."""
    image = _images(size=128)[1]
    batch = [image, image[:50, :90], image[5:105, 20:57], cv2.resize(image, (200, 150)), image[:1, :1]]
    out = _run(estimator, batch)
    _assert_output(estimator, out, len(batch))


def check_finite_and_deterministic(estimator):
    """Two runs on the same images give identical, finite output."""
    images = _images()
    first, second = _run(estimator, images), _run(estimator, images)
    _assert_output(estimator, first, len(images))
    _same(first, second)


def check_n_jobs_invariance(estimator):
    """``n_jobs=1`` and ``n_jobs=2`` give the same output in the same order."""
    if "n_jobs" not in estimator.get_params():
        return
    images = list(_images(n=6)) * 3  # several chunks
    params = {"n_jobs": 1}
    if "batch_size" in estimator.get_params():
        params["batch_size"] = 4
    one = _run(clone(estimator).set_params(**params), images)
    params["n_jobs"] = 2
    two = _run(clone(estimator).set_params(**params), images)
    _same(one, two)


def check_pickle_roundtrip(estimator):
    """A fitted estimator survives ``pickle`` and transforms identically."""
    images = _images()
    fitted = clone(estimator).fit(images)
    expected = fitted.transform(images)
    restored = pickle.loads(pickle.dumps(fitted))
    _same(restored.transform(images), expected)


def check_feature_names(estimator):
    """``get_feature_names_out`` matches the output width; ``set_output("pandas")`` uses it."""
    if not isinstance(estimator, BaseImageTransformer):
        return
    images = _images()
    fitted = clone(estimator).fit(images)
    out = fitted.transform(images)
    names = fitted.get_feature_names_out()
    assert len(names) == out.shape[1], f"{len(names)} names for {out.shape[1]} features"
    assert len(set(names)) == len(names), "feature names must be unique"
    try:
        import pandas  # noqa: F401
    except ImportError:
        return
    frame = clone(estimator).set_output(transform="pandas").fit(images).transform(images)
    assert list(frame.columns) == list(names)
    np.testing.assert_array_equal(frame.to_numpy(), out)


def check_invalid_input(estimator):
    """Bad input raises :class:`~dermfeat.InvalidImageError` naming the source, or is reported."""
    images = _images()
    fitted = clone(estimator).fit(images)
    try:
        fitted.transform([images[0], b"this is not an image"])
    except InvalidImageError as exc:
        assert "<bytes #1>" in str(exc), f"the error must name the source: {exc}"
    else:
        raise AssertionError("an invalid image must raise InvalidImageError")
    with tempfile.TemporaryDirectory() as tmp:
        missing = str(Path(tmp) / "missing.jpg")
        try:
            fitted.transform([missing])
        except InvalidImageError as exc:
            assert "missing.jpg" in str(exc)
        else:
            raise AssertionError("a missing file must raise InvalidImageError")
    if isinstance(estimator, BaseImageTransformer) and "on_error" in estimator.get_params():
        lenient = clone(estimator).set_params(on_error="nan").fit(images)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = lenient.transform([images[0], b"", images[1]])
        assert np.all(np.isnan(out[1])) and np.all(np.isfinite(out[[0, 2]]))
        assert any(issubclass(w.category, SkippedImagesWarning) and "<bytes #1>" in str(w.message) for w in caught)


def check_feature_cache(estimator):
    """With ``memory``, a second run reads the cache and other parameters miss."""
    if not isinstance(estimator, BaseImageTransformer) or "memory" not in estimator.get_params():
        return
    images = _images()
    with tempfile.TemporaryDirectory() as tmp:
        cached = clone(estimator).set_params(memory=tmp).fit(images)
        first = cached.transform(images)
        cache = cached._feature_cache()
        assert len(cache) == len({im.tobytes() for im in images}), "one cache entry per distinct image"
        second = cached.transform(images)
        _same(first, second)
        _same(first, clone(estimator).fit(images).transform(images))
        # the cache key holds the image content: another image must miss
        other = images[0].copy()
        other[0, 0] ^= 1
        cached.transform([other])
        assert len(cache) == len(images) + 1


_CHECKS = (
    check_sklearn_api,
    check_path_and_array_agree,
    check_color_modes,
    check_varied_sizes,
    check_finite_and_deterministic,
    check_n_jobs_invariance,
    check_pickle_roundtrip,
    check_feature_names,
    check_invalid_input,
    check_feature_cache,
)


class _Check(functools.partial):
    def __repr__(self):
        return f"{type(self.args[0]).__name__}-{self.func.__name__}"


def image_estimator_checks(estimator):
    """Yield every check bound to ``estimator``, as zero-argument callables.

    Parameters
    ----------
    estimator : BaseImageTransformer or BaseImagePreprocessor
        An unfitted instance.

    Yields
    ------
    check : callable
        ``check()`` runs one check and raises ``AssertionError`` on failure.
    """
    if not isinstance(estimator, (BaseImageTransformer, BaseImagePreprocessor)):
        raise TypeError(f"{type(estimator).__name__} is not a dermfeat image estimator")
    for check in _CHECKS:
        yield _Check(check, estimator)


def check_image_estimator(estimator):
    """Run every image-estimator check on ``estimator``.

    Parameters
    ----------
    estimator : BaseImageTransformer or BaseImagePreprocessor
        An unfitted instance.

    Raises
    ------
    AssertionError
        From the first failing check.

    Examples
    --------
    A class defined at module level (so that it can be pickled) passes all checks:

    >>> from dermfeat.base import BaseImageTransformer
    >>> from dermfeat.testing.estimator_checks import (
    ...     check_finite_and_deterministic, check_path_and_array_agree)
    >>> class MeanColour(BaseImageTransformer):
    ...     def __init__(self, n_jobs=None, memory=None, on_error="raise"):
    ...         self.n_jobs, self.memory, self.on_error = n_jobs, memory, on_error
    ...     def _feature_names(self):
    ...         return ["mean_r", "mean_g", "mean_b"]
    ...     def _transform_one(self, image):
    ...         return image.reshape(-1, 3).mean(axis=0)
    >>> check_path_and_array_agree(MeanColour())
    >>> check_finite_and_deterministic(MeanColour())
    """
    for check in image_estimator_checks(estimator):
        check()

