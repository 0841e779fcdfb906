"""Checks of loaded values that compiled code would otherwise read without bounds checks.

An allowed *type* is not enough for a few of them: scikit-learn's gradient-boosted
trees follow the child indices stored in their node arrays, its KD-tree follows
node and sample indices, libsvm reads as many support vectors and coefficients
as the class counts say, and scipy's sparse routines trust their index arrays.
None of these is checked when the model is used, so a file with out-of-range
values could crash the process or read memory it should not.  Each check here
compares such values with the sizes they index before the model is returned.
"""

from __future__ import annotations

import numpy as np


class UnsafeContentError(ValueError):
    """A loaded value would make compiled code read out of bounds."""


def _require(condition, what):
    if not condition:
        raise UnsafeContentError(what)


def _int_array(values, name, ndim=1):
    values = np.asarray(values)
    _require(values.ndim == ndim and values.dtype.kind in "iu", f"{name} must be a {ndim}-d integer array")
    return values


def check_tree_predictor(predictor, n_features=None):
    """Nodes of a histogram gradient-boosting tree: children after their parent, in range."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    _require(isinstance(nodes, np.ndarray) and nodes.ndim == 1 and nodes.dtype == PREDICTOR_RECORD_DTYPE
             and nodes.size >= 1, "tree nodes have the wrong layout")
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    n = nodes.size
    for side in ("left", "right"):
        child = nodes[side][inner].astype(np.int64)
        _require(np.all((child > inner) & (child < n)), f"tree node {side} child out of range")
    features = nodes["feature_idx"][inner]
    _require(np.all(features >= 0), "tree split on a negative feature index")
    if n_features is not None:
        _require(np.all(features < n_features), "tree split on a feature the model does not have")
    categorical = inner[nodes["is_categorical"][inner] != 0]
    for name in ("raw_left_cat_bitsets", "binned_left_cat_bitsets"):
        bitsets = getattr(predictor, name)
        _require(isinstance(bitsets, np.ndarray) and bitsets.ndim == 2 and bitsets.shape[1] == 8
                 and bitsets.dtype == np.uint32, f"{name} has the wrong layout")
        _require(np.all(nodes["bitset_idx"][categorical] < bitsets.shape[0]), f"{name} index out of range")


def check_hist_gradient_boosting(model):
    """Every tree of a fitted HistGradientBoosting model, against its number of features."""
    if not hasattr(model, "_predictors"):
        return  # not fitted (a template inside a meta-estimator): predict fails before any tree is read
    n_features = int(model.n_features_in_)
    mapper = model._bin_mapper
    categorical = mapper.is_categorical_
    if categorical is not None:
        categorical = np.asarray(categorical)
        _require(categorical.shape == (n_features,), "is_categorical_ does not match the number of features")
        for f in np.flatnonzero(categorical):
            # each known category sets one bit of a 256-bit set
            values = np.asarray(mapper.bin_thresholds_[f])
            _require(np.all((values >= 0) & (values <= 255)), "categorical feature with a category outside 0..255")
    for iteration in model._predictors:
        _require(len(iteration) == model.n_trees_per_iteration_, "wrong number of trees in an iteration")
        for predictor in iteration:
            check_tree_predictor(predictor, n_features)
            nodes = predictor.nodes
            split_on = nodes["feature_idx"][(nodes["is_leaf"] == 0) & (nodes["is_categorical"] != 0)]
            if split_on.size:
                _require(categorical is not None and bool(np.all(categorical[split_on])),
                         "categorical split on a feature that is not categorical")


def check_kd_tree(tree):
    """A KD-tree's arrays: sample indices, node ranges and bounds consistent with its data."""
    (data, idx_array, node_data, node_bounds, leaf_size, n_levels, n_nodes, *_rest,
     dist_metric, sample_weight) = tree.__getstate__()
    data = np.asarray(data)
    _require(data.ndim == 2, "tree data must be 2-d")
    n_samples, n_features = data.shape
    idx = _int_array(idx_array, "tree sample indices")
    _require(idx.shape == (n_samples,) and np.all((idx >= 0) & (idx < n_samples)), "tree sample index out of range")
    _require(isinstance(n_levels, int) and 1 <= n_levels <= 62, "tree depth out of range")
    _require(n_nodes == len(node_data) >= 1 and n_nodes == 2 ** n_levels - 1, "tree node count inconsistent")
    _require(np.shape(node_bounds) == (2, n_nodes, n_features), "tree node bounds have the wrong shape")
    start, end = node_data["idx_start"], node_data["idx_end"]
    _require(np.all((start >= 0) & (start <= end) & (end <= n_samples)), "tree node sample range out of range")
    inner = np.flatnonzero(node_data["is_leaf"] == 0)
    _require(np.all(2 * inner + 2 < n_nodes), "tree node children out of range")
    _require(sample_weight is None or np.shape(sample_weight) == (n_samples,), "tree sample weights misshapen")
    _require(int(leaf_size) >= 1, "tree leaf size must be positive")


