"""Save and load fitted estimators safely (skops), checking the model files they need."""

from __future__ import annotations

import datetime
import os
import pickle
import warnings
from pathlib import Path

from sklearn.base import BaseEstimator

from .. import __version__
from .._exceptions import InvalidModelError, ModelFileNotFoundError, ModelMismatchError, ModelSettingsWarning
from ._archive import MAX_MODEL_SIZE, open_archive, read_model_bytes, sniff
from ._execution import default_execution_settings, describe_settings, reset_execution_settings
from ._skops import load_payload
from ._versions import current_versions, recorded_versions, warn_if_different


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
    uses_imblearn = any(type(est).__module__.startswith("imblearn.") for est in _walk(estimator))
    meta = {
        "dermfeat_version": __version__,
        "versions": current_versions(uses_imblearn),
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
    arbitrary code.  The file also records the versions of dermfeat,
    scikit-learn, NumPy, SciPy, skops, imbalanced-learn (when the model uses it)
    and Python, the classes and, for every embedding model the estimator uses,
    its file name and SHA-256, so :func:`load_model` can warn when versions
    differ, say which file it needs and refuse a different one.

    Execution settings (``memory``, ``n_jobs``, ``verbose`` of every nested
    estimator; ``batch_size`` and ``n_threads`` of dermfeat's) are stored at
    their defaults: they belong to the machine that runs the model, not to the
    file (``estimator`` itself is left as it was).

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
    if format not in ("skops", "pickle"):
        raise ValueError(f"format must be 'skops' or 'pickle', got {format!r}")
    payload = {"estimator": estimator, "metadata": _metadata(estimator, metadata)}
    with default_execution_settings(list(_walk(estimator))):
        if format == "skops":
            import skops.io as sio

            sio.dump(payload, path)
        else:
            with open(path, "wb") as fh:
                pickle.dump(payload, fh, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def load_model(path, *, trusted=None, allow_pickle=False, model_dir=None, max_size=MAX_MODEL_SIZE,
               keep_execution_params=False):
    """Load an estimator saved by :func:`save_model` and check its model files.

    A skops file is checked before anything in it is used (see the user guide
    page "Security and robustness"): the archive's size, entry count and
    compression ratio are bounded and its entries verified, then every type
    (and function) the file would create is compared with
    :data:`~dermfeat.persistence.ALLOWED_TYPES`, the explicit list of what
    dermfeat's own models contain, and with how skops would build it.
    Anything else is refused, so loading never calls code named by the file.
    Fitted values that compiled code reads without bounds checks (tree nodes,
    support vectors) are checked too.  A difference between the library
    versions recorded in the file and the running ones gives one
    :class:`~dermfeat.ModelVersionWarning`.  Execution settings found in the
    file (a feature-cache folder, worker or thread counts, ``verbose``, batch
    sizes) are reset to their defaults, with one
    :class:`~dermfeat.ModelSettingsWarning`: a model file does not choose
    where to write or how many workers to start.

    Parameters
    ----------
    path : path-like
        A ``.skops`` file (or a pickle, with ``allow_pickle=True``).
    trusted : list of str or type, optional
        Extra types (or functions) to accept, by fully qualified name as given
        in the refusal message, e.g. your own transformer.  Only name what you
        trust: a trusted type is created and configured from the file.
    allow_pickle : bool, default=False
        Allow pickle files.  A pickle can run arbitrary code when loaded: never
        load one from a source you do not trust.
    model_dir : path-like, optional
        Where to look for the embedding model files if they are no longer at the
        paths recorded when the model was saved (matched by file name, then
        checked by SHA-256).
    max_size : int, default=MAX_MODEL_SIZE
        Largest accepted file size and total uncompressed content, in bytes
        (256 MiB by default).
    keep_execution_params : bool, default=False
        Keep the execution settings stored in the file (``memory``, ``n_jobs``,
        ``verbose`` of every nested estimator; ``batch_size``, ``n_threads`` of
        dermfeat's) instead of resetting them.  Only for files you trust; or
        set them on the loaded model with ``set_params``.

    Returns
    -------
    estimator : estimator
    metadata : dict
        What :func:`save_model` recorded.

    Raises
    ------
    InvalidModelError
        For any problem with the file: missing, not a regular file, empty,
        truncated, damaged, too large, not a model, not written by dermfeat,
        a pickle without ``allow_pickle=True``, or unsafe content.  One line
        naming the file; ``kind`` says which.  A missing file (or a missing
        embedding model file) raises :class:`~dermfeat.ModelFileNotFoundError`,
        which is also a :class:`FileNotFoundError`.
    ModelMismatchError
        If an embedding model file the estimator needs has different content
        (SHA-256).

    Warns
    -----
    ModelVersionWarning
        When the file was saved with other versions of dermfeat, scikit-learn,
        NumPy, skops or imbalanced-learn.
    ModelSettingsWarning
        When execution settings stored in the file were reset.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from dermfeat.persistence import load_model
    >>> path = Path(tempfile.mkdtemp()) / "notes.skops"
    >>> _ = path.write_text("not a model")
    >>> load_model(path)
    Traceback (most recent call last):
    ...
    dermfeat._exceptions.InvalidModelError: .../notes.skops: not a model file: neither a skops (zip) archive nor a pickle
    """
    source = os.fspath(path)
    data = read_model_bytes(source, max_size)
    kind = sniff(data)
    if kind == "zip":
        entries = open_archive(data, source, max_size)
        del data
        estimator, metadata, sklearn_version = load_payload(entries, source, trusted)
    elif kind == "pickle" or allow_pickle:
        if not allow_pickle:
            raise InvalidModelError(
                source, "a pickle file, refused: loading a pickle can run arbitrary code; "
                "pass allow_pickle=True only for files you made yourself", kind="pickle")
        warnings.warn(f"loading pickle {source}: only do this for files you trust", UserWarning, stacklevel=2)
        estimator, metadata = _load_pickle(data, source, kind)
        sklearn_version = None
    else:
        raise InvalidModelError(source, "not a model file: neither a skops (zip) archive nor a pickle",
                                kind="not_a_model")
    warn_if_different(source, recorded_versions(metadata, sklearn_version), stacklevel=2)
    _relink_model_files(estimator, model_dir, source)
    if not keep_execution_params:
        reset = reset_execution_settings(_walk(estimator))
        if reset:
            warnings.warn(
                f"{source}: execution settings stored in the model file were reset to their defaults: "
                f"{describe_settings(reset)}; set them after loading, or pass keep_execution_params=True "
                "for a file you trust", ModelSettingsWarning, stacklevel=2)
    return estimator, metadata


def _load_pickle(data, source, kind):
    try:
        payload = pickle.loads(data)  # noqa: S301 - explicit opt-in (allow_pickle=True)
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as exc:
        if kind != "pickle":
            raise InvalidModelError(source, "not a model file: neither a skops (zip) archive nor a pickle",
                                    kind="not_a_model") from None
        raise InvalidModelError(source, f"truncated or damaged pickle ({type(exc).__name__}: {exc})",
                                kind="truncated" if isinstance(exc, EOFError) or "truncated" in str(exc)
                                else "damaged") from None
    except Exception as exc:  # noqa: BLE001 - report on one line whatever the pickle raised
        raise InvalidModelError(source, f"could not be loaded ({type(exc).__name__}: {exc})",
                                kind="unloadable") from None
    if not isinstance(payload, dict) or "estimator" not in payload:
        raise InvalidModelError(source, "a pickle not written by dermfeat.persistence.save_model",
                                kind="not_dermfeat")
    metadata = payload.get("metadata", {})
    return payload["estimator"], metadata if isinstance(metadata, dict) else {}


def _relink_model_files(estimator, model_dir, source):
    from ..features._onnx import _zoo_name, model_sha256

    for est in _walk(estimator):
        recorded, sha = getattr(est, "model_path_", None), getattr(est, "model_sha256_", None)
        if not (recorded and sha):
            continue
        if not (isinstance(recorded, str) and isinstance(sha, str)):
            raise InvalidModelError(source, f"{type(est).__name__} records a model file that is not a path")
        if _zoo_name(getattr(est, "model", None)) is not None:
            # a dermfeat.zoo model: the embedder finds (or rebuilds) its own file on this
            # machine and still checks the SHA-256 it was fitted with before any use
            continue
        candidates = [Path(recorded)]
        if model_dir is not None:
            candidates.insert(0, Path(model_dir) / Path(recorded).name)
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise ModelFileNotFoundError(
                source,
                f"this model needs the embedding model file {Path(recorded).name} (SHA-256 {sha}), "
                f"not found at {recorded}" + ("" if model_dir is None else f" nor in {model_dir}")
                + "; pass model_dir= to say where it is"
            )
        try:
            actual = model_sha256(found)
        except OSError as exc:
            raise InvalidModelError(source, f"cannot read the embedding model file {found}: {exc.strerror or exc}",
                                    kind="not_a_file") from None
        if actual != sha:
            raise ModelMismatchError(
                f"{found}: SHA-256 {actual} differs from the {sha} this model was fitted with; "
                "features from another model file would be meaningless"
            )
        if os.fspath(found) != os.fspath(recorded):
            est.model_path_ = str(found)
            if "model" in est.get_params(deep=False):
                est.set_params(model=str(found))
