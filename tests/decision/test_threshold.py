"""ThresholdTunedClassifier and the cost-matrix decisions."""

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, make_scorer, recall_score
from sklearn.model_selection import (
    GridSearchCV,
    StratifiedKFold,
    StratifiedShuffleSplit,
    TunedThresholdClassifierCV,
    cross_val_predict,
    train_test_split,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

from dermfeat.metrics import BINARY_METRICS, threshold_metrics
from dermfeat.decision import (
    Constraint,
    CostSensitiveClassifier,
    ThresholdTunedClassifier,
    bayes_threshold,
    min_expected_cost,
    ordinal_cost_matrix,
)
from dermfeat.utils import InvalidParameterError


@pytest.fixture(scope="module")
def binary_data():
    return make_classification(1500, n_features=8, weights=[0.8], flip_y=0.05, random_state=0)


@pytest.fixture(scope="module")
def multiclass_data():
    return make_classification(600, n_classes=3, n_informative=5, weights=[0.6, 0.3], random_state=0)


# ------------------------------------------------------------------ binary: scikit-learn parity
@pytest.mark.parametrize("objective", ["balanced_accuracy", "f1"])
def test_threshold_matches_sklearn_within_grid_resolution(binary_data, objective):
    X, y = binary_data
    cv = StratifiedKFold(5)
    ref = TunedThresholdClassifierCV(LogisticRegression(), scoring=objective, thresholds=100, cv=cv).fit(X, y)
    ours = ThresholdTunedClassifier(LogisticRegression(), objective=objective, thresholds=100, cv=cv).fit(X, y)
    step = np.diff(ours.cv_results_["threshold"])[0]
    assert abs(ours.best_threshold_ - ref.best_threshold_) <= 2 * step
    # and the objective at the two thresholds agrees on the pooled out-of-fold curve
    grid = ours.cv_results_["threshold"]
    at_ref = ours.cv_results_["mean_objective"][np.argmin(np.abs(grid - ref.best_threshold_))]
    assert ours.best_score_ == pytest.approx(at_ref, abs=0.01)


def test_threshold_matches_sklearn_decision_function(binary_data):
    X, y = binary_data
    est = make_pipeline(StandardScaler(), LinearSVC())
    cv = StratifiedKFold(4)
    ref = TunedThresholdClassifierCV(est, thresholds=100, cv=cv, response_method="decision_function").fit(X, y)
    ours = ThresholdTunedClassifier(est, thresholds=100, cv=cv).fit(X, y)
    assert ours.response_method_ == "decision_function"
    step = np.diff(ours.cv_results_["threshold"])[0]
    assert abs(ours.best_threshold_ - ref.best_threshold_) <= 2 * step


# ------------------------------------------------------------------ thresholds & cv_results_
def test_auto_thresholds_are_unique_out_of_fold_scores(binary_data):
    X, y = binary_data
    cv = StratifiedKFold(5)
    clf = ThresholdTunedClassifier(LogisticRegression(), cv=cv).fit(X, y)
    oof = cross_val_predict(LogisticRegression(), X, y, cv=cv, method="predict_proba")[:, 1]
    np.testing.assert_allclose(clf.cv_results_["threshold"], np.unique(oof))


def test_int_and_array_thresholds(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=7).fit(X, y)
    grid = clf.cv_results_["threshold"]
    assert grid.shape == (7,)
    np.testing.assert_allclose(np.diff(grid), np.diff(grid)[0])
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=[0.7, 0.2, 0.5]).fit(X, y)
    np.testing.assert_array_equal(clf.cv_results_["threshold"], [0.2, 0.5, 0.7])
    assert clf.best_threshold_ in (0.2, 0.5, 0.7)


def test_cv_results_hold_every_metric_per_fold(binary_data):
    X, y = binary_data
    sw = np.random.default_rng(0).uniform(0.5, 2.0, len(y))
    cv = StratifiedKFold(3)
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=20, cv=cv).fit(X, y, sample_weight=sw)
    res = clf.cv_results_
    table = pd.DataFrame(res)
    assert len(table) == 20
    for m in BINARY_METRICS:
        assert {f"mean_{m}", f"std_{m}", "split0_" + m, "split2_" + m} <= set(res)
    # fold 0 recomputed by hand
    train, test = next(cv.split(X, y))
    est = LogisticRegression().fit(X[train], y[train], sample_weight=sw[train])
    expected = threshold_metrics(y[test], est.predict_proba(X[test])[:, 1], res["threshold"], sample_weight=sw[test])
    for m in ("sensitivity", "specificity", "precision", "macro_f1", "balanced_accuracy"):
        np.testing.assert_allclose(res[f"split0_{m}"], expected[m])
    np.testing.assert_allclose(
        res["mean_balanced_accuracy"], np.mean([res[f"split{k}_balanced_accuracy"] for k in range(3)], axis=0)
    )


