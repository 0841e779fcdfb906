"""make_classifier(subtypes=...): a head on subtypes under the usual tuned threshold, single head or late fusion."""

import pickle

import numpy as np
import pytest
import sklearn
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from dermfeat.datasets import make_lesion_images
from dermfeat.decision import HierarchicalClassifier, hierarchical_step, predict_subtype_proba, top_subtypes
from dermfeat.evaluation import evaluate
from dermfeat.persistence import load_model, save_model
from dermfeat.pipeline import make_classifier
from dermfeat.uncertainty import predict_with_uncertainty


@pytest.fixture(scope="module")
def data():
    """Synthetic photographs; made-up subtypes from the severity: 2 of the AD class, 3 of the other, one rare."""
    data = make_lesion_images(72, image_size=48, random_state=0)
    names = {0: "mild", 1: "mild", 2: "severe", 3: "severe"}
    fine = np.array([f"{label}/{names[level]}" for label, level in zip(data.labels, data.severity)], dtype=object)
    other = data.labels != "atopic_dermatitis"
    fine[np.flatnonzero(other)[:4]] = "napkin"  # a rare subtype of the other class
    data.fine = fine
    return data


def _pipe(**kw):
    params = dict(threshold="macro_f1", inner_cv=3, subtypes=5)
    params.update(kw)
    return make_classifier("color", "logistic", **params)


def test_subtypes_option_values():
    assert make_classifier("color").steps[-1][1].estimator.__class__.__name__ == "ResampledClassifier"
    assert make_classifier("color", subtypes=True)[-1].estimator.min_fine_count == 20
    assert make_classifier("color", subtypes=7)[-1].estimator.min_fine_count == 7
    for bad in (0, -3, "yes", 2.5):
        with pytest.raises(ValueError, match="subtypes must be True, False or a minimum count"):
            make_classifier("color", subtypes=bad)


@pytest.mark.parametrize("routing", [False, True])
def test_fit_predict_with_subtypes(data, routing):
    with sklearn.config_context(enable_metadata_routing=routing):
        pipe = _pipe().fit(data.images, data.labels, fine_labels=data.fine)
    step = hierarchical_step(pipe)
    assert isinstance(step, HierarchicalClassifier)
    assert "napkin" not in step.fine_classes_.tolist() and "other eczema" in step.fine_classes_.tolist()
    assert step.fine_mapping_["napkin"] == "other eczema"
    classes, proba = predict_subtype_proba(pipe, data.images[:5])
    assert proba.shape == (5, len(classes)) and np.allclose(proba.sum(axis=1), 1)
    # the tuned decision is on the summed probability of the AD subtypes
    ad = [i for i, c in enumerate(classes) if step.fine_to_coarse_[c] == "atopic_dermatitis"]
    pos = list(pipe.classes_).index("atopic_dermatitis")
    np.testing.assert_allclose(pipe.predict_proba(data.images[:5])[:, pos], proba[:, ad].sum(axis=1))
    assert 0 < pipe[-1].best_threshold_ < 1
    result = predict_with_uncertainty(pipe, data.images[:5])
    np.testing.assert_allclose(result.subtype_proba, proba)
    top = top_subtypes(result.subtype_classes, result.subtype_proba, k=3)
    assert len(top) == 5 and all(len(t) == 3 and t[0][1] >= t[1][1] >= t[2][1] for t in top)


def test_without_subtypes_no_subtype_output(data):
    pipe = make_classifier("color", "logistic").fit(data.images, data.labels)
    assert hierarchical_step(pipe) is None
    assert predict_with_uncertainty(pipe, data.images[:2]).subtype_proba is None
    with pytest.raises(ValueError, match="has no subtypes"):
        predict_subtype_proba(pipe, data.images[:2])


def test_late_fusion_averages_the_branches_subtype_probabilities(data):
    pipe = make_classifier("color+redness", "logistic", fusion="late", threshold="macro_f1", inner_cv=3, subtypes=5)
    pipe.fit(data.images, data.labels, fine_labels=data.fine)
    step = hierarchical_step(pipe)
    vote = step.estimator_
    classes, proba = predict_subtype_proba(pipe, data.images[:4])
    assert classes.tolist() == vote.classes_.tolist() and "other eczema" in classes.tolist()
    branches = np.mean([branch.predict_proba(data.images[:4]) for branch in vote.estimators_], axis=0)
    np.testing.assert_allclose(proba, branches)


def test_cross_validation_evaluate_and_grid_search(data):
    report = evaluate(_pipe(), data.images, data.labels, groups=data.groups, cv=3, subgroups=None,
                      fit_params={"fine_labels": data.fine})
    assert len(report.folds) == 3 and 0 <= report.summary()["roc_auc"][0] <= 1
    grid = GridSearchCV(_pipe(groups=None), {"clf__estimator__estimator__estimator__C": [0.1, 1.0]},
                        cv=StratifiedKFold(2, shuffle=True, random_state=0), n_jobs=2, scoring="roc_auc")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid.fit(data.images, data.labels, fine_labels=data.fine)
    assert hierarchical_step(grid.best_estimator_) is not None


def test_clone_pickle_and_model_files(data, tmp_path):
    pipe = _pipe()
    assert clone(pipe).get_params()["clf__estimator__min_fine_count"] == 5
    pipe.fit(data.images, data.labels, fine_labels=data.fine)
    again = pickle.loads(pickle.dumps(pipe))
    np.testing.assert_allclose(predict_subtype_proba(again, data.images[:3])[1],
                               predict_subtype_proba(pipe, data.images[:3])[1])
    save_model(pipe, tmp_path / "m.skops")
    loaded, _ = load_model(tmp_path / "m.skops")
    classes, proba = predict_subtype_proba(loaded, data.images[:3])
    assert classes.tolist() == hierarchical_step(pipe).fine_classes_.tolist()
    np.testing.assert_allclose(proba, predict_subtype_proba(pipe, data.images[:3])[1])


def test_evaluate_reports_the_subtype_confusion_matrix(data, tmp_path):
    report = evaluate(_pipe(), data.images, data.labels, groups=data.groups, cv=3, subgroups=None,
                      fit_params={"fine_labels": data.fine})
    rows, columns, counts = report.subtype_confusion_matrix()
    assert sorted(rows) == sorted(set(data.fine)) and counts.sum() == len(data.labels)
    assert "other eczema" in columns and "napkin" not in columns  # 4 photographs: merged in every fold
    assert counts[rows.index("napkin")].sum() == 4
    assert (report.subtype_pred != None).all()  # noqa: E711 - every photograph has an out-of-fold subtype
    html = report.to_html(tmp_path / "r.html", n_heatmaps=0, n_gallery=0).read_text()
    assert "<h2>Subtype confusion matrix (out-of-fold)</h2>" in html and "other eczema" in html
    # without fine labels: no subtype section
    plain = evaluate(_pipe(subtypes=False), data.images, data.labels, groups=data.groups, cv=3, subgroups=None)
    assert plain.subtype_confusion_matrix() is None
    assert "Subtype confusion" not in plain.to_html(tmp_path / "p.html", n_heatmaps=0, n_gallery=0).read_text()
