"""The allow-list: every model dermfeat builds loads without ``trusted=``, and nothing more is listed."""

import importlib
import inspect
import pkgutil
import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator

import dermfeat
from dermfeat import ModelVersionWarning
from dermfeat.persistence import ALLOWED_TYPES, load_model, save_model
from dermfeat.persistence._allowlist import GENERALISATIONS, MOVED_TYPES  # noqa: E402
from dermfeat.persistence._archive import open_archive, read_model_bytes
from dermfeat.persistence._audit import KNOWN_NODE_KINDS, names_used

from ._catalogue import fit, lesion_data, recipes

pytest.importorskip("imblearn")


def _tree(path):
    from skops.io._audit import get_tree
    from skops.io._utils import read_schema

    entries = open_archive(read_model_bytes(path, 2**30), str(path), 2**30)
    schema, context = read_schema(entries)
    return get_tree(schema, context, trusted=None)


def _outputs(model, X):
    """The model's first output method on a few rows, as a list of arrays (images may differ in size)."""
    X = X[:6]
    for method in ("predict_proba", "predict", "transform"):
        if hasattr(model, method):
            out = getattr(model, method)(X)
            return [np.asarray(item) for item in out] if isinstance(out, list) else [np.asarray(out)]
    raise AssertionError(f"{type(model).__name__} has no output method")


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    """Every recipe, fitted, saved; ``{name: (path, fitted, X)}``."""
    folder = tmp_path_factory.mktemp("catalogue")
    data = lesion_data()
    saved = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on tiny data
        for name, (estimator, kind) in recipes(folder).items():
            fitted, X = fit(estimator, kind, data)
            saved[name] = (save_model(fitted, folder / (name.replace("/", "_") + ".skops")), fitted, X)
    return saved


def test_every_model_dermfeat_builds_loads_without_trusted(catalogue):
    assert len(catalogue) >= 50
    failures = []
    for name, (path, fitted, X) in catalogue.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", ModelVersionWarning)
                loaded, meta = load_model(path)
            for got, expected in zip(_outputs(loaded, X), _outputs(fitted, X), strict=True):
                np.testing.assert_array_equal(got, expected)
            assert meta["estimator"] == type(fitted).__name__
        except Exception as exc:  # noqa: BLE001 - collect every failure for one report
            failures.append(f"{name}: {type(exc).__name__}: {exc}")
    assert not failures, "\n".join(failures)


def test_allowlist_is_what_the_models_contain(catalogue):
    """Every name a saved model uses is listed with its node kind; every listed name is used or a
    documented generalisation.  On failure, the message lists what to add or remove."""
    used = {}
    for path, _, _ in catalogue.values():
        for name, kinds in names_used(_tree(path)).items():
            used.setdefault(name, set()).update(kinds)
    missing = {name: sorted(kinds - ALLOWED_TYPES.get(name, frozenset())) for name, kinds in used.items()}
    missing = {name: kinds for name, kinds in missing.items() if kinds}
    assert not missing, f"add to ALLOWED_TYPES: {missing}"
    unused = set(ALLOWED_TYPES) - set(used) - GENERALISATIONS - set(MOVED_TYPES)
    assert not unused, f"listed but no model dermfeat builds contains them (remove or mark): {sorted(unused)}"
    assert GENERALISATIONS <= set(ALLOWED_TYPES)


def _resolve(name):
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr)


@pytest.mark.parametrize("name", sorted(set(ALLOWED_TYPES) - set(MOVED_TYPES)))
def test_allowlist_entries_resolve_to_classes(name):
    """Each entry is a class importable under the name skops writes (no functions are listed)."""
    from skops.io._utils import get_type_name

    obj = _resolve(name)
    assert inspect.isclass(obj)
    kinds = ALLOWED_TYPES[name]
    if kinds == {"RandomGeneratorNode"} and name.count(".") == 2:  # bit generators: numpy.random.<name>
        assert issubclass(obj, np.random.BitGenerator)
    else:
        assert get_type_name(obj) == name
    assert not (kinds & {"FunctionNode", "ConstructorFromReduceNode", "OperatorFuncNode"})


@pytest.mark.parametrize("old", sorted(MOVED_TYPES))
def test_moved_types_are_aliases_of_their_new_entry(old):
    """A class that moved keeps its old path (for files saved before) as the same class, allowed the same way."""
    new = MOVED_TYPES[old]
    assert _resolve(old) is _resolve(new)
    assert ALLOWED_TYPES[old] == ALLOWED_TYPES[new]
    assert new not in MOVED_TYPES and old.startswith("dermfeat.")


def _public_dermfeat_classes():
    found = {}
    for info in pkgutil.walk_packages(dermfeat.__path__, prefix="dermfeat."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]) or parts[1] in ("cli", "serve", "testing"):
            continue
        module = importlib.import_module(info.name)
        for attr, obj in vars(module).items():
            if (inspect.isclass(obj) and not attr.startswith("_") and obj.__module__.startswith("dermfeat.")
                    and not inspect.isabstract(obj)):
                found[f"{obj.__module__}.{obj.__qualname__}"] = obj
    return found


def test_every_public_dermfeat_estimator_is_allowed():
    """A new estimator, splitter or constraint class fails here until it is added to the allow-list."""
    from dermfeat.base import BaseImagePreprocessor, BaseImageTransformer
    from dermfeat.decision import Constraint

    classes = _public_dermfeat_classes()
    storable = {
        name for name, cls in classes.items()
        if (issubclass(cls, BaseEstimator) and cls not in (BaseImageTransformer, BaseImagePreprocessor))
        or (hasattr(cls, "split") and hasattr(cls, "get_n_splits")) or cls is Constraint
    }
    assert len(storable) >= 15
    missing = sorted(name for name in storable if ALLOWED_TYPES.get(name) != {"ObjectNode"})
    assert not missing, f"add to ALLOWED_TYPES as ObjectNode: {missing}"


def test_every_skops_node_kind_is_known_or_refused():
    """A skops upgrade with a new node kind fails here (and such files are refused meanwhile)."""
    import skops.io._persist  # noqa: F401 - registers every node kind
    from skops.io._audit import NODE_TYPE_MAPPING

    deliberately_refused = {
        "skops.io.old._numpy_v0.RandomGeneratorNode",  # calls a numpy.random name from a raw dict
        "skops.io._sklearn._DictWithDeprecatedKeysNode",  # scikit-learn < 1.2 only
        "skops.io._quantile_forest.QuantileForestNode",  # not a dependency of dermfeat
    }
    kinds = {f"{cls.__module__}.{cls.__qualname__}" for cls in NODE_TYPE_MAPPING.values()}
    unknown = kinds - KNOWN_NODE_KINDS - deliberately_refused
    assert not unknown, f"new skops node kinds: review them in dermfeat/persistence/_audit.py: {sorted(unknown)}"
