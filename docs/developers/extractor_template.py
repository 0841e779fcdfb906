"""Template of a feature extractor: copy it to ``src/dermfeat/features/_<name>.py`` and fill it in.

Then add one line to ``src/dermfeat/features/__init__.py`` (``from ._<name> import
<Name>Features`` and the name in ``__all__``): the shared estimator checks find
the new class there and test it with no further wiring.  This file passes them
as it is (``tests/features/test_template.py``).
"""

from __future__ import annotations

from numbers import Integral

import numpy as np

from dermfeat.base import BaseImageTransformer
from dermfeat.imaging import to_working_size
from dermfeat.utils._param_validation import Interval


class TemplateFeatures(BaseImageTransformer):
    """Mean and standard deviation of each RGB channel at a working size (a template).

    Parameters
    ----------
    image_size : int, default=64
        Shorter side of the working image the features are computed on.
    n_jobs : int or None, default=None
        Worker processes over chunks of images.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache folder.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    feature_names_out_ : ndarray of str
    n_features_out_ : int

    Examples
    --------
    >>> from dermfeat.datasets import make_lesion_images
    >>> images = make_lesion_images(3, image_size=48, random_state=0).images
    >>> TemplateFeatures(image_size=32).fit_transform(images).shape
    (3, 6)
    """

    # every parameter has a constraint; the base class adds n_jobs, memory and on_error
    _parameter_constraints = {
        **BaseImageTransformer._parameter_constraints,
        "image_size": [Interval(Integral, 8, 4096)],
    }
    # bump when the feature values change, so that old cache entries miss
    _cache_version = 1

    def __init__(self, image_size=64, n_jobs=None, memory=None, on_error="raise"):
        # only store the parameters: validation happens in fit
        self.image_size = image_size
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    @classmethod
    def _get_test_params(cls):
        """Cheap settings for the shared estimator checks."""
        return [{"image_size": 16}]

    # ------------------------------------------------------------------ hooks
    def _fit(self, X, y):
        """Optional: learn or resolve something (the parameters are already valid here)."""

    def _decode_target(self):
        """Optional: JPEG files may decode at a reduced scale down to this shorter side."""
        return self.image_size

    def _feature_names(self):
        return [f"{channel}_{stat}" for stat in ("mean", "std") for channel in "RGB"]

    def _transform_one(self, image):
        """One decoded ``(H, W, 3)`` RGB ``uint8`` image -> one feature row."""
        pixels = to_working_size(image, self.image_size).reshape(-1, 3).astype(np.float64)
        return np.concatenate([pixels.mean(axis=0), pixels.std(axis=0)])
