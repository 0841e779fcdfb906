"""Every dermfeat estimator passes its common checks: one test per (estimator, check), in one place.

Image estimators (found by :func:`dermfeat.utils.all_image_estimators`, so a new
one cannot skip them; cheap instances from an optional ``_get_test_params()``
classmethod) run dermfeat's image checks.  The other estimators (the decision
layer's meta-estimators and :class:`~dermfeat.pipeline.ImagePipeline`) run
scikit-learn's estimator checks, with the few expected failures named and
explained.  Every public estimator class of dermfeat is covered by one of the
two, and declares a constraint for every parameter.
"""

import importlib
import importlib.util
import inspect
import pkgutil

import pytest
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

import dermfeat
from dermfeat.base import BaseImagePreprocessor, BaseImageTransformer
from dermfeat.decision import (
    CostSensitiveClassifier,
    HierarchicalClassifier,
    MultiSignOrdinalClassifier,
    OrdinalClassifier,
    ResampledClassifier,
    ThresholdTunedClassifier,
)
from dermfeat.pipeline import ImagePipeline
from dermfeat.uncertainty import ConformalClassifier, GuardedClassifier, OutOfDistributionDetector
from dermfeat.utils import all_image_estimators
from dermfeat.utils.estimator_checks import image_estimator_checks

from ._helpers import parametrize_sklearn_checks, xfail_if_expected


def _image_cases():
    for name, cls in all_image_estimators():
        params_list = cls._get_test_params() if hasattr(cls, "_get_test_params") else [{}]
        for k, params in enumerate(params_list):
            for check in image_estimator_checks(cls(**params)):
                yield pytest.param(check, id=f"{name}-{k}-{check.func.__name__}")


@pytest.mark.parametrize("check", list(_image_cases()))
def test_image_checks(check):
    check()


#: Instances checked with scikit-learn's estimator checks.
SKLEARN_ESTIMATORS = [
    ThresholdTunedClassifier(LogisticRegression(), cv=3),
    ThresholdTunedClassifier(LogisticRegression(), tune=False),
    CostSensitiveClassifier(LogisticRegression()),
    CostSensitiveClassifier(LogisticRegression(), cost_matrix="absolute"),
    OrdinalClassifier(LogisticRegression()),
    OrdinalClassifier(LogisticRegression(), decision="min_expected_cost", monotonic="cummin"),
    ResampledClassifier(LogisticRegression()),
    MultiSignOrdinalClassifier(LogisticRegression()),
    HierarchicalClassifier(LogisticRegression()),
    ConformalClassifier(LogisticRegression()),
    GuardedClassifier(LogisticRegression()),
    OutOfDistributionDetector(normalize="standard", cv=2),
    ImagePipeline([("scale", StandardScaler()), ("clf", LogisticRegression())]),
]
if importlib.util.find_spec("imblearn") is not None:
    SKLEARN_ESTIMATORS.append(ResampledClassifier(LogisticRegression(), sampler="random_over", random_state=0))

_TUNED = "the tuned threshold is not 0.5, so predict differs from argmax(predict_proba) on purpose (as for TunedThresholdClassifierCV)"
_MEDIAN = "with an ordinal |i - j| cost the decision is the median class, not argmax(predict_proba), on purpose"
_IN_PLACE = "a Pipeline fits the estimators of its steps in place (scikit-learn's own Pipeline does too)"


def expected_failed_checks(estimator):
    if isinstance(estimator, ThresholdTunedClassifier) and estimator.tune:
        return {"check_classifiers_train": _TUNED}
    if isinstance(estimator, CostSensitiveClassifier) and estimator.cost_matrix is not None:
        return {"check_classifiers_train": _MEDIAN}
    if isinstance(estimator, OrdinalClassifier) and estimator.decision == "min_expected_cost":
        return {"check_classifiers_train": _MEDIAN}
    if isinstance(estimator, ImagePipeline):
        return {"check_estimators_overwrite_params": _IN_PLACE, "check_dont_overwrite_parameters": _IN_PLACE}
    return {}


@parametrize_sklearn_checks(SKLEARN_ESTIMATORS, expected_failed_checks)
def test_sklearn_checks(estimator, check):
    xfail_if_expected(estimator, check, expected_failed_checks)
    check(estimator)


def _public_estimator_classes():
    """Every public, concrete estimator class defined in dermfeat (the CLI aside)."""
    found = {}
    for info in pkgutil.walk_packages(dermfeat.__path__, prefix="dermfeat."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]) or parts[1] == "cli":
            continue
        for name, obj in vars(importlib.import_module(info.name)).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseEstimator) and not name.startswith("_")
                    and obj.__module__.startswith("dermfeat.") and not inspect.isabstract(obj)
                    and obj not in (BaseImageTransformer, BaseImagePreprocessor)):
                found[name] = obj
    return found


PUBLIC_ESTIMATORS = _public_estimator_classes()


def test_every_public_estimator_has_common_checks():
    image = {cls for _, cls in all_image_estimators()}
    checked = image | {type(est) for est in SKLEARN_ESTIMATORS}
    unchecked = sorted(name for name, cls in PUBLIC_ESTIMATORS.items() if cls not in checked)
    assert not unchecked, f"add instances to SKLEARN_ESTIMATORS or a _get_test_params() for: {unchecked}"
    # the search finds the estimators of every layer (it is not vacuous)
    assert {"LBPFeatures", "ColorConstancy", "ThresholdTunedClassifier", "OrdinalClassifier", "ImagePipeline"} <= set(
        PUBLIC_ESTIMATORS
    )
    assert image and not image & {BaseImageTransformer, BaseImagePreprocessor}


@pytest.mark.parametrize("name", sorted(PUBLIC_ESTIMATORS))
def test_every_parameter_has_a_constraint(name):
    cls = PUBLIC_ESTIMATORS[name]
    signature = inspect.signature(cls.__init__)
    params = {p.name for p in signature.parameters.values() if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    missing = sorted(params - set(getattr(cls, "_parameter_constraints", {})))
    assert not missing, f"{name}._parameter_constraints has no entry for {missing}"


@pytest.mark.parametrize("name", sorted(PUBLIC_ESTIMATORS))
def test_public_docstring_has_example(name):
    cls = PUBLIC_ESTIMATORS[name]
    assert cls.__doc__ and "Examples" in cls.__doc__, f"{name} needs a numpydoc Examples section"
