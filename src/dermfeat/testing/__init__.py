"""Testing tools: hostile inputs made at run time, the estimator checks, estimator discovery.

* :func:`hostile_image_inputs` and :func:`mutate_images`: bad files, odd arrays and a
  seeded fuzzer, to check that pipelines skip and report bad images (each
  :class:`ImageCase` says what it is and the outcome expected).
* :func:`write_malicious_models`: model files that try to run code, exhaust memory or
  smuggle content past the checks of :func:`~dermfeat.persistence.load_model`, plus
  broken and non-model files, each described by a :class:`MaliciousModel`.

* :func:`all_image_estimators` finds every public image estimator, and
  :mod:`dermfeat.testing.estimator_checks` holds the checks each must pass.

Everything is generated from freshly made images and fitted models: no binary fixture
is needed.  See the user guide's "Security and robustness" page.
"""

from ._discovery import all_image_estimators
from ._fuzz import mutate_images
from ._hostile_images import ImageCase, hostile_image_inputs
from ._malicious_models import MaliciousModel, write_malicious_models

__all__ = [
    "ImageCase",
    "MaliciousModel",
    "all_image_estimators",
    "hostile_image_inputs",
    "mutate_images",
    "write_malicious_models",
]
