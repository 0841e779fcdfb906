"""Forwarding of names that moved to :mod:`dermfeat.decision` (private).

The decision layer stands above model selection (its tuners use these
splitters), so model selection must not import it.  Its former names stay
available here all the same: a module ``__getattr__`` looks them up on first
use, for user code and for model files that name the old paths.
"""

from __future__ import annotations

import importlib


def forward_to(namespace, target, names=None):
    """A module ``__getattr__`` handing out ``names`` (default: any) of module ``target``.

    Parameters
    ----------
    namespace : dict
        The forwarding module's ``globals()``; a name is cached there once found.
    target : str
        The module the names moved to.
    names : iterable of str, optional
        The names forwarded; default: every attribute of ``target``.

    Returns
    -------
    __getattr__ : callable
    """
    names = None if names is None else frozenset(names)

    def __getattr__(name):
        if names is None or name in names:
            value = getattr(importlib.import_module(target), name, namespace)
            if value is not namespace:
                namespace[name] = value
                return value
        raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")

    return __getattr__
