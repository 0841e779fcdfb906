"""Execution settings are not part of a model file: stored as defaults, reset on loading.

A fitted estimator's parameters include settings that decide how, not what, it
computes: a feature-cache folder (``memory``), worker and thread counts
(``n_jobs``, ``n_threads``), ``verbose`` and batch sizes.  Taken from a model
file, a hostile one could make ``predict`` write cache files into a folder it
names, start thousands of workers, or print into ``dermfeat predict``'s CSV
output.  :func:`~dermfeat.persistence.save_model` therefore stores every nested
estimator with these parameters at their defaults, and
:func:`~dermfeat.persistence.load_model` resets any other value it finds (a file
from an older version, or an edited one) with one
:class:`~dermfeat.ModelSettingsWarning`.
"""

from __future__ import annotations

import contextlib
import inspect

#: Parameters of any estimator that only decide how it runs (scikit-learn's
#: ``Pipeline(memory=...)``, ``n_jobs`` of forests, neighbours, unions, ...).
RESET_PARAMS = ("memory", "n_jobs", "verbose")

#: Parameters that only decide how dermfeat's own estimators run (see
#: :data:`dermfeat.base.EXECUTION_PARAMS`; ``on_error`` is a choice of result, kept).
RESET_DERMFEAT_PARAMS = ("batch_size", "n_threads")


def _defaults(cls):
    try:
        parameters = inspect.signature(cls.__init__).parameters.values()
    except (TypeError, ValueError):  # pragma: no cover - a C-level __init__
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


def _same(a, b):
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - arrays and odd objects are simply "different"
        return False


def execution_settings(estimators):
    """``(estimator, name, value, default)`` of every execution setting that is not at its default.

    Parameters
    ----------
    estimators : iterable of estimator
        Every estimator of a model (nested ones included).

    Returns
    -------
    settings : list of tuple
    """
    found = []
    for est in estimators:
        names = RESET_PARAMS
        if type(est).__module__.split(".")[0] == "dermfeat":
            names = RESET_PARAMS + RESET_DERMFEAT_PARAMS
        try:
            params = est.get_params(deep=False)
        except Exception:  # noqa: BLE001 - not a well-formed estimator; nothing to reset
            continue
        defaults = _defaults(type(est))
        for name in names:
            if name in params and name in defaults and not _same(params[name], defaults[name]):
                found.append((est, name, params[name], defaults[name]))
    return found


def _set(settings, position):
    for est, name, *values in settings:
        est.set_params(**{name: values[position]})


def reset_execution_settings(estimators):
    """Reset every execution setting to its default; return what was changed (see :func:`execution_settings`)."""
    settings = execution_settings(estimators)
    _set(settings, 1)
    return settings


@contextlib.contextmanager
def default_execution_settings(estimators):
    """Execution settings at their defaults inside the block, restored afterwards."""
    settings = reset_execution_settings(estimators)
    try:
        yield
    finally:
        _set(settings, 0)


def describe_settings(settings, limit=6):
    """The settings as ``Class.name=value, ...`` (one line, long values shortened)."""
    parts = []
    for est, name, value, _ in settings[:limit]:
        text = repr(value)
        parts.append(f"{type(est).__name__}.{name}={text[:120] + '...' if len(text) > 120 else text}")
    if len(settings) > limit:
        parts.append(f"and {len(settings) - limit} more")
    return ", ".join(parts).replace("\n", " ")
