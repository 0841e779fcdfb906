"""Every failure on one image becomes an InvalidImageError naming it; programming errors stay visible."""

import warnings

import numpy as np
import pytest

from dermfeat import InvalidImageError, SkippedImagesWarning
from dermfeat.base import BaseImagePreprocessor, BaseImageTransformer
from dermfeat.base._errors import as_image_error


class Fragile(BaseImageTransformer):
    """Mean colour, except for images whose first pixel has a chosen red value."""

    def __init__(self, fail_on=None, exception=ValueError, batched=False, n_jobs=None, memory=None,
                 on_error="raise"):
        self.fail_on = fail_on
        self.exception = exception
        self.batched = batched
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    def _feature_names(self):
        return ["r", "g", "b"]

    def _check(self, image):
        if self.fail_on is not None and image[0, 0, 0] == self.fail_on:
            if self.exception == "nan":
                return np.array([np.nan, 0, 0])
            raise self.exception("cannot cope with\nthis image")
        return image.reshape(-1, 3).mean(axis=0)

    def _transform_one(self, image):
        return self._check(image)

    def _compute(self, prepared):
        if self.batched:  # one bad image spoils the batch: the engine must find it
            return np.vstack([self._check(p) for p in prepared])
        return super()._compute(prepared)


class FragileCrop(BaseImagePreprocessor):
    def __init__(self, exception=ValueError, n_jobs=None):
        self.exception = exception
        self.n_jobs = n_jobs

    def _process(self, image):
        if image[0, 0, 0] == 7:
            raise self.exception("no crop here")
        return image[:2, :2]


def _images():
    return [np.full((4, 4, 3), v, dtype=np.uint8) for v in (10, 7, 20, 7, 30)]


@pytest.mark.parametrize("exception", [ValueError, ZeroDivisionError, MemoryError, RuntimeError, IndexError, OSError])
@pytest.mark.parametrize("batched", [False, True])
def test_data_errors_become_invalid_image_errors(exception, batched):
    est = Fragile(fail_on=7, exception=exception, batched=batched, on_error="nan").fit()
    with pytest.warns(SkippedImagesWarning, match=r"2 of 5 images") as record:
        out = est.transform(_images())
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2, 4]]).all()
    np.testing.assert_array_equal(out[[0, 2, 4], 0], [10, 20, 30])
    assert f"{exception.__name__}: cannot cope with this image" in str(record[0].message)
    _, errors = Fragile(fail_on=7, exception=exception, batched=batched).fit().transform_with_errors(_images())
    assert [(i, name) for i, name, _ in errors] == [(1, "<array #1>"), (3, "<array #3>")]
    with pytest.raises(InvalidImageError, match=rf"<array #1>: .*\({exception.__name__}: cannot cope") as info:
        Fragile(fail_on=7, exception=exception, batched=batched).fit().transform(_images())
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("exception", [TypeError, AttributeError, NameError, AssertionError, NotImplementedError])
@pytest.mark.parametrize("batched", [False, True])
def test_programming_errors_are_not_hidden(exception, batched):
    est = Fragile(fail_on=7, exception=exception, batched=batched, on_error="nan").fit()
    with pytest.raises(exception):
        est.transform(_images())


def test_non_finite_features_are_a_per_image_error():
    est = Fragile(fail_on=7, exception="nan", on_error="nan").fit()
    with pytest.warns(SkippedImagesWarning, match="non-finite features"):
        out = est.transform(_images())
    assert np.isnan(out[[1, 3]]).all() and np.isfinite(out[[0, 2, 4]]).all()


def test_parallel_workers_report_errors_too():
    est = Fragile(fail_on=7, n_jobs=2, on_error="nan").fit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SkippedImagesWarning)
        out, errors = est.transform_with_errors(_images() * 20)
    assert len(errors) == 40 and np.isfinite(out[0]).all()


def test_preprocessor_failures_name_the_image():
    with pytest.raises(InvalidImageError, match=r"<array #1>: processing .*FragileCrop failed \(ValueError: no crop"):
        FragileCrop().fit().transform(_images())
    with pytest.raises(TypeError):
        FragileCrop(exception=TypeError).fit().transform(_images())


def test_as_image_error_is_one_line_and_keeps_the_type():
    error = as_image_error(RuntimeError("line one\nline two"), "bad\udcffname.jpg", "decoding")
    assert str(error) == "bad\\xffname.jpg: decoding failed (RuntimeError: line one line two)"
    same = InvalidImageError("a.jpg", "broken")
    assert as_image_error(same, "a.jpg", "x") is same
    assert as_image_error(KeyboardInterrupt(), "a.jpg", "x") is None
