"""Helpers shared by dermfeat's tests (import them from here, not from another test module)."""

from __future__ import annotations

import functools
import inspect

import numpy as np
import pytest
from sklearn.model_selection import GroupKFold
from sklearn.utils.estimator_checks import parametrize_with_checks

from dermfeat.base import BaseImageTransformer


class MeanColour(BaseImageTransformer):
    """Mean RGB: the smallest real image transformer, used to test the base."""

    def __init__(self, scale=1.0, n_jobs=None, memory=None, on_error="raise"):
        self.scale = scale
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    def _feature_names(self):
        return ["mean_r", "mean_g", "mean_b"]

    def _transform_one(self, image):
        return image.reshape(-1, 3).mean(axis=0) * self.scale


class RecordingGroupKFold(GroupKFold):
    """A ``GroupKFold`` that records the groups it is given, to test where groups are routed."""

    def __init__(self, n_splits=3):
        super().__init__(n_splits=n_splits)
        self.seen = []

    def split(self, X, y=None, groups=None):
        self.seen.append(None if groups is None else np.asarray(groups).copy())
        return super().split(X, y, groups)


def check_name(check):
    """The name of a scikit-learn check (a function or a ``functools.partial`` of one)."""
    check = check.func if isinstance(check, functools.partial) else check
    return getattr(check, "__name__", str(check))


def parametrize_sklearn_checks(estimators, expected_failed_checks):
    """``parametrize_with_checks`` with expected failures, on every supported scikit-learn.

    scikit-learn >= 1.6 marks the expected failures as ``xfail`` itself; before it,
    the test calls :func:`xfail_if_expected` with the same function.
    """
    if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters:
        return parametrize_with_checks(estimators, expected_failed_checks=expected_failed_checks)
    return parametrize_with_checks(estimators)  # pragma: no cover - scikit-learn < 1.6


def xfail_if_expected(estimator, check, expected_failed_checks):
    """On scikit-learn < 1.6, mark an expected failure by hand (no-op afterwards: never reached)."""
    reason = expected_failed_checks(estimator).get(check_name(check))
    if reason:
        pytest.xfail(reason)
