import itertools
import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.naive_bayes import GaussianNB
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier

from dermfeat.metrics import ordinal_scoring
from dermfeat.decision import (
    MultiSignOrdinalClassifier,
    OrdinalClassifier,
    composite_distribution,
    composite_summary,
    cumulative_to_proba,
    monotone_decreasing,
)


def _ordinal(n=300, seed=0, levels=(-1.0, 0.0, 1.0), noise=0.6):
    r = np.random.default_rng(seed)
    X = r.normal(size=(n, 3))
    return X, np.digitize(X[:, 0] + noise * r.normal(size=n), levels)


# ---------------------------------------------------------------- monotone probabilities
def test_isotonic_repair_equals_sklearn_isotonic(rng):
    q = rng.uniform(size=(100, 5))
    ours = monotone_decreasing(q)
    ref = np.vstack([IsotonicRegression(increasing=False).fit_transform(np.arange(5), row) for row in q])
    np.testing.assert_allclose(ours, ref, atol=1e-12)
    np.testing.assert_array_equal(monotone_decreasing(q, "cummin"), np.minimum.accumulate(q, axis=1))


@pytest.mark.parametrize("monotonic", ["isotonic", "cummin"])
def test_probabilities_are_monotone_and_sum_to_one(monotonic):
    X, y = _ordinal(noise=1.5)
    # shallow trees give crossing cumulative estimates: the repair must do real work
    clf = OrdinalClassifier(DecisionTreeClassifier(max_depth=3, random_state=0), monotonic=monotonic).fit(X, y)
    raw = clf.predict_cumulative(X, monotonic="none")
    assert np.any(np.diff(raw, axis=1) > 0), "test needs crossing raw estimates"
    cum = clf.predict_cumulative(X)
    assert np.all(np.diff(cum, axis=1) <= 1e-12)
    proba = clf.predict_proba(X)
    assert np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # class probabilities reproduce the cumulative ones
    np.testing.assert_allclose(1 - np.cumsum(proba, axis=1)[:, :-1], cum, atol=1e-12)


def test_cumulative_to_proba():
    np.testing.assert_allclose(cumulative_to_proba([[0.9, 0.5, 0.1]]), [[0.1, 0.4, 0.4, 0.1]])


def test_binary_estimators_see_exceedance_targets():
    X, y = _ordinal()
    clf = OrdinalClassifier(LogisticRegression()).fit(X, y)
    assert len(clf.estimators_) == 3
    for k, est in enumerate(clf.estimators_):
        ref = LogisticRegression().fit(X, (y > k).astype(int))
        np.testing.assert_allclose(est.coef_, ref.coef_)


# ---------------------------------------------------------------- decisions
def test_min_expected_cost_decision_is_brute_force_argmin():
    X, y = _ordinal()
    for cost in ("absolute", "squared", np.random.default_rng(0).uniform(0, 3, (4, 4))):
        clf = OrdinalClassifier(GaussianNB(), decision="min_expected_cost", cost_matrix=cost).fit(X, y)
        proba = clf.predict_proba(X)
        C = clf.cost_matrix_
        brute = np.array([min(range(4), key=lambda j: sum(p[i] * C[i, j] for i in range(4))) for p in proba])
        np.testing.assert_array_equal(clf.predict(X), brute)
    mode = OrdinalClassifier(GaussianNB()).fit(X, y)
    np.testing.assert_array_equal(mode.predict(X), np.argmax(mode.predict_proba(X), axis=1))


def test_string_levels_follow_sorted_order():
    X, y = _ordinal()
    names = np.array(["0_clear", "1_mild", "2_moderate", "3_severe"])
    clf = OrdinalClassifier(LogisticRegression()).fit(X, names[y])
    np.testing.assert_array_equal(clf.classes_, names)
    assert set(clf.predict(X)) <= set(names)


def test_ordinal_beats_chance_and_grid_search_with_ordinal_scorers():
    X, y = _ordinal()
    search = GridSearchCV(
        make_pipeline(StandardScaler(), OrdinalClassifier(LogisticRegression())),
        {"ordinalclassifier__decision": ["most_probable", "min_expected_cost"]},
        scoring=ordinal_scoring(),
        refit="neg_rps",
        cv=KFold(3, shuffle=True, random_state=0),
        n_jobs=2,
    ).fit(X, y)
    assert search.cv_results_["mean_test_qwk"].min() > 0.5
    assert search.best_score_ > -0.1


def test_clone_pickle_routing(rng):
    import sklearn

    X, y = _ordinal()
    clf = OrdinalClassifier(LogisticRegression(C=0.5), monotonic="cummin")
    assert clone(clf).get_params()["monotonic"] == "cummin"
    clf.fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(pickle.loads(pickle.dumps(clf)).predict_proba(X), clf.predict_proba(X))
    with sklearn.config_context(enable_metadata_routing=True):
        w = rng.uniform(0.1, 2, len(y))
        routed = OrdinalClassifier(LogisticRegression().set_fit_request(sample_weight=True)).fit(X, y, sample_weight=w)
        ref = LogisticRegression().fit(X, (y > 0).astype(int), sample_weight=w)
        np.testing.assert_allclose(routed.estimators_[0].coef_, ref.coef_)


# ---------------------------------------------------------------- composite distributions
def _brute_force_total(probas, supports):
    n = probas[0].shape[0]
    max_total = sum(int(max(s)) for s in supports)
    out = np.zeros((n, max_total + 1))
    columns = [range(p.shape[1]) for p in probas]
    for combo in itertools.product(*columns):
        total = sum(int(supports[s][j]) for s, j in enumerate(combo))
        mass = np.prod([probas[s][:, j] for s, j in enumerate(combo)], axis=0)
        out[:, total] += mass
    return out


