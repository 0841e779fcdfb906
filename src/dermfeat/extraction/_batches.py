"""One batch of images through any transformer: fitted once, features and errors per image, feature names."""

from __future__ import annotations

import copy
import os

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from .._exceptions import InvalidImageError
from ..base._image_transformer import feature_state
from ..io import image_name
from ._output import RESERVED_COLUMNS


def _ensure_fitted(transformer, first_batch):
    try:
        check_is_fitted(transformer)
        return transformer
    except NotFittedError:
        pass
    except TypeError:  # not an estimator: use as is
        return transformer
    sample = list(first_batch)
    while True:
        try:
            return clone(transformer).fit(sample)
        except InvalidImageError as exc:  # fit (e.g. of a preprocessing step) on the readable images
            bad = [i for i, s in enumerate(sample) if image_name(s, i) == exc.source]
            if not bad or len(sample) == 1:
                raise
            del sample[bad[0]]


def _identity(source, index):
    """The name an image is stored under: a path exactly as the operating system gave it.

    :func:`~dermfeat.io.image_name` escapes bytes that are not UTF-8 for messages;
    the output keeps the path itself, so that it can be opened again.
    """
    if isinstance(source, (str, os.PathLike)):
        return os.fsdecode(os.fspath(source))
    return image_name(source, index)


def _serial_copy(transformer):
    """A copy whose nested ``n_jobs`` are ``None``: on a cluster, the cluster parallelises."""
    out = copy.deepcopy(transformer)
    if hasattr(out, "get_params") and hasattr(out, "set_params"):
        keys = [k for k in out.get_params(deep=True) if k == "n_jobs" or k.endswith("__n_jobs")]
        if keys:
            out.set_params(**dict.fromkeys(keys))
    return out


def _state_key(transformer):
    try:
        return joblib.hash(feature_state(transformer))
    except Exception:  # not a scikit-learn estimator, or unpicklable parameters
        return joblib.hash(repr(transformer))


def _dense(features):
    if hasattr(features, "toarray"):
        features = features.toarray()
    return np.asarray(features)


def _extract_batch(transformer, batch):
    """One batch: ``(start, sources)`` -> ``(features of readable images, their positions, errors)``.

    Uses ``transform_with_errors`` when the transformer has it (every
    :class:`~dermfeat.base.BaseImageTransformer`); other transformers are run on
    the whole batch and, if an image is invalid, image by image.
    """
    _, sources = batch
    if hasattr(transformer, "transform_with_errors"):
        features, found = transformer.transform_with_errors(sources)
        features = _dense(features)
        errors = [(j, reason) for j, _, reason in found]
    else:
        try:
            features, errors = _dense(transformer.transform(sources)), []
        except InvalidImageError:
            rows, errors = [], []
            for j, source in enumerate(sources):
                try:
                    rows.append(_dense(transformer.transform([source]))[0])
                except InvalidImageError as exc:
                    errors.append((j, exc.reason))
            features = np.vstack(rows) if rows else np.empty((0, 0))
            bad = {j for j, _ in errors}
            keep = np.array([j for j in range(len(sources)) if j not in bad], dtype=np.int64)
            return features, keep, errors
    bad = {j for j, _ in errors}
    keep = np.array([j for j in range(len(sources)) if j not in bad], dtype=np.int64)
    if features.ndim != 2 or features.shape[0] != len(sources):
        raise RuntimeError(
            f"{type(transformer).__name__}.transform returned shape {features.shape} for {len(sources)} images"
        )
    return features[keep], keep, errors


def _declared_names(transformer):
    # a Pipeline of image preprocessors + extractor: the names are the extractor's
    for candidate in (transformer, getattr(transformer, "steps", [(None, None)])[-1][1]):
        try:
            return [str(n) for n in candidate.get_feature_names_out()]
        except Exception:
            continue
    return None


def _feature_names(transformer, width):
    names = _declared_names(transformer)
    if names is None or len(names) != width or len(set(names)) != width or set(names) & set(RESERVED_COLUMNS):
        names = [f"feature_{j}" for j in range(width)]
    return names
