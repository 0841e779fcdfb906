import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score
from sklearn.model_selection import GridSearchCV, KFold

from dermfeat.metrics import (
    get_scorer,
    macro_averaged_mae,
    macro_mae_scorer,
    ordinal_scoring,
    quadratic_weighted_kappa,
    ranked_probability_score,
    rps_scorer,
)
from dermfeat.ordinal import OrdinalClassifier


def _rps_loop(y, proba, normalize=True):
    total = []
    for yi, p in zip(y, proba):
        k = len(p)
        s = sum((np.sum(p[: j + 1]) - float(yi <= j)) ** 2 for j in range(k - 1))
        total.append(s / (k - 1) if normalize else s)
    return np.mean(total)


def test_rps_matches_definition(rng):
    y = rng.integers(0, 4, 50)
    proba = rng.dirichlet(np.ones(4), 50)
    assert ranked_probability_score(y, proba) == pytest.approx(_rps_loop(y, proba))
    assert ranked_probability_score(y, proba, normalize=False) == pytest.approx(_rps_loop(y, proba, False))


def test_rps_perfect_and_worst():
    y = np.array([0, 3])
    assert ranked_probability_score(y, np.eye(4)[y]) == 0.0
    assert ranked_probability_score(y, np.eye(4)[3 - y]) == 1.0


def test_rps_penalises_distance():
    near = ranked_probability_score([0], [[0, 1, 0, 0]])
    far = ranked_probability_score([0], [[0, 0, 0, 1]])
    assert near < far


def test_rps_missing_levels_and_labels(rng):
    proba = rng.dirichlet(np.ones(4), 20)
    y = rng.choice([0, 2, 3], 20)  # level 1 absent: integer labels still index columns 0..3
    assert ranked_probability_score(y, proba) == pytest.approx(_rps_loop(y, proba))
    names = np.array(["mild", "moderate", "none", "severe"])
    order = ["none", "mild", "moderate", "severe"]
    y_named = np.array(order)[y]
    assert ranked_probability_score(y_named, proba, labels=order) == pytest.approx(_rps_loop(y, proba))
    with pytest.raises(ValueError, match="labels"):
        ranked_probability_score(names[[0, 1, 2]], proba[:3])


def test_rps_binary_1d_and_weights():
    y = np.array([0, 1, 1])
    p1 = np.array([0.2, 0.7, 0.4])
    full = np.column_stack([1 - p1, p1])
    assert ranked_probability_score(y, p1) == pytest.approx(ranked_probability_score(y, full))
    w = np.array([1.0, 0.0, 2.0])
    expected = np.average([(0.8 - 1) ** 2, 0.3**2, 0.6**2], weights=w)
    assert ranked_probability_score(y, full, sample_weight=w) == pytest.approx(expected)


def test_qwk_equals_sklearn(rng):
    y = rng.integers(0, 4, 80)
    pred = np.clip(y + rng.integers(-1, 2, 80), 0, 3)
    w = rng.uniform(0.5, 2, 80)
    assert quadratic_weighted_kappa(y, pred) == pytest.approx(cohen_kappa_score(y, pred, weights="quadratic"))
    assert quadratic_weighted_kappa(y, pred, sample_weight=w) == pytest.approx(
        cohen_kappa_score(y, pred, weights="quadratic", sample_weight=w)
    )


def test_qwk_uses_level_values_when_a_level_is_missing(rng):
    y = rng.choice([0, 2, 3], 60)
    pred = rng.choice([0, 2, 3], 60)
    # sklearn measures distance between positions in labels; with all of 0..3 listed they equal values
    ref = cohen_kappa_score(y, pred, weights="quadratic", labels=[0, 1, 2, 3])
    assert quadratic_weighted_kappa(y, pred) == pytest.approx(ref)


def test_qwk_perfect():
    assert quadratic_weighted_kappa([0, 1, 2], [0, 1, 2]) == 1.0


def test_macro_mae_equals_imblearn(rng):
    imblearn_metrics = pytest.importorskip("imblearn.metrics")
    for seed in range(5):
        r = np.random.default_rng(seed)
        y = r.choice([0, 1, 2, 3], 70, p=[0.6, 0.25, 0.1, 0.05])
        y[:4] = [0, 1, 2, 3]
        pred = np.clip(y + r.integers(-2, 3, 70), 0, 3)
        w = r.uniform(0.1, 3.0, 70)
        ours = macro_averaged_mae(y, pred)
        assert ours == pytest.approx(imblearn_metrics.macro_averaged_mean_absolute_error(y, pred))
        assert macro_averaged_mae(y, pred, sample_weight=w) == pytest.approx(
            imblearn_metrics.macro_averaged_mean_absolute_error(y, pred, sample_weight=w)
        )


def test_macro_mae_weights_classes_equally():
    assert macro_averaged_mae([0, 0, 0, 0, 3], [0, 0, 0, 0, 0]) == 1.5


def test_scorers_by_name():
    assert get_scorer("neg_rps") is rps_scorer
    assert get_scorer("neg_macro_mae") is macro_mae_scorer
    assert callable(get_scorer("accuracy"))
    with pytest.raises(ValueError):
        get_scorer("no_such_scorer")


def _ordinal_data(n=240, seed=0):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 3))
    y = np.digitize(X[:, 0] + 0.5 * r.normal(size=n), [-1.0, 0.0, 1.0])
    return X, y


def test_scorers_in_grid_search():
    X, y = _ordinal_data()
    search = GridSearchCV(
        OrdinalClassifier(LogisticRegression()),
        {"estimator__C": [0.01, 1.0]},
        scoring=ordinal_scoring(),
        refit="qwk",
        cv=KFold(3),
    ).fit(X, y)
    res = search.cv_results_
    assert np.all(res["mean_test_neg_rps"] <= 0) and np.all(res["mean_test_neg_macro_mae"] <= 0)
    assert np.all(res["mean_test_qwk"] > 0.3)
    # the scorer reproduces the metric on the fitted model
    est = search.best_estimator_
    assert rps_scorer(est, X, y) == pytest.approx(-ranked_probability_score(y, est.predict_proba(X)))


def test_rps_scorer_with_fold_missing_top_level():
    X, y = _ordinal_data()
    clf = OrdinalClassifier(LogisticRegression()).fit(X, y)
    keep = y < 3
    assert rps_scorer(clf, X[keep], y[keep]) == pytest.approx(
        -ranked_probability_score(y[keep], clf.predict_proba(X[keep]))
    )