@pytest.mark.parametrize("levels", [(4, 4, 4), (2, 3, 4, 2), (5,)])
def test_composite_equals_brute_force_enumeration(rng, levels):
    probas = [rng.dirichlet(np.ones(k), 6) for k in levels]
    supports = [np.arange(k) for k in levels]
    np.testing.assert_allclose(composite_distribution(probas), _brute_force_total(probas, supports), atol=1e-12)


def test_composite_with_gapped_supports(rng):
    probas = [rng.dirichlet(np.ones(3), 4), rng.dirichlet(np.ones(2), 4)]
    supports = [np.array([0, 2, 3]), np.array([1, 3])]
    dist = composite_distribution(probas, supports)
    np.testing.assert_allclose(dist, _brute_force_total(probas, supports), atol=1e-12)
    assert dist.shape == (4, 7) and np.allclose(dist[:, 0], 0)
    with pytest.raises(ValueError, match="non-negative integers"):
        composite_distribution(probas, [np.array([0, -1, 2]), np.array([0, 1])])


def test_composite_summary(rng):
    dist = composite_distribution([rng.dirichlet(np.ones(4), 50) for _ in range(4)])
    s = composite_summary(dist, interval=0.8)
    np.testing.assert_allclose(s.mean, dist @ np.arange(13))
    coverage = np.array([dist[i, s.lower[i] : s.upper[i] + 1].sum() for i in range(50)])
    assert np.all(coverage >= 0.8 - 1e-12)
    below = np.array([dist[i, : s.lower[i]].sum() for i in range(50)])
    above = np.array([dist[i, s.upper[i] + 1 :].sum() for i in range(50)])
    assert np.all(below <= 0.1 + 1e-12) and np.all(above <= 0.1 + 1e-12)
    assert np.all((s.lower <= s.median) & (s.median <= s.upper))
    with pytest.raises(ValueError):
        composite_summary(dist, interval=1.0)


def test_multi_sign_classifier(rng):
    X = rng.normal(size=(240, 4))
    signs = np.column_stack([np.digitize(X[:, j] + 0.4 * rng.normal(size=240), [-0.7, 0, 0.7]) for j in range(3)])
    frame = pd.DataFrame(signs, columns=["erythema", "oedema", "lichenification"])
    clf = MultiSignOrdinalClassifier(LogisticRegression()).fit(X, frame)
    assert list(clf.sign_names_) == ["erythema", "oedema", "lichenification"]
    pred = clf.predict(X)
    assert pred.shape == (240, 3) and clf.score(X, signs) > 0.5
    probas = clf.predict_proba(X)
    for s, est in enumerate(clf.estimators_):
        np.testing.assert_allclose(probas[s], est.predict_proba(X))
    total = clf.predict_composite(X, interval=0.9)
    np.testing.assert_allclose(total.distribution, _brute_force_total(probas, clf.classes_), atol=1e-12)
    assert total.distribution.shape == (240, 10)
    truth = signs.sum(axis=1)
    inside = (total.lower <= truth) & (truth <= total.upper)
    assert inside.mean() > 0.75
    assert np.corrcoef(total.mean, truth)[0, 1] > 0.8
    named = MultiSignOrdinalClassifier(LogisticRegression(), sign_names=["a", "b", "c"]).fit(X, signs)
    assert list(named.sign_names_) == ["a", "b", "c"]
    again = pickle.loads(pickle.dumps(named))
    np.testing.assert_array_equal(again.predict(X), named.predict(X))
    with pytest.raises(ValueError, match="sign_names"):
        MultiSignOrdinalClassifier(LogisticRegression(), sign_names=["a"]).fit(X, signs)
    with pytest.raises(ValueError, match="n_signs"):
        MultiSignOrdinalClassifier(LogisticRegression()).fit(X, signs[:, :, None])


def test_multi_sign_with_one_sign_is_the_ordinal_head(rng):
    """A 1-d y is a single sign: outputs take its shape (as scikit-learn's classifiers), values are the head's."""
    X = rng.normal(size=(200, 3))
    y = np.digitize(X[:, 0] + 0.3 * rng.normal(size=200), [-0.5, 0.5])
    single = MultiSignOrdinalClassifier(LogisticRegression()).fit(X, y)
    head = OrdinalClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_array_equal(single.classes_, head.classes_)
    np.testing.assert_array_equal(single.predict(X), head.predict(X))
    np.testing.assert_array_equal(single.predict_proba(X), head.predict_proba(X))
    assert single.n_features_in_ == 3 and single.score(X, y) == pytest.approx(head.score(X, y))
    total = single.predict_composite(X[:5])
    np.testing.assert_allclose(total.distribution, head.predict_proba(X[:5]))
    with pytest.raises(ValueError, match="target y is None"):
        MultiSignOrdinalClassifier(LogisticRegression()).fit(X, None)


def test_multi_sign_in_pipeline_grid_search(rng):
    X = rng.normal(size=(150, 3))
    signs = np.column_stack([np.digitize(X[:, j], [-0.5, 0.5]) for j in range(2)])
    pipe = make_pipeline(StandardScaler(), MultiSignOrdinalClassifier(LogisticRegression()))
    search = GridSearchCV(pipe, {"multisignordinalclassifier__estimator__C": [0.1, 1.0]}, cv=3).fit(X, signs)
    assert search.predict(X).shape == (150, 2)
