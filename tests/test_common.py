"""Every image estimator in dermfeat passes the shared image checks.

The list comes from :func:`dermfeat.utils.all_image_estimators`, which searches the
package, so a new estimator cannot skip these checks.  Classes give cheap instances
through an optional ``_get_test_params()`` classmethod (a list of parameter dicts).
"""

import pytest

from dermfeat.utils import all_image_estimators
from dermfeat.utils.estimator_checks import image_estimator_checks


def _instances():
    for name, cls in all_image_estimators():
        params_list = cls._get_test_params() if hasattr(cls, "_get_test_params") else [{}]
        for k, params in enumerate(params_list):
            yield pytest.param(cls(**params), id=f"{name}-{k}")


INSTANCES = list(_instances())


def test_estimators_are_found():
    names = {name for name, _ in all_image_estimators()}
    # grows as features land; the base classes themselves are never listed
    assert "BaseImageTransformer" not in names and "BaseImagePreprocessor" not in names


@pytest.mark.parametrize("estimator", INSTANCES)
def test_image_checks(estimator):
    for check in image_estimator_checks(estimator):
        check()


@pytest.mark.parametrize("name, cls", all_image_estimators())
def test_public_docstring_has_example(name, cls):
    assert cls.__doc__ and "Examples" in cls.__doc__, f"{name} needs a numpydoc Examples section"