def test_threshold_spread_across_folds(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=50, cv=4).fit(X, y)
    assert clf.fold_best_thresholds_.shape == (4,)
    assert clf.best_threshold_std_ == pytest.approx(np.std(clf.fold_best_thresholds_))
    res = clf.cv_results_
    for k in range(4):
        curve = res[f"split{k}_objective"]
        assert clf.fold_best_thresholds_[k] == res["threshold"][np.argmax(curve)]
    assert clf.best_threshold_ == res["threshold"][np.argmax(res["mean_objective"])]


def test_predict_applies_threshold(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=30).fit(X, y)
    proba = clf.predict_proba(X)[:, 1]
    np.testing.assert_array_equal(clf.predict(X), (proba >= clf.best_threshold_).astype(int))
    np.testing.assert_allclose(clf.predict_proba(X), clf.estimator_.predict_proba(X))


# ------------------------------------------------------------------ labels
def test_string_labels_and_pos_label(binary_data):
    X, y = binary_data
    names = np.array(["atopic_dermatitis", "eczema"])
    labels = names[1 - y]  # the minority class (y == 1) is "atopic_dermatitis" = classes_[0]
    clf = ThresholdTunedClassifier(
        LogisticRegression(), objective="specificity", constraint=("sensitivity", 0.85),
        pos_label="atopic_dermatitis", thresholds=50,
    ).fit(X, labels)
    assert clf.pos_label_ == "atopic_dermatitis"
    pred = clf.predict(X)
    assert set(pred) <= set(names)
    score = clf.predict_proba(X)[:, 0]
    np.testing.assert_array_equal(pred == "atopic_dermatitis", score >= clf.best_threshold_)
    assert recall_score(labels, pred, pos_label="atopic_dermatitis") >= 0.8
    with pytest.raises(ValueError, match="pos_label"):
        ThresholdTunedClassifier(LogisticRegression(), pos_label="psoriasis").fit(X, labels)


# ------------------------------------------------------------------ objectives & constraints
def test_constraint_met_in_cross_validation(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(
        LogisticRegression(), objective="specificity", constraint=Constraint("sensitivity", minimum=0.9), thresholds=200
    ).fit(X, y)
    res = clf.cv_results_
    best = res["threshold"] == clf.best_threshold_
    assert res["mean_sensitivity"][best][0] >= 0.9
    assert clf.constraint_satisfied_
    feasible = res["feasible"]
    assert clf.best_score_ == pytest.approx(res["mean_specificity"][feasible].max())


def test_constraint_met_on_held_out_data_more_often_than_not():
    met = []
    for seed in range(12):
        X, y = make_classification(700, n_features=6, weights=[0.75], flip_y=0.05, random_state=seed)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, stratify=y, random_state=seed)
        clf = ThresholdTunedClassifier(
            LogisticRegression(), objective="specificity", constraint=("sensitivity", 0.85)
        ).fit(X_tr, y_tr)
        met.append(recall_score(y_te, clf.predict(X_te)) >= 0.85)
    assert np.mean(met) > 0.5


def test_all_folds_constraint_is_more_conservative(binary_data):
    X, y = binary_data
    kw = dict(objective="specificity", thresholds=100)
    mean = ThresholdTunedClassifier(LogisticRegression(), constraint=("sensitivity", 0.9), **kw).fit(X, y)
    every = ThresholdTunedClassifier(
        LogisticRegression(), constraint=Constraint("sensitivity", 0.9, aggregate="all"), **kw
    ).fit(X, y)
    assert every.best_threshold_ <= mean.best_threshold_
    best = every.cv_results_["threshold"] == every.best_threshold_
    assert all(every.cv_results_[f"split{k}_sensitivity"][best][0] >= 0.9 for k in range(5))


