"""Base classes and helpers for image estimators.

Every feature extractor in dermfeat derives from :class:`BaseImageTransformer`
(images -> feature rows) or :class:`BaseImagePreprocessor` (images -> images).
"""

from ._cache import FeatureCache, FeatureCacheWarning, cache_location, content_hash, one_pass
from ._image_preprocessor import BaseImagePreprocessor
from ._image_transformer import (
    EXECUTION_PARAMS,
    BaseImageTransformer,
    feature_state,
)
from ._inputs import as_image_list

__all__ = [
    "EXECUTION_PARAMS",
    "BaseImagePreprocessor",
    "BaseImageTransformer",
    "FeatureCache",
    "FeatureCacheWarning",
    "as_image_list",
    "cache_location",
    "content_hash",
    "feature_state",
    "one_pass",
]
