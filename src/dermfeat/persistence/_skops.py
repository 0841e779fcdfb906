"""Load the payload of a checked skops archive: audit every name first, build only then.

skops' own loader trusts, besides what it is told, its defaults (every
scikit-learn estimator, every NumPy ufunc...).  Here the file's node tree is
read with skops' ``get_tree`` (which imports and creates nothing), every name it
would import or call is listed with the node kind that would use it
(:func:`~dermfeat.persistence._audit.names_used`) and checked against
:data:`~dermfeat.persistence.ALLOWED_TYPES` plus the caller's ``trusted``, skops'
own audit runs as a second line of defence with exactly those names, and only
then are the objects built, from the same tree.
"""

from __future__ import annotations

import warnings

from .._exceptions import InvalidModelError
from ._allowlist import ALLOWED_TYPES
from ._audit import UnknownNodeError, names_used
from ._content import UnsafeContentError, check_content

_PAYLOAD_KEYS = {"estimator", "metadata"}


def _short(exc, limit=200):
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def type_names(trusted):
    """``trusted`` entries (names or types) as fully qualified names."""
    names = set()
    for item in trusted or ():
        names.add(item if isinstance(item, str) else f"{item.__module__}.{item.__qualname__}")
    return names


def refused_names(found, trusted_names, allowed=ALLOWED_TYPES):
    """``"name"`` or ``"name (as NodeKind)"`` for every use the allow-list does not cover."""
    refused = []
    for name, kinds in sorted(found.items()):
        if name in trusted_names:
            continue
        bad = sorted(kinds - allowed.get(name, frozenset()))
        if bad:
            refused.append(name if bad == ["ObjectNode"] else f"{name} (as {'/'.join(bad)})")
    return refused


def _is_payload(schema):
    """The layout :func:`~dermfeat.persistence.save_model` writes: a dict of estimator and metadata."""
    return (
        isinstance(schema, dict)
        and schema.get("__loader__") == "DictNode"
        and schema.get("__module__") == "builtins"
        and schema.get("__class__") == "dict"
        and isinstance(schema.get("content"), dict)
        and set(schema["content"]) == _PAYLOAD_KEYS
    )


def load_payload(entries, source, trusted=None):
    """Audit and build the payload of a skops archive.

    Returns
    -------
    estimator, metadata : object, dict
    sklearn_version : str or None
        The scikit-learn version found in the estimators' own state, if it
        differs from the running one (files that record no versions).
    """
    try:  # the node tree is skops' internal API (tested with skops 0.16); a version without it cannot be checked
        from skops.io._audit import audit_tree, get_tree
        from skops.io._utils import read_schema
    except ImportError as exc:
        raise InvalidModelError(source, f"cannot be checked with this version of skops ({_short(exc)}); "
                                "upgrade skops", kind="unloadable") from None
    try:
        schema, context = read_schema(entries)
    except (ValueError, TypeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidModelError(source, f"damaged schema.json ({_short(exc)})") from None
    if not _is_payload(schema):
        raise InvalidModelError(
            source, "a skops file, but not a model saved by dermfeat.persistence.save_model", kind="not_dermfeat")
    try:
        tree = get_tree(schema, context, trusted=None)  # reads the tree: nothing imported or created yet
        found = names_used(tree)
    except UnknownNodeError as exc:
        raise InvalidModelError(source, f"refused: {exc}", kind="unsafe") from None
    except Exception as exc:  # noqa: BLE001 - get_tree creates nothing; any failure means a damaged file
        raise InvalidModelError(source, f"damaged skops content ({_short(exc)})") from None
    trusted_names = type_names(trusted)
    refused = refused_names(found, trusted_names)
    if refused:
        raise InvalidModelError(
            source,
            f"refusing to load types that are not trusted: {', '.join(refused)}; "
            "pass trusted=[...] only if you trust this file",
            kind="unsafe",
        )
    try:
        audit_tree(tree, trusted=sorted(found))
    except Exception as exc:  # noqa: BLE001 - skops' own audit disagrees: refuse
        raise InvalidModelError(source, f"refused by skops' audit ({_short(exc)})", kind="unsafe") from None
    estimator, metadata, sklearn_version = _construct(tree, source)
    if not callable(getattr(estimator, "fit", None)):
        raise InvalidModelError(source, f"holds a {type(estimator).__name__}, not an estimator", kind="not_dermfeat")
    if not isinstance(metadata, dict):
        raise InvalidModelError(source, "its metadata is not a dict", kind="not_dermfeat")
    try:
        check_content(estimator)
    except UnsafeContentError as exc:
        raise InvalidModelError(source, f"refused: {exc}", kind="unsafe") from None
    return estimator, metadata, sklearn_version


def _construct(tree, source):
    from sklearn.exceptions import InconsistentVersionWarning

    sklearn_version = None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metadata = tree.content["metadata"].construct()
            estimator = tree.content["estimator"].construct()
        except RecursionError:
            raise InvalidModelError(source, "nested too deeply to load") from None
        except MemoryError:
            raise InvalidModelError(source, "needs more memory than is available to load", kind="too_large") from None
        except Exception as exc:  # noqa: BLE001 - only allowed types were built; report their failure on one line
            raise InvalidModelError(source, f"could not be rebuilt ({_short(exc)})", kind="unloadable") from None
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            sklearn_version = warning.message.original_sklearn_version
        else:  # pass on everything else
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return estimator, metadata, sklearn_version