_SVC_FITTED = ("support_", "support_vectors_", "_n_support", "_dual_coef_", "_intercept_", "_probA", "_probB")


def check_svc(model):
    """libsvm's arrays: support vector counts, coefficients and intercepts that agree."""
    if not any(hasattr(model, name) for name in _SVC_FITTED):
        return  # not fitted: predict fails before libsvm is called
    _require(not getattr(model, "_sparse", False), "sparse support vectors are not supported in model files")
    n_support = _int_array(model._n_support, "_n_support")
    support = _int_array(model.support_, "support_")
    n_class, n_sv = n_support.size, support.size
    pairs = n_class * (n_class - 1) // 2
    _require(model._impl in ("c_svc", "nu_svc") and n_class >= 2, "only SVC classifiers are supported")
    _require(np.all(n_support >= 0) and int(n_support.sum()) == n_sv, "support vector counts do not add up")
    sv = np.asarray(model.support_vectors_)
    if model.kernel == "precomputed":
        _require(np.all((support >= 0) & (support < model.shape_fit_[0])), "support index out of range")
    else:
        _require(sv.shape == (n_sv, int(model.n_features_in_)), "support vectors have the wrong shape")
    _require(np.shape(model._dual_coef_) == (n_class - 1, n_sv), "dual coefficients have the wrong shape")
    _require(np.shape(model._intercept_) == (pairs,), "intercepts have the wrong shape")
    for name in ("_probA", "_probB"):
        _require(np.shape(getattr(model, name)) in ((0,), (pairs,)), f"{name} has the wrong shape")


def check_sparse(matrix):
    """A sparse matrix's indices, fully checked by scipy."""
    matrix.check_format(full_check=True)


def _checks():
    from scipy import sparse
    from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import BaseHistGradientBoosting
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.neighbors import KDTree
    from sklearn.svm._base import BaseLibSVM

    return [
        (BaseHistGradientBoosting, check_hist_gradient_boosting),
        (TreePredictor, check_tree_predictor),
        (KDTree, check_kd_tree),
        (BaseLibSVM, check_svc),
        ((sparse.csr_matrix, sparse.csc_matrix, getattr(sparse, "csr_array", ()), getattr(sparse, "csc_array", ())),
         check_sparse),
    ]


def check_content(obj):
    """Run the checks above on every object reachable from ``obj``.

    Raises
    ------
    UnsafeContentError
        Naming the type and the problem.
    """
    checks = _checks()
    seen, stack = set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen or item is None or isinstance(item, (str, bytes, int, float, np.generic)):
            continue
        if isinstance(item, np.ndarray):
            if item.dtype == object:  # objects can hide in object arrays
                seen.add(id(item))
                stack.extend(item.ravel().tolist())
            continue
        seen.add(id(item))
        for kind, check in checks:
            if isinstance(item, kind):
                try:
                    check(item)
                except UnsafeContentError as exc:
                    raise UnsafeContentError(f"{type(item).__name__}: {exc}") from None
                except (AttributeError, KeyError, TypeError, ValueError, IndexError) as exc:
                    raise UnsafeContentError(f"{type(item).__name__}: fitted values are inconsistent ({exc})") from None
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.extend(vars(item).values())
