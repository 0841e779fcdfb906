"""Saving and loading fitted estimators: skops by default, checked before anything is built.

:func:`load_model` accepts only the types listed in :data:`ALLOWED_TYPES` (what
dermfeat's own models contain, each with the way skops may build it), bounds
the archive (:data:`MAX_MODEL_SIZE`, :data:`MAX_ENTRIES`,
:data:`MAX_COMPRESSION_RATIO`), and checks the embedding model files a model
needs by SHA-256.  See the user guide page "Security and robustness".
"""

from ._allowlist import ALLOWED_TYPES
from ._archive import MAX_COMPRESSION_RATIO, MAX_ENTRIES, MAX_MODEL_SIZE
from ._models import load_model, required_model_files, save_model

__all__ = [
    "ALLOWED_TYPES",
    "MAX_COMPRESSION_RATIO",
    "MAX_ENTRIES",
    "MAX_MODEL_SIZE",
    "load_model",
    "required_model_files",
    "save_model",
]
