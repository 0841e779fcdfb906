"""dermfeat: scikit-learn-style features and decisions for clinical skin photographs.

Sub-packages
------------
io
    :func:`~dermfeat.io.read_image`: paths, bytes and arrays to RGB uint8.
base
    Base classes for image transformers, the feature cache.
datasets
    :func:`~dermfeat.datasets.load_image_folder`, :func:`~dermfeat.datasets.make_lesion_images`.
features
    Handcrafted texture/colour/quality features and ONNX embeddings.
model_selection
    Near-duplicate groups, threshold tuning.
utils
    Parameter validation, estimator checks.
"""

import importlib

from ._exceptions import InvalidImageError, ModelMismatchError, SkippedImagesWarning

__version__ = "0.1.0.dev0"

_SUBMODULES = {
    "base", "cli", "datasets", "evaluation", "explain", "extraction", "features", "io",
    "metrics", "model_selection", "ordinal", "persistence", "pipeline", "preprocessing", "serve", "utils", "zoo",
}

__all__ = ["InvalidImageError", "ModelMismatchError", "SkippedImagesWarning", "__version__", *sorted(_SUBMODULES)]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
