"""Turn whatever a user passes as ``X`` into a flat list of image sources."""

from __future__ import annotations

import os

import numpy as np

from .._exceptions import InvalidImageError


def as_image_list(X):
    """Normalise ``X`` to a list of image sources (paths, bytes or arrays).

    Accepted forms:

    * a single path (``str`` / path-like) or ``bytes``: a batch of one;
    * a single decoded image: a numeric array of shape ``(H, W)``, ``(H, W, 3)``
      or ``(H, W, 4)``: a batch of one;
    * a 4-D numeric array ``(n, H, W, C)``: a batch of ``n`` images;
    * a list or tuple of paths, bytes or arrays (sizes may differ);
    * a 1-D object/string array, or a 2-D one with a single column, e.g. what
      :class:`~sklearn.compose.ColumnTransformer` passes for a column of paths;
    * a pandas ``Series`` or a one-column ``DataFrame`` of paths.

    Parameters
    ----------
    X : see above
        The images.

    Returns
    -------
    sources : list
        One entry per image.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.base import as_image_list
    >>> len(as_image_list(np.zeros((5, 8, 8, 3), dtype=np.uint8)))
    5
    >>> as_image_list(["a.jpg", "b.jpg"])
    ['a.jpg', 'b.jpg']
    """
    if isinstance(X, (str, os.PathLike, bytes, bytearray)):
        return [X]
    # pandas objects without importing pandas
    if hasattr(X, "iloc") and hasattr(X, "columns"):
        if X.shape[1] != 1:
            raise ValueError(
                f"a DataFrame of images must have exactly one column of paths or arrays, got {X.shape[1]} "
                "columns; select the image column (e.g. in a ColumnTransformer)"
            )
        return list(X.iloc[:, 0])
    if hasattr(X, "iloc"):
        return list(X)
    if isinstance(X, np.ndarray):
        if X.dtype == object or X.dtype.kind in "US":
            if X.ndim == 2 and X.shape[1] == 1:
                X = X[:, 0]
            if X.ndim != 1:
                raise ValueError(f"an array of image sources must be 1-D or one column, got shape {X.shape}")
            return [_plain(x) for x in X]
        if X.ndim == 4:
            return list(X)
        if X.ndim in (2, 3):
            return [X]
        raise InvalidImageError("<array>", f"array of shape {X.shape} is neither an image nor a batch of images")
    if isinstance(X, (list, tuple)):
        return [_plain(x) for x in X]
    if hasattr(X, "__len__") and hasattr(X, "__getitem__"):
        return [_plain(X[i]) for i in range(len(X))]
    raise TypeError(
        f"cannot read images from {type(X).__name__}; pass a path, an array, or a sequence of paths/arrays"
    )


def _plain(x):
    """Numpy string scalars to ``str`` so that paths hash and print plainly."""
    if isinstance(x, np.str_):
        return str(x)
    if isinstance(x, np.bytes_):
        return bytes(x)
    return x
