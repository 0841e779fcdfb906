"""scikit-learn's estimator checks on OrdinalClassifier."""

import functools
import inspect

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from dermfeat.ordinal import OrdinalClassifier

ESTIMATORS = [
    OrdinalClassifier(LogisticRegression()),
    OrdinalClassifier(LogisticRegression(), decision="min_expected_cost", monotonic="cummin"),
]

_MEDIAN = "the minimum-expected-cost decision (median level) differs from argmax(predict_proba) on purpose"


def expected_failed_checks(estimator):
    if estimator.decision == "min_expected_cost":
        return {"check_classifiers_train": _MEDIAN}
    return {}


def _check_name(check):
    check = check.func if isinstance(check, functools.partial) else check
    return getattr(check, "__name__", str(check))


if "expected_failed_checks" in inspect.signature(parametrize_with_checks).parameters:
    _parametrize = parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failed_checks)
else:  # scikit-learn < 1.6
    _parametrize = parametrize_with_checks(ESTIMATORS)


@_parametrize
def test_sklearn_compatible(estimator, check):
    reason = expected_failed_checks(estimator).get(_check_name(check))
    if reason:
        pytest.xfail(reason)
    check(estimator)
