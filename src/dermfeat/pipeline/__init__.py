"""Image classification pipelines with switchable imbalance handling.

:class:`ResampledClassifier` makes an imbalanced-learn sampler an ordinary
parameter of a scikit-learn ``Pipeline`` (resampling in ``fit`` only);
:func:`make_image_pipeline` assembles features, scaling, resampling, the head
and a tunable decision threshold so that one ``GridSearchCV`` grid can compare
class weights, over/under-sampling, SMOTE and threshold tuning.
imbalanced-learn is optional (the ``imbalanced`` extra); it is only imported
when a sampler is named.
"""

from ._factory import make_image_pipeline
from ._resampled import SAMPLERS, ResampledClassifier, make_sampler

__all__ = ["SAMPLERS", "ResampledClassifier", "make_image_pipeline", "make_sampler"]