def test_maximum_constraint(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(
        LogisticRegression(), objective="sensitivity", constraint=Constraint("positive_rate", maximum=0.1), thresholds=100
    ).fit(X, y)
    best = clf.cv_results_["threshold"] == clf.best_threshold_
    assert clf.cv_results_["mean_positive_rate"][best][0] <= 0.1


def test_infeasible_constraint_warns_and_gets_closest(binary_data):
    X, y = binary_data
    with pytest.warns(UserWarning, match="no decision meets"):
        clf = ThresholdTunedClassifier(
            LogisticRegression(), objective="sensitivity",
            constraint=[("specificity", 1.01)], thresholds=30,
        ).fit(X, y)
    assert not clf.constraint_satisfied_
    assert clf.best_threshold_ == clf.cv_results_["threshold"][np.argmax(clf.cv_results_["mean_specificity"])]


def test_scorer_objective_equals_builtin_metric(binary_data):
    X, y = binary_data
    builtin = ThresholdTunedClassifier(LogisticRegression(), thresholds=25).fit(X, y)
    scorer = ThresholdTunedClassifier(
        LogisticRegression(), objective=make_scorer(balanced_accuracy_score), thresholds=25
    ).fit(X, y)
    assert scorer.best_threshold_ == builtin.best_threshold_
    np.testing.assert_allclose(scorer.cv_results_["mean_objective"], builtin.cv_results_["mean_balanced_accuracy"])
    named = ThresholdTunedClassifier(LogisticRegression(), objective="f1_micro", thresholds=25).fit(X, y)
    np.testing.assert_allclose(named.cv_results_["mean_objective"], named.cv_results_["mean_accuracy"])


def test_probability_scorer_is_refused(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="based on predict"):
        ThresholdTunedClassifier(LogisticRegression(), objective="neg_log_loss", thresholds=5).fit(X, y)


def test_unknown_metric_and_bad_parameters(binary_data):
    X, y = binary_data
    with pytest.raises(ValueError, match="unknown binary metric"):
        ThresholdTunedClassifier(LogisticRegression(), constraint=("sensitivty", 0.9)).fit(X, y)
    with pytest.raises(InvalidParameterError, match="thresholds"):
        ThresholdTunedClassifier(LogisticRegression(), thresholds=1).fit(X, y)
    with pytest.raises(InvalidParameterError, match="cv"):
        ThresholdTunedClassifier(LogisticRegression(), cv=1.5).fit(X, y)
    with pytest.raises(InvalidParameterError, match="thresholds"):
        ThresholdTunedClassifier(LogisticRegression(), thresholds="grid").fit(X, y)
    with pytest.raises(ValueError, match="two classes"):
        ThresholdTunedClassifier(LogisticRegression()).fit(X, np.zeros(len(y)))


# ------------------------------------------------------------------ tune=False, refit=False
def test_tune_false_is_the_default_decision(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), tune=False).fit(X, y)
    assert clf.best_threshold_ == 0.5 and not hasattr(clf, "cv_results_")
    np.testing.assert_array_equal(clf.predict(X), clf.estimator_.predict(X))
    svc = ThresholdTunedClassifier(LinearSVC(), tune=False).fit(X, y)
    assert svc.best_threshold_ == 0.0
    np.testing.assert_array_equal(svc.predict(X), svc.estimator_.predict(X))
    costly = ThresholdTunedClassifier(LogisticRegression(), tune=False, cost_matrix=[[0, 1], [4, 0]]).fit(X, y)
    assert costly.best_threshold_ == pytest.approx(0.2)


def test_refit_false_uses_one_split_for_estimator_and_threshold(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), cv=0.3, refit=False, random_state=3, thresholds=50).fit(X, y)
    train, test = next(StratifiedShuffleSplit(1, test_size=0.3, random_state=3).split(X, y))
    same = LogisticRegression().fit(X[train], y[train])
    np.testing.assert_allclose(clf.estimator_.coef_, same.coef_)
    assert clf.best_threshold_ == clf.fold_best_thresholds_[0]
    expected = threshold_metrics(y[test], same.predict_proba(X[test])[:, 1], clf.cv_results_["threshold"])
    assert clf.best_threshold_ == clf.cv_results_["threshold"][np.argmax(expected["balanced_accuracy"])]
    with pytest.raises(ValueError, match="exactly one split"):
        ThresholdTunedClassifier(LogisticRegression(), cv=3, refit=False).fit(X, y)


# ------------------------------------------------------------------ multiclass & cost
def _brute_force_min_cost(proba, cost):
    out = []
    for p in proba:
        costs = [sum(p[i] * cost[i][j] for i in range(len(p))) for j in range(len(p))]
        out.append(int(np.argmin(costs)))
    return np.array(out)


