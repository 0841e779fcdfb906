"""Pooling of a backbone's patch tokens into one feature row: mean, generalised mean, inside the lesion.

A ViT such as DINOv2 gives one token per image patch (``(n_patches, width)``,
row by row over the patch grid).  :class:`~dermfeat.features.OnnxEmbedder`
returns a model output as is, or, with ``pooling``, one of these poolings of
a ``(batch, tokens, width)`` output:

``"mean"``
    The mean over the patches.
``"gem"``
    Generalised mean with ``p = 3``.  Tokens after a LayerNorm are signed, so
    the classic ``(mean x^p)^(1/p)`` of non-negative activations is taken in
    its signed, real-valued form: ``cbrt(mean(x^3))`` per dimension.  An odd
    power keeps the sign, so this is defined for every real input, lies
    between the smallest and the largest value, scales with the tokens
    (``gem(c x) = c gem(x)``), equals the classic GeM when all values are
    positive, and weighs the patches where a dimension is large in magnitude
    (of either sign) more than the mean does.  No shift or clamp is needed.
``"lesion"``
    The mean of the patches inside the lesion, found in two steps in the spirit
    of the retrieve-then-segment stage of DINO + SegGPT: the redness of each
    patch (CIELAB ``a*`` averaged over the patch's pixels in the view the model
    saw) is split by Otsu's threshold, as :class:`~dermfeat.preprocessing.LesionCrop`
    does; when the redder class is redder by at least 4 ``a*`` units (a lesion
    is assumed), its ``N_PROTOTYPES`` reddest patches are the prototypes, and
    the lesion is every patch whose token has a cosine similarity to the
    prototypes' mean direction in the upper class of Otsu's split of those
    similarities (the prototypes always included).  Similarities are taken
    between tokens centred on the photograph's mean token: ViT patch tokens
    share a large common component, which otherwise makes every patch look
    alike (on 15 shared photographs the mask then covered 77-96 % of most of
    them; centred, 17-66 %, and always redder inside than outside).  So the mask
    follows what the backbone sees as lesion-like, not only colour; the row is
    the mean of the (uncentred) tokens inside it.  When no lesion is assumed (no
    redness contrast, or a flat similarity), the mean of all patches is
    returned.

Everything is computed in float64 from the tokens and the uint8 view, with no
randomness: the rows are deterministic and finite for finite tokens.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..imaging import otsu_threshold, rgb_to_lab

__all__ = ["POOLINGS", "check_token_output", "lesion_patch_mask", "patch_redness", "pool_tokens"]

#: The ``pooling`` options of :class:`~dermfeat.features.OnnxEmbedder` (``None``: the output as is).
POOLINGS = ("mean", "gem", "lesion")
#: The power of the generalised mean (:func:`pool_tokens` multiplies it out: x * x * x).
GEM_POWER = 3
#: Prototypes of the lesion: the reddest patches of the redness mask.
N_PROTOTYPES = 5
#: Smallest difference of mean ``a*`` between the two Otsu classes for a lesion to be assumed
#: (:class:`~dermfeat.preprocessing.LesionCrop`'s ``min_contrast``).
MIN_CONTRAST = 4.0


def token_grid(n_tokens):
    """Side of the square patch grid of ``n_tokens`` tokens, or None when it is not a square."""
    side = math.isqrt(int(n_tokens))
    return side if side * side == n_tokens and side > 0 else None


def patch_redness(view, grid):
    """CIELAB ``a*`` of a view averaged over each cell of a ``grid`` x ``grid`` patch grid.

    Parameters
    ----------
    view : ndarray of shape (height, width, 3), uint8
        The RGB crop the model saw.
    grid : int
        Patches per side.

    Returns
    -------
    redness : ndarray of shape (grid * grid,), float64
        Row by row, like the patch tokens.

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features._token_pooling import patch_redness
    >>> view = np.full((28, 28, 3), (205, 160, 140), dtype=np.uint8)
    >>> view[:14, :14] = (190, 90, 90)  # a red top-left patch
    >>> patch_redness(view, 2).argmax()
    np.int64(0)
    """
    a_star = np.ascontiguousarray(rgb_to_lab(view)[:, :, 1], dtype=np.float32)
    cells = cv2.resize(a_star, (grid, grid), interpolation=cv2.INTER_AREA)
    return cells.astype(np.float64).ravel()


def lesion_patch_mask(tokens, redness):
    """The patches inside the lesion: redness prototypes, then cosine similarity of the (centred) tokens to them.

    Parameters
    ----------
    tokens : ndarray of shape (n_patches, width)
    redness : ndarray of shape (n_patches,)
        See :func:`patch_redness`.

    Returns
    -------
    mask : ndarray of shape (n_patches,), bool
        All False when no lesion is assumed (see the module's description).

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features._token_pooling import lesion_patch_mask
    >>> tokens = np.r_[np.tile([1.0, 0.1], (4, 1)), np.tile([0.1, 1.0], (12, 1))]
    >>> redness = np.r_[np.full(2, 30.0), np.full(14, 10.0)]  # only two patches red...
    >>> lesion_patch_mask(tokens, redness).nonzero()[0].tolist()  # ... four look like them
    [0, 1, 2, 3]
    >>> lesion_patch_mask(tokens, np.full(16, 10.0)).any()  # no redness contrast: no lesion
    np.False_
    """
    redness = np.asarray(redness, dtype=np.float64)
    empty = np.zeros(redness.shape, dtype=bool)
    red = redness > otsu_threshold(redness)
    n_red = int(np.count_nonzero(red))
    if n_red in (0, red.size) or redness[red].mean() - redness[~red].mean() < MIN_CONTRAST:
        return empty
    prototypes = np.argsort(-redness, kind="stable")[: min(N_PROTOTYPES, n_red)]
    tokens = np.asarray(tokens, dtype=np.float64)
    tokens = tokens - tokens.mean(axis=0)  # without the component all patches share
    norms = np.linalg.norm(tokens, axis=1, keepdims=True)
    unit = np.divide(tokens, norms, out=np.zeros_like(tokens), where=norms > 0)
    direction = unit[prototypes].mean(axis=0)
    length = np.linalg.norm(direction)
    if not np.isfinite(length) or length == 0:
        return empty
    mask = _otsu_upper(unit @ (direction / length))
    if mask is None:  # all alike: no split between lesion and the rest
        return empty
    mask[prototypes] = True
    return mask


def _otsu_upper(values):
    """The upper class of Otsu's split of ``values``, exact (over the sorted values, not a histogram).

    The split maximises ``k (n - k) (mean_low - mean_high) ** 2`` among the
    ``k`` lowest values; None when all values are equal.
    """
    order = np.sort(values)
    n = order.size
    steps = np.nonzero(np.diff(order) > 1e-12 * (1.0 + np.abs(order[:-1])))[0]  # a split after each index
    if steps.size == 0:
        return None
    sums = np.cumsum(order)
    k = steps + 1
    between = k * (n - k) * (sums[steps] / k - (sums[-1] - sums[steps]) / (n - k)) ** 2
    split = steps[int(np.argmax(between))]
    return values > (order[split] + order[split + 1]) / 2


def pool_tokens(tokens, pooling, views=None):
    """One row per token matrix: the ``pooling`` of its patch tokens.

    Parameters
    ----------
    tokens : ndarray of shape (n, n_patches, width)
    pooling : {None, "mean", "gem", "lesion"}
        See the module's description; ``None`` returns ``tokens`` itself (any shape).
    views : ndarray of shape (n, height, width, 3), uint8, or a list of such stacks, optional
        The RGB views the tokens come from, in order (a list is concatenated);
        required by ``"lesion"``, whose patch grid must be square.

    Returns
    -------
    rows : ndarray of shape (n, width), float32
        (``tokens`` when ``pooling`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> from dermfeat.features._token_pooling import pool_tokens
    >>> tokens = np.array([[[1.0, -2.0], [2.0, -2.0], [-3.0, 4.0]]])
    >>> pool_tokens(tokens, "mean")
    array([[0., 0.]], dtype=float32)
    >>> pool_tokens(tokens, "gem").round(3)  # cbrt(mean(x ** 3)): cbrt(-18 / 3), cbrt(48 / 3)
    array([[-1.817,  2.52 ]], dtype=float32)
    """
    if pooling is None:
        return tokens
    tokens = np.asarray(tokens)
    if tokens.ndim != 3:
        raise ValueError(f"expected tokens of shape (n, n_patches, width), got {tokens.shape}")
    if pooling == "mean":
        return tokens.mean(axis=1, dtype=np.float64).astype(np.float32)
    if pooling == "gem":
        values = tokens.astype(np.float64)
        cubes = np.mean(values * values * values, axis=1)  # x ** GEM_POWER, without the slow generic power
        return np.cbrt(cubes).astype(np.float32)
    if pooling != "lesion":
        raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    grid = token_grid(tokens.shape[1])
    if grid is None:
        raise ValueError(f"'lesion' pooling needs a square patch grid, got {tokens.shape[1]} tokens")
    if isinstance(views, (list, tuple)) and views:
        views = np.concatenate(views)
    if views is None or len(views) != len(tokens):
        raise ValueError("'lesion' pooling needs the view of every token matrix")
    rows = np.empty((len(tokens), tokens.shape[2]), dtype=np.float32)
    for i, (matrix, view) in enumerate(zip(tokens, views)):
        mask = lesion_patch_mask(matrix, patch_redness(view, grid))
        chosen = matrix[mask] if mask.any() else matrix
        rows[i] = chosen.mean(axis=0, dtype=np.float64)
    return rows


def check_token_output(path, output_name, dims, pooling):
    """Refuse a model output that ``pooling`` cannot turn into rows.

    ``(batch, features)`` without pooling, ``(batch, tokens, features)`` with
    it (a square patch grid for ``"lesion"``); ``dims`` is the output's shape
    without the batch axis, ``path`` the model file (for the message).
    """
    shape = f"(batch, {', '.join(map(str, dims))})"
    if pooling is None and len(dims) != 1:
        raise ValueError(
            f"{path}: output {output_name!r} has shape {shape}; OnnxEmbedder needs a (batch, features) output "
            "such as a pooled embedding, or pooling='mean', 'gem' or 'lesion' for a (batch, tokens, features) one"
        )
    if pooling is not None and len(dims) != 2:
        raise ValueError(
            f"{path}: pooling={pooling!r} needs a (batch, tokens, features) output such as 'patch_tokens', but "
            f"output {output_name!r} has shape {shape}"
        )
    if pooling == "lesion" and token_grid(dims[0]) is None:
        raise ValueError(
            f"{path}: pooling='lesion' needs the tokens of a square patch grid, but output {output_name!r} has "
            f"{dims[0]} tokens (without a CLS token: use the patch tokens)"
        )
