"""HierarchicalClassifier: a head fitted on subtypes, decisions on the classes they sum into."""

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.decision import HierarchicalClassifier, ThresholdTunedClassifier
from dermfeat.persistence import load_model, save_model


@pytest.fixture
def data():
    """Four subtypes, the first one "atopic", the others "other"; subtypes well apart."""
    rng = np.random.RandomState(0)
    fine = np.repeat(np.array(["ad", "discoid", "hand", "venous"], dtype=object), 30)
    X = rng.normal(size=(120, 4)) + np.repeat(np.eye(4) * 2.5, 30, axis=0)
    y = np.where(fine == "ad", "atopic", "other").astype(object)
    return X, y, fine


def test_sums_fine_probabilities_into_coarse_classes(data):
    X, y, fine = data
    clf = HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine)
    assert clf.classes_.tolist() == ["atopic", "other"]
    assert clf.fine_classes_.tolist() == ["ad", "discoid", "hand", "venous"]
    assert clf.fine_to_coarse_ == {"ad": "atopic", "discoid": "other", "hand": "other", "venous": "other"}
    fine_p = clf.predict_fine_proba(X)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 0], fine_p[:, 0])
    np.testing.assert_allclose(clf.predict_proba(X)[:, 1], fine_p[:, 1:].sum(axis=1))
    assert set(clf.predict(X)) <= {"atopic", "other"} and set(clf.predict_fine(X)) <= set(fine)
    assert (clf.predict_fine(X) == fine).mean() > 0.8  # it learned the subtypes, not only the classes
    assert clf.n_features_in_ == 4


def test_without_fine_labels_it_is_the_head_on_y(data):
    X, y, _ = data
    clf = HierarchicalClassifier(LogisticRegression()).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X), LogisticRegression().fit(X, y).predict_proba(X))


def test_a_fine_label_in_two_classes_is_refused(data):
    X, y, fine = data
    fine = fine.copy()
    fine[0] = "discoid"  # a "discoid" photo labelled atopic
    with pytest.raises(ValueError, match="fine label 'discoid' belongs to two coarse classes"):
        HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine)
    with pytest.raises(ValueError, match="fine_labels has 3 entries for 120 samples"):
        HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine[:3])


def test_threshold_tuned_on_the_summed_probability(data):
    X, y, fine = data
    tuned = ThresholdTunedClassifier(HierarchicalClassifier(LogisticRegression()), objective="macro_f1",
                                     pos_label="atopic", cv=3, random_state=0)
    tuned.fit(X, y, fine_labels=fine)  # the fine labels are sliced with the rows of every inner fold
    assert tuned.estimator_.fine_classes_.tolist() == ["ad", "discoid", "hand", "venous"]
    assert 0 < tuned.best_threshold_ < 1 and len(tuned.fold_best_thresholds_) == 3


def test_grid_search_cross_validation_routing_and_pipelines(data):
    X, y, fine = data
    pipe = make_pipeline(StandardScaler(), HierarchicalClassifier(LogisticRegression()))
    pipe.fit(X, y, hierarchicalclassifier__fine_labels=fine)
    assert pipe[-1].fine_classes_.size == 4
    grid = GridSearchCV(HierarchicalClassifier(LogisticRegression()), {"estimator__C": [0.1, 1.0]}, cv=3, n_jobs=2)
    grid.fit(X, y, fine_labels=fine)
    assert grid.best_estimator_.fine_classes_.size == 4
    with sklearn.config_context(enable_metadata_routing=True):
        clf = HierarchicalClassifier(LogisticRegression()).set_fit_request(fine_labels=True)
        folds = StratifiedKFold(3, shuffle=True, random_state=0)
        cv = cross_validate(clf, X, y, params={"fine_labels": fine}, cv=folds, return_estimator=True)
        assert [est.fine_classes_.size for est in cv["estimator"]] == [4, 4, 4]


def test_clone_and_model_files(data, tmp_path):
    X, y, fine = data
    clf = HierarchicalClassifier(LogisticRegression(C=0.5)).fit(X, y, fine_labels=fine)
    assert clone(clf).get_params()["estimator__C"] == 0.5
    save_model(clf, tmp_path / "h.skops")
    loaded, _ = load_model(tmp_path / "h.skops")
    np.testing.assert_array_equal(loaded.predict_proba(X), clf.predict_proba(X))
    assert loaded.fine_to_coarse_ == clf.fine_to_coarse_


def _with_rare(fine):
    """The data's fine labels with rare subtypes: 4 'napkin' (atopic), 5 'nipple' and 3 'stasis' (other)."""
    fine = fine.copy()
    fine[:4] = "napkin"
    fine[30:35] = "nipple"
    fine[60:63] = "stasis"
    return fine