@pytest.mark.parametrize("kind", ["absolute", "squared", "random"])
def test_cost_matrix_decision_equals_brute_force(multiclass_data, kind):
    X, y = multiclass_data
    cost = np.random.default_rng(1).uniform(0, 5, (3, 3)) if kind == "random" else kind
    clf = CostSensitiveClassifier(LogisticRegression(), cost_matrix=cost).fit(X, y)
    proba = clf.predict_proba(X)
    C = ordinal_cost_matrix(3, kind) if isinstance(cost, str) else cost
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[_brute_force_min_cost(proba, C)])
    tuner = ThresholdTunedClassifier(LogisticRegression(), cost_matrix=cost, tune=False).fit(X, y)
    np.testing.assert_array_equal(tuner.predict(X), clf.predict(X))


def test_binary_cost_decision_is_bayes_threshold(binary_data):
    X, y = binary_data
    cost = [[0, 1], [3, 0]]
    clf = CostSensitiveClassifier(LogisticRegression(), cost_matrix=cost).fit(X, y)
    p = clf.predict_proba(X)[:, 1]
    t = bayes_threshold(cost)
    assert t == pytest.approx(0.25)
    away = np.abs(p - t) > 1e-9
    np.testing.assert_array_equal(clf.predict(X)[away], (p >= t).astype(int)[away])


def test_ordinal_cost_matrix_and_min_expected_cost():
    np.testing.assert_array_equal(ordinal_cost_matrix(4), np.abs(np.subtract.outer(range(4), range(4))))
    np.testing.assert_array_equal(ordinal_cost_matrix(3, "squared")[0], [0, 1, 4])
    proba = np.random.default_rng(0).dirichlet(np.ones(4), 200)
    median = np.argmax(np.cumsum(proba, axis=1) >= 0.5, axis=1)
    np.testing.assert_array_equal(min_expected_cost(proba, "absolute"), median)
    nearest_mean = np.argmin(np.abs(np.arange(4)[None, :] - (proba @ np.arange(4))[:, None]), axis=1)
    np.testing.assert_array_equal(min_expected_cost(proba, "squared"), nearest_mean)
    with pytest.raises(ValueError):
        ordinal_cost_matrix(1)
    with pytest.raises(ValueError, match="shape"):
        CostSensitiveClassifier(LogisticRegression(), cost_matrix=np.ones((2, 2))).fit(np.eye(3), [0, 1, 2])


def test_multiclass_offsets_improve_objective(multiclass_data):
    X, y = multiclass_data
    clf = ThresholdTunedClassifier(LogisticRegression(), objective="balanced_accuracy", cv=4).fit(X, y)
    assert clf.best_offsets_.shape == (3,) and clf.best_offsets_[0] == 0
    assert clf.fold_best_offsets_.shape == (4, 3)
    np.testing.assert_allclose(clf.best_offsets_std_, clf.fold_best_offsets_.std(axis=0))
    res = pd.DataFrame(clf.cv_results_)
    assert {"class", "offset", "mean_objective", "split3_macro_f1", "mean_recall_2"} <= set(res.columns)
    zero = res[(res["offset"] == 0)]["mean_objective"].min()
    assert clf.best_score_ >= zero - 1e-12
    proba = clf.predict_proba(X)
    brute = np.argmax(-(proba @ (1 - np.eye(3))) + clf.best_offsets_, axis=1)
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[brute])


def test_multiclass_constraint_on_class_recall(multiclass_data):
    X, y = multiclass_data
    clf = ThresholdTunedClassifier(
        LogisticRegression(), objective="accuracy", constraint=("recall_2", 0.8), cv=4
    ).fit(X, y)
    assert clf.constraint_satisfied_
    row = pd.DataFrame(clf.cv_results_).sort_values("mean_objective")
    assert (row["mean_recall_2"] >= 0.8).any()


def test_multiclass_ordinal_cost_tuning():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 3))
    y = np.digitize(X[:, 0] + 0.6 * rng.normal(size=400), [-1, 0, 1])
    clf = ThresholdTunedClassifier(
        LogisticRegression(), objective="neg_mean_cost", cost_matrix="absolute", thresholds=11, cv=3
    ).fit(X, y)
    assert clf.cost_matrix_.shape == (4, 4)
    assert -1.0 < clf.best_score_ <= 0


# ------------------------------------------------------------------ composition
def test_clone_and_pickle(binary_data):
    X, y = binary_data
    clf = ThresholdTunedClassifier(LogisticRegression(), constraint=("sensitivity", 0.8), thresholds=20)
    assert clone(clf).get_params()["constraint"] == ("sensitivity", 0.8)
    clf.fit(X, y)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict(X), clf.predict(X))
    c = Constraint("sensitivity", 0.9)
    assert pickle.loads(pickle.dumps(c)) == c and clone(ThresholdTunedClassifier(LogisticRegression(), constraint=c))


