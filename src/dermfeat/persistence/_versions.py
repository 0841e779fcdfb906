"""Library versions recorded in a model file, and the warning when they differ on load."""

from __future__ import annotations

import platform
import warnings
from importlib import metadata as _metadata

from .. import __version__
from .._exceptions import ModelVersionWarning

#: Libraries whose versions are compared on load (a difference gives a ModelVersionWarning).
CHECKED = ("dermfeat", "scikit-learn", "numpy", "skops", "imbalanced-learn")


def _installed(distribution):
    if distribution == "dermfeat":
        return __version__
    try:
        return _metadata.version(distribution)
    except _metadata.PackageNotFoundError:
        return None


def current_versions(uses_imblearn=False):
    """The versions to record in a model file saved now."""
    names = ["dermfeat", "scikit-learn", "numpy", "scipy", "skops"]
    if uses_imblearn:
        names.append("imbalanced-learn")
    versions = {name: _installed(name) for name in names}
    versions["python"] = platform.python_version()
    return {name: version for name, version in versions.items() if version is not None}


def recorded_versions(metadata, sklearn_from_state=None):
    """Versions a file records: ``metadata["versions"]``, else what older files kept."""
    recorded = dict(metadata.get("versions") or {}) if isinstance(metadata, dict) else {}
    if isinstance(metadata, dict) and "dermfeat_version" in metadata:
        recorded.setdefault("dermfeat", metadata["dermfeat_version"])
    if sklearn_from_state:
        recorded.setdefault("scikit-learn", sklearn_from_state)
    return recorded


def warn_if_different(source, recorded, stacklevel):
    """One :class:`ModelVersionWarning` listing every checked library whose version differs."""
    differences = []
    for name in CHECKED:
        saved = recorded.get(name)
        if saved is None:
            continue
        running = _installed(name)
        if str(saved) != str(running):
            differences.append(f"{name} {saved} (running {running or 'not installed'})")
    if differences:
        warnings.warn(
            f"{source}: saved with {', '.join(differences)}; it may fail or predict differently, "
            "save it again with the running versions",
            ModelVersionWarning,
            stacklevel=stacklevel + 1,
        )
    return differences
