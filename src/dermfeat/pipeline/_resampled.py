"""Former home of the resampling classifier, now ``dermfeat.decision._resampled`` (re-export only).

Kept so that model files saved before the move, which name
``dermfeat.pipeline._resampled.ResampledClassifier``, keep loading.
"""

from ..decision._resampled import SAMPLERS, ResampledClassifier, make_sampler

__all__ = ["SAMPLERS", "ResampledClassifier", "make_sampler"]
