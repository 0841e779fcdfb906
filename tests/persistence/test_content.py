"""Fitted values that compiled code indexes without bounds checks are checked after loading."""

import copy

import numpy as np
import pytest
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.neighbors import KDTree
from sklearn.svm import SVC

from dermfeat.persistence import load_model, save_model
from dermfeat.persistence._content import UnsafeContentError, check_content


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    return X, y


def test_fitted_models_pass(table, tmp_path):
    X, y = table
    Xc = X.copy()
    Xc[:, 3] = (Xc[:, 3] > 0).astype(float) + 2 * (Xc[:, 2] > 0)  # a categorical column, 4 categories
    models = [
        HistGradientBoostingClassifier(max_iter=5).fit(X, y),
        HistGradientBoostingClassifier(max_iter=5, categorical_features=[3]).fit(Xc, y),
        SVC().fit(X, y),
        SVC().fit(X, np.arange(200) % 3),
        SVC(kernel="precomputed").fit(X @ X.T, y),
        KDTree(X, leaf_size=5),
        [sparse.csr_matrix(np.eye(3)), {"m": sparse.csc_matrix(np.eye(2))}],
        HistGradientBoostingClassifier(),  # unfitted templates are left alone
        SVC(),
    ]
    for model in models:
        check_content(model)
    path = save_model(models[1], tmp_path / "cat.skops")
    # categorical features bring an encoder and a function: not in dermfeat's models, so trusted by name
    loaded, _ = load_model(path, trusted=["functools.partial", "sklearn.preprocessing._encoders.OrdinalEncoder",
                                          "sklearn.preprocessing._function_transformer.FunctionTransformer",
                                          "sklearn.utils.validation.check_array"])
    np.testing.assert_array_equal(loaded.predict(Xc), models[1].predict(Xc))


def test_tree_nodes(table):
    X, y = table
    model = HistGradientBoostingClassifier(max_iter=3).fit(X, y)
    for field, value, message in [("left", 10**6, "left child out of range"),
                                  ("right", 0, "right child out of range"),
                                  ("feature_idx", 4, "feature the model does not have"),
                                  ("is_categorical", 1, "categorical split|cat_bitsets index out of range")]:
        bad = copy.deepcopy(model)
        nodes = bad._predictors[1][0].nodes
        nodes[field][np.flatnonzero(nodes["is_leaf"] == 0)[0]] = value
        with pytest.raises(UnsafeContentError, match=message):
            check_content({"model": bad})
    bad = copy.deepcopy(model)
    bad._predictors[0][0].nodes = np.zeros(3, dtype=[("value", "<f8"), ("left", "<u4")])
    with pytest.raises(UnsafeContentError, match="wrong layout"):
        check_content(bad)


def test_kd_tree(table):
    X, _ = table
    tree = KDTree(X, leaf_size=5)
    state = list(tree.__getstate__())
    for index, edit, message in [(1, lambda a: a + 1, "sample index out of range"),
                                 (2, lambda a: _set(a, "idx_end", 10**6), "sample range out of range"),
                                 (3, lambda a: np.ascontiguousarray(a[:, :-1]), "bounds have the wrong shape"),
                                 (6, lambda n: n + 2, "node count inconsistent"),
                                 (5, lambda n: 2**60, "depth out of range")]:
        bad_state = list(state)
        bad_state[index] = edit(np.copy(state[index]) if index < 4 else state[index])
        bad = KDTree.__new__(KDTree)
        bad.__setstate__(tuple(bad_state))  # scikit-learn accepts it...
        with pytest.raises(UnsafeContentError, match=message):  # ... the check does not
            check_content(bad)


def _set(array, field, value):
    array[field][0] = value
    return array


@pytest.mark.filterwarnings("ignore:The `probability` parameter:FutureWarning")
def test_svc(table):
    X, y = table
    model = SVC(probability=True).fit(X, y)
    for attr, edit, message in [("_dual_coef_", lambda a: np.ascontiguousarray(a[:, :1]), "dual coefficients"),
                                ("_intercept_", lambda a: a[:0], "intercepts"),
                                ("_n_support", lambda a: a + 1, "counts do not add up"),
                                ("support_vectors_", lambda a: np.ascontiguousarray(a[:, :2]), "support vectors"),
                                ("_probA", lambda a: np.concatenate([a, a]), "_probA")]:
        bad = copy.deepcopy(model)
        setattr(bad, attr, edit(getattr(bad, attr)))
        with pytest.raises(UnsafeContentError, match=message):
            check_content(bad)
    bad = copy.deepcopy(model)
    del bad._n_support
    with pytest.raises(UnsafeContentError, match="inconsistent"):
        check_content(bad)


def test_sparse_and_object_arrays():
    matrix = sparse.csr_matrix(np.eye(3))
    matrix.indices[0] = 7
    with pytest.raises(UnsafeContentError, match="csr_matrix"):
        check_content(np.array([{"hidden": matrix}], dtype=object))
