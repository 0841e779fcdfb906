"""Image classification pipelines with switchable imbalance handling.

:class:`ResampledClassifier` makes an imbalanced-learn sampler an ordinary
parameter of a scikit-learn ``Pipeline`` (resampling in ``fit`` only);
:func:`make_image_pipeline` assembles features, scaling, resampling, the head
and a tunable decision threshold so that one ``GridSearchCV`` grid can compare
class weights, over/under-sampling, SMOTE and threshold tuning.
Short names for quick work and the command line: :func:`make_classifier` builds
the same pipeline from strings (``features="efficientnet+handcrafted"``,
``head="mlp"``, ``imbalance="smote"``, ``threshold="macro_f1"``).
Pipelines built here are :class:`ImagePipeline` objects: their ``fit`` finds the
near-duplicate groups of the training photographs (``groups="auto"``) and passes
them to every step that chooses something by inner cross-validation.
imbalanced-learn is optional (the ``imbalanced`` extra); it is only imported
when a sampler is named.
"""

from ._factory import make_image_pipeline, threshold_objective
from ._fusion import make_fusion_pipeline
from ._image_pipeline import ImagePipeline
from ._named import RECIPES
from ._recipes import make_classifier, make_features, make_head, parse_constraint
from ..decision import SAMPLERS, ResampledClassifier, make_sampler

__all__ = [
    "RECIPES",
    "SAMPLERS",
    "ImagePipeline",
    "ResampledClassifier",
    "make_classifier",
    "make_features",
    "make_fusion_pipeline",
    "make_head",
    "make_image_pipeline",
    "make_sampler",
    "parse_constraint",
    "threshold_objective",
]
