"""Save and load fitted estimators safely (skops), checking the model files they need."""

from __future__ import annotations

import datetime
import os
import pickle
import warnings
import zipfile
from pathlib import Path

from sklearn.base import BaseEstimator

from .. import __version__
from .._exceptions import ModelMismatchError

#: Type prefixes trusted when loading a skops file: code already installed with dermfeat.
TRUSTED_PREFIXES = ("dermfeat.", "sklearn.", "numpy.", "scipy.", "imblearn.", "builtins.", "collections.")


def _walk(obj, seen=None):
    """Every estimator nested in ``obj`` (steps, fitted sub-estimators, lists, dicts)."""
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, BaseEstimator):
        yield obj
        children = vars(obj).values()
    elif isinstance(obj, (list, tuple)):
        children = obj
    elif isinstance(obj, dict):
        children = obj.values()
    else:
        return
    for child in children:
        if isinstance(child, (BaseEstimator, list, tuple, dict)):
            yield from _walk(child, seen)


def required_model_files(estimator):
    """Model files a fitted estimator needs at prediction time.

    Any nested estimator with fitted ``model_path_`` and ``model_sha256_``
    attributes (such as :class:`~dermfeat.features.OnnxEmbedder`) counts.

    Parameters
    ----------
    estimator : estimator
        Fitted.

    Returns
    -------
    files : list of dict
        ``{"path", "file", "sha256"}`` per distinct model file.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.persistence import required_model_files
    >>> required_model_files(LogisticRegression())
    []
    """
    found = {}
    for est in _walk(estimator):
        path, sha = getattr(est, "model_path_", None), getattr(est, "model_sha256_", None)
        if path and sha:
            found[sha] = {"path": str(path), "file": Path(str(path)).name, "sha256": sha}
    return list(found.values())


def _metadata(estimator, extra):
    meta = {
        "dermfeat_version": __version__,
        "saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "estimator": type(estimator).__name__,
        "model_files": required_model_files(estimator),
    }
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        meta["classes"] = [str(c) for c in classes]
    meta.update(extra or {})
    return meta


def save_model(estimator, path, *, format="skops", metadata=None):
    """Save a fitted estimator with a record of what it needs.

    The default format is skops (``.skops``), which loads without running
    arbitrary code.  The file also records the dermfeat version, the classes and,
    for every embedding model the estimator uses, its file name and SHA-256, so
    :func:`load_model` can say which file it needs and refuse a different one.

    Parameters
    ----------
    estimator : estimator
        Fitted.
    path : path-like
        Output file.
    format : {"skops", "pickle"}, default="skops"
        ``"pickle"`` only on explicit request: loading a pickle runs code from
        the file, so only ever load pickles you made yourself.
    metadata : dict, optional
        Extra JSON-like information to store (e.g. the threshold objective).

    Returns
    -------
    path : pathlib.Path

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.persistence import load_model, save_model
    >>> clf = LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1])
    >>> path = save_model(clf, tempfile.mkdtemp() + "/clf.skops")
    >>> model, meta = load_model(path)
    >>> model.predict([[0.9]]).tolist(), meta["classes"]
    ([1], ['0', '1'])
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"estimator": estimator, "metadata": _metadata(estimator, metadata)}
    if format == "skops":
        import skops.io as sio

        sio.dump(payload, path)
    elif format == "pickle":
        with open(path, "wb") as fh:
            pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    else:
        raise ValueError(f"format must be 'skops' or 'pickle', got {format!r}")
    return path


def load_model(path, *, trusted=None, allow_pickle=False, model_dir=None):
    """Load an estimator saved by :func:`save_model` and check its model files.

    Parameters
    ----------
    path : path-like
        A ``.skops`` file (or a pickle, with ``allow_pickle=True``).
    trusted : list of str, optional
        Extra types to trust in a skops file.  Types from dermfeat, scikit-learn,
        NumPy, SciPy and imbalanced-learn are trusted; any other type makes the
        load fail with the list of types, so nothing unexpected is constructed.
    allow_pickle : bool, default=False
        Allow pickle files.  A pickle can run arbitrary code when loaded: never
        load one from a source you do not trust.
    model_dir : path-like, optional
        Where to look for the embedding model files if they are no longer at the
        paths recorded when the model was saved (matched by file name, then
        checked by SHA-256).

    Returns
    -------
    estimator : estimator
    metadata : dict
        What :func:`save_model` recorded.

    Raises
    ------
    ModelMismatchError
        If a model file the estimator needs has different content (SHA-256).
    FileNotFoundError
        If a model file is missing; the message names it and its SHA-256.
    """
    path = Path(path)
    if zipfile.is_zipfile(path):
        import skops.io as sio

        found = sio.get_untrusted_types(file=path)
        unknown = sorted({t for t in found if not t.startswith(TRUSTED_PREFIXES)} - set(trusted or []))
        if unknown:
            raise ValueError(
                f"{path}: refusing to load types that are not trusted: {', '.join(unknown)}; "
                "pass trusted=[...] if you trust this file"
            )
        payload = sio.load(path, trusted=found or None)
    else:
        if not allow_pickle:
            raise ValueError(
                f"{path} is not a skops file; pickles can run arbitrary code when loaded. "
                "Pass allow_pickle=True only for files you made yourself."
            )
        warnings.warn(f"loading pickle {path}: only do this for files you trust", UserWarning, stacklevel=2)
        with open(path, "rb") as fh:
            payload = pickle.load(fh)  # noqa: S301 - explicit opt-in above
    if not isinstance(payload, dict) or "estimator" not in payload:
        raise ValueError(f"{path} was not written by dermfeat.persistence.save_model")
    estimator, metadata = payload["estimator"], payload.get("metadata", {})
    _relink_model_files(estimator, model_dir)
    return estimator, metadata


def _relink_model_files(estimator, model_dir):
    from ..features._onnx import _zoo_name, model_sha256

    for est in _walk(estimator):
        recorded, sha = getattr(est, "model_path_", None), getattr(est, "model_sha256_", None)
        if not (recorded and sha):
            continue
        if _zoo_name(getattr(est, "model", None)) is not None:
            # a dermfeat.zoo model: the embedder finds (or rebuilds) its own file on this
            # machine and still checks the SHA-256 it was fitted with before any use
            continue
        candidates = [Path(recorded)]
        if model_dir is not None:
            candidates.insert(0, Path(model_dir) / Path(recorded).name)
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise FileNotFoundError(
                f"this model needs the embedding model file {Path(recorded).name} (SHA-256 {sha}), "
                f"not found at {recorded}" + ("" if model_dir is None else f" nor in {model_dir}")
                + "; pass model_dir= to say where it is"
            )
        actual = model_sha256(found)
        if actual != sha:
            raise ModelMismatchError(
                f"{found}: SHA-256 {actual} differs from the {sha} this model was fitted with; "
                "features from another model file would be meaningless"
            )
        if os.fspath(found) != os.fspath(recorded):
            est.model_path_ = str(found)
            if "model" in est.get_params(deep=False):
                est.set_params(model=str(found))