def test_nested_in_grid_search_and_pipeline(binary_data):
    X, y = binary_data
    pipe = make_pipeline(StandardScaler(), ThresholdTunedClassifier(LogisticRegression(), thresholds=20, cv=3))
    search = GridSearchCV(
        pipe,
        {"thresholdtunedclassifier__tune": [True, False], "thresholdtunedclassifier__estimator__C": [0.1, 1.0]},
        scoring="balanced_accuracy",
        cv=3,
        n_jobs=2,
    ).fit(X, y)
    assert search.best_params_["thresholdtunedclassifier__tune"] is True
    assert search.predict(X).shape == y.shape


def test_dataframe_input(binary_data):
    X, y = binary_data
    df = pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])])
    clf = ThresholdTunedClassifier(LogisticRegression(), thresholds=10).fit(df, pd.Series(y))
    np.testing.assert_array_equal(clf.feature_names_in_, df.columns)
    assert clf.predict(df).shape == y.shape


def test_no_warnings_in_plain_use(binary_data):
    X, y = binary_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ThresholdTunedClassifier(LogisticRegression(), thresholds=10, n_jobs=2).fit(X, y).predict(X)


# ------------------------------------------------------------------ inner protocol and stability
def test_inner_folds_are_shuffled_seeded_and_stratified_on_sorted_data():
    from sklearn.model_selection import StratifiedGroupKFold

    X, y = make_classification(400, n_features=6, weights=[0.8], random_state=1)
    order = np.argsort(y, kind="stable")  # data arriving sorted by class, as folders do
    X, y = X[order], y[order]
    groups = np.arange(len(y)) // 2
    a = ThresholdTunedClassifier(LogisticRegression(), thresholds=30).fit(X, y)
    b = ThresholdTunedClassifier(LogisticRegression(), thresholds=30).fit(X, y)
    np.testing.assert_array_equal(a.fold_best_thresholds_, b.fold_best_thresholds_)  # seeded: reproducible
    c = ThresholdTunedClassifier(LogisticRegression(), thresholds=30, random_state=1).fit(X, y)
    assert not np.array_equal(a.cv_results_["split0_sensitivity"], c.cv_results_["split0_sensitivity"])
    for grouped, splitter in ((False, a._splitter(False)), (True, a._splitter(True))):
        assert splitter.shuffle and splitter.random_state == 0
        if grouped:
            assert isinstance(splitter, StratifiedGroupKFold)
        for _, test in splitter.split(X, y, groups if grouped else None):
            assert abs(y[test].mean() - y.mean()) < 0.05  # stratified
            assert np.ptp(test) > len(y) / 2  # spread over the sorted data, not a block


def test_float_cv_with_groups_holds_out_whole_groups_stratified():
    X, y = make_classification(400, n_features=6, weights=[0.8], random_state=2)
    groups = np.arange(len(y)) // 4
    splitter = ThresholdTunedClassifier(LogisticRegression(), cv=0.25)._splitter(grouped=True)
    (train, test), = list(splitter.split(X, y, groups))
    assert not set(groups[train]) & set(groups[test])
    assert 0.15 < len(test) / len(y) < 0.35 and abs(y[test].mean() - y.mean()) < 0.05


def test_unstable_threshold_warns_and_spread_is_exposed():
    from dermfeat import UnstableThresholdWarning
    from dermfeat.decision import UNSTABLE_THRESHOLD_STD

    X, y = make_classification(80, n_features=20, n_informative=2, weights=[0.7], flip_y=0.3, random_state=0)
    with pytest.warns(UnstableThresholdWarning, match="unstable") as record:
        clf = ThresholdTunedClassifier(LogisticRegression(), objective="f1", thresholds=50).fit(X, y)
    assert clf.best_threshold_std_ > UNSTABLE_THRESHOLD_STD
    assert f"{clf.best_threshold_std_:.3f}" in str(record[0].message)
    best = np.flatnonzero(clf.cv_results_["threshold"] == clf.best_threshold_)[0]
    assert clf.best_score_std_ == pytest.approx(clf.cv_results_["std_objective"][best])
    assert clf.best_score_std_ == pytest.approx(
        np.std([clf.cv_results_[f"split{k}_objective"][best] for k in range(clf.n_splits_)]))


def test_multiclass_score_spread(multiclass_data):
    X, y = multiclass_data
    clf = ThresholdTunedClassifier(LogisticRegression(max_iter=1000), objective="macro_f1", cv=3).fit(X, y)
    assert 0 <= clf.best_score_std_ < 0.2
