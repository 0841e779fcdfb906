"""Base class for steps that map each image to another image."""

from __future__ import annotations

import functools
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..io import image_name, source_bytes
from ..utils._doc_link import DocLinkMixin
from ..utils._param_validation import validate_parameters
from ._errors import as_image_error
from ._executor import map_chunks
from ._image_transformer import _ImageInputMixin
from ._inputs import as_image_list


class BaseImagePreprocessor(DocLinkMixin, _ImageInputMixin, TransformerMixin, BaseEstimator):
    """Base class for steps that map each image to another image.

    ``transform`` returns a list of RGB ``uint8`` arrays (sizes may differ), so the
    step can stand in front of any :class:`~dermfeat.base.BaseImageTransformer` in a
    :class:`~sklearn.pipeline.Pipeline`.  Subclasses implement
    ``_process(image) -> image``.  Invalid images always raise
    :class:`~dermfeat.InvalidImageError` (an image cannot be replaced by NaN),
    and so does any other failure while reading or processing one image (its
    message names the file and the original exception type), except
    programming errors (see :data:`dermfeat.base._errors.PROGRAMMING_ERRORS`).
    """

    _parameter_constraints = {"n_jobs": [None, Integral]}

    def _process(self, image):
        raise NotImplementedError

    def fit(self, X=None, y=None):
        """Validate the parameters.

        Parameters
        ----------
        X : images, optional
            Ignored.
        y : array-like, optional
            Ignored.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        self.is_fitted_ = True
        return self

    def transform(self, X):
        """Process every image.

        Parameters
        ----------
        X : path, bytes, array or sequence of them
            The images.

        Returns
        -------
        images : list of ndarray of shape (H, W, 3), dtype uint8
        """
        check_is_fitted(self, "is_fitted_")
        sources = as_image_list(X)
        names = [image_name(s, i) for i, s in enumerate(sources)]
        chunks = map_chunks(self, functools.partial(_process_chunk, self), sources, names)
        return [image for chunk in chunks for image in chunk]

    def set_output(self, *, transform=None):
        """Accepted for ``Pipeline.set_output``; images are not tables, so nothing changes.

        Parameters
        ----------
        transform : {"default", "pandas", "polars"} or None
            Ignored.

        Returns
        -------
        self : object
        """
        return self

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags


def _process_chunk(preprocessor, sources, names):
    out = []
    for source, name in zip(sources, names):
        try:
            image = preprocessor._process(preprocessor._decode(source_bytes(source, name), name))
        except Exception as exc:  # noqa: BLE001 - sorted by as_image_error
            error = as_image_error(exc, name, f"processing the image with {type(preprocessor).__name__}")
            if error is None or error is exc:
                raise
            raise error from exc
        out.append(np.ascontiguousarray(image, dtype=np.uint8))
    return out


