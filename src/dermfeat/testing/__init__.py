"""Hostile inputs made at run time, for testing that code refuses them instead of crashing.

* :func:`hostile_image_inputs` and :func:`mutate_images`: bad files, odd arrays and a
  seeded fuzzer, to check that pipelines skip and report bad images (each
  :class:`ImageCase` says what it is and the outcome expected).
* :func:`write_malicious_models`: model files that try to run code, exhaust memory or
  smuggle content past the checks of :func:`~dermfeat.persistence.load_model`, plus
  broken and non-model files, each described by a :class:`MaliciousModel`.

Everything is generated from freshly made images and fitted models: no binary fixture
is needed.  See the user guide's "Security and robustness" page.
"""

from ._hostile_images import ImageCase, hostile_image_inputs, mutate_images
from ._malicious_models import MaliciousModel, write_malicious_models

__all__ = ["ImageCase", "MaliciousModel", "hostile_image_inputs", "mutate_images", "write_malicious_models"]