def test_min_fine_count_merges_rare_subtypes_per_coarse_class(data):
    X, y, fine = data
    fine = _with_rare(fine)
    clf = HierarchicalClassifier(LogisticRegression(), min_fine_count=6).fit(X, y, fine_labels=fine)
    assert clf.fine_classes_.tolist() == ["ad", "discoid", "hand", "other atopic", "other other", "venous"]
    assert clf.fine_mapping_["napkin"] == "other atopic" and clf.fine_mapping_["ad"] == "ad"
    assert clf.fine_mapping_["nipple"] == clf.fine_mapping_["stasis"] == "other other"
    assert clf.fine_to_coarse_["other atopic"] == "atopic" and clf.fine_to_coarse_["other other"] == "other"
    proba = clf.predict_fine_proba(X)
    np.testing.assert_allclose(clf.predict_proba(X)[:, 0], proba[:, [0, 3]].sum(axis=1))
    # the threshold decides who is rare: 5 'nipple' stay at min_fine_count=5, the other two merge
    five = HierarchicalClassifier(LogisticRegression(), min_fine_count=5).fit(X, y, fine_labels=fine)
    assert "nipple" in five.fine_classes_.tolist() and "stasis" not in five.fine_classes_.tolist()
    # None keeps everything
    every = HierarchicalClassifier(LogisticRegression()).fit(X, y, fine_labels=fine)
    assert len(every.fine_classes_) == 7


def test_min_fine_count_joins_an_existing_other_class_and_checks_its_input(data):
    X, y, fine = data
    fine = _with_rare(fine).astype(object)
    fine[90:120] = "other other"  # the user's own catch-all of the "other" class
    clf = HierarchicalClassifier(LogisticRegression(), min_fine_count=6).fit(X, y, fine_labels=fine)
    assert clf.fine_mapping_["nipple"] == "other other" and "venous" not in clf.fine_classes_.tolist()
    fine[:30] = "other other"  # ... now also the name of atopic photographs: refused
    with pytest.raises(ValueError, match="belongs to two coarse classes"):
        HierarchicalClassifier(LogisticRegression(), min_fine_count=6).fit(X, y, fine_labels=fine)
    ints = np.repeat([0, 1, 2, 3], 30)
    ints[:3] = 9
    with pytest.raises(ValueError, match="fine labels must be strings"):
        HierarchicalClassifier(LogisticRegression(), min_fine_count=6).fit(X, y, fine_labels=ints)
    with pytest.raises(ValueError, match="min_fine_count"):
        HierarchicalClassifier(LogisticRegression(), min_fine_count=0).fit(X, y, fine_labels=fine)
    # without fine labels nothing is merged, whatever the counts of y
    alone = HierarchicalClassifier(LogisticRegression(), min_fine_count=1000).fit(X, y)
    assert alone.fine_classes_.tolist() == ["atopic", "other"]


def test_min_fine_count_is_learned_inside_each_training_fold(data):
    X, y, fine = data
    fine = _with_rare(fine)
    tuned = ThresholdTunedClassifier(HierarchicalClassifier(LogisticRegression(), min_fine_count=4),
                                     objective="macro_f1", pos_label="atopic", cv=3, random_state=0)
    tuned.fit(X, y, fine_labels=fine)
    # on all 120 rows the 4 'napkin' photographs are kept; an inner fold (2/3 of them) merges them
    assert "napkin" in tuned.estimator_.fine_classes_.tolist()
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    merged = [HierarchicalClassifier(LogisticRegression(), min_fine_count=4).fit(
        X[tr], y[tr], fine_labels=fine[tr]).fine_mapping_["napkin"] for tr, _ in folds.split(X, y)]
    assert "other atopic" in merged


def test_balance_coarse_weighs_classes_equally_and_subtypes_equally_within(data):
    X, y, fine = data
    head = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced"))
    clf = HierarchicalClassifier(head, balance="coarse").fit(X, y, fine_labels=fine)
    w = clf.estimator_[-1].class_weight
    counts = {f: (fine == f).sum() for f in set(fine)}
    per_class = {c: sum(w[f] * counts[f] for f in counts if clf.fine_to_coarse_[f] == c) for c in ("atopic", "other")}
    assert per_class["atopic"] == pytest.approx(per_class["other"]) == pytest.approx(60)
    assert w["discoid"] == pytest.approx(w["hand"]) == pytest.approx(w["venous"])
    assert clone(clf).estimator[-1].class_weight == "balanced"  # the parameter itself is untouched
    # "fine": scikit-learn's balanced weights over the subtypes, as given
    assert HierarchicalClassifier(head).fit(X, y, fine_labels=fine).estimator_[-1].class_weight == "balanced"
    # a head without balanced weights is left alone
    assert HierarchicalClassifier(LogisticRegression(), balance="coarse").fit(
        X, y, fine_labels=fine).estimator_.class_weight is None
    with pytest.raises(ValueError, match="balance"):
        HierarchicalClassifier(LogisticRegression(), balance="classes").fit(X, y, fine_labels=fine)
