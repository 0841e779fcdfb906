"""Find every public image estimator in the package (for the shared test suite)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil


def all_image_estimators(kind=None):
    """Return every public, concrete image estimator class in dermfeat.

    All public sub-packages are imported and searched for subclasses of
    :class:`~dermfeat.base.BaseImageTransformer` and
    :class:`~dermfeat.base.BaseImagePreprocessor`, so a new estimator is found (and
    therefore tested by the shared checks) without being listed anywhere.

    Parameters
    ----------
    kind : {"transformer", "preprocessor"} or None
        Restrict to one kind.

    Returns
    -------
    estimators : list of (str, type)
        ``(name, class)`` pairs sorted by name.

    Examples
    --------
    >>> from dermfeat.testing import all_image_estimators
    >>> names = [name for name, _ in all_image_estimators()]
    >>> isinstance(names, list)
    True
    """
    import dermfeat
    from dermfeat.base import BaseImagePreprocessor, BaseImageTransformer

    bases = {"transformer": (BaseImageTransformer,), "preprocessor": (BaseImagePreprocessor,), None: (BaseImageTransformer, BaseImagePreprocessor)}[kind]
    found = {}
    for module_info in pkgutil.walk_packages(dermfeat.__path__, prefix="dermfeat."):
        parts = module_info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]) or parts[1] in ("cli", "tests"):
            continue
        module = importlib.import_module(module_info.name)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, bases)
                and obj not in (BaseImageTransformer, BaseImagePreprocessor)
                and not name.startswith("_")
                and not inspect.isabstract(obj)
                and obj.__module__.startswith("dermfeat.")
            ):
                found[name] = obj
    return sorted(found.items())
