"""evaluate(): numbers match scikit-learn's metric functions; no leakage; the HTML report."""

import re

import matplotlib
import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    balanced_accuracy_score,
    brier_score_loss,
    confusion_matrix,
    f1_score,
    recall_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline

from dermfeat.evaluation import evaluate, fold_metrics
from dermfeat.metrics import expected_calibration_error
from tests._helpers import MeanColour

matplotlib.use("Agg")


class FixedScores(ClassifierMixin, BaseEstimator):
    """Returns a stored probability per sample index (X holds indices)."""

    def __init__(self, scores=None, threshold=0.5):
        self.scores = scores
        self.threshold = threshold

    def fit(self, X, y):
        self.classes_ = np.unique(y)
        self.threshold_ = self.threshold
        return self

    def predict_proba(self, X):
        p = np.asarray(self.scores)[np.asarray(X, dtype=int).ravel()]
        return np.column_stack([1 - p, p])

    def predict(self, X):
        return self.classes_[(self.predict_proba(X)[:, 1] >= self.threshold).astype(int)]


def test_fold_metrics_match_sklearn(rng):
    y = rng.integers(0, 2, 200)
    p = np.clip(y * 0.3 + rng.random(200) * 0.7, 0, 1)
    labels = np.array(["eczema", "atopic_dermatitis"])[y]
    pred = np.where(p >= 0.5, "atopic_dermatitis", "eczema")
    classes = np.array(["atopic_dermatitis", "eczema"])
    proba = np.column_stack([p, 1 - p])
    m = fold_metrics(labels, pred, proba, classes, "atopic_dermatitis")
    assert m["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert m["macro_f1"] == pytest.approx(f1_score(labels, pred, average="macro"))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(labels, pred))
    assert m["sensitivity"] == pytest.approx(recall_score(labels, pred, pos_label="atopic_dermatitis"))
    assert m["specificity"] == pytest.approx(recall_score(labels, pred, pos_label="eczema"))
    assert m["brier"] == pytest.approx(brier_score_loss(y, p))
    assert m["calibration_error"] == pytest.approx(expected_calibration_error(y, p))


def test_report_numbers_on_fixed_predictions(rng):
    n = 120
    y = rng.integers(0, 2, n)
    scores = np.clip(0.25 + 0.5 * y + rng.normal(0, 0.2, n), 0, 1)
    X = np.arange(n)[:, None]
    cv = KFold(4, shuffle=True, random_state=0)
    report = evaluate(FixedScores(scores), X, y, groups=None, cv=cv, pos_label=1, subgroups=None)
    # out-of-fold = the stored scores (each sample tested once)
    np.testing.assert_allclose(report.positive_proba, scores)
    pred = (scores >= 0.5).astype(int)
    np.testing.assert_array_equal(report.confusion_matrix(), confusion_matrix(y, pred))
    # per-fold metrics equal sklearn's on each test fold
    for fold, (_, test) in zip(report.folds, cv.split(X)):
        assert fold["roc_auc"] == pytest.approx(roc_auc_score(y[test], scores[test]))
        assert fold["macro_f1"] == pytest.approx(f1_score(y[test], pred[test], average="macro"))
        assert fold["threshold"] == 0.5
    mean, std = report.summary()["roc_auc"]
    per_fold = [roc_auc_score(y[t], scores[t]) for _, t in cv.split(X)]
    assert mean == pytest.approx(np.mean(per_fold)) and std == pytest.approx(np.std(per_fold))
    curve = report.threshold_curve([0.5])
    assert curve["sensitivity"][0] == pytest.approx(recall_score(y, pred))
    # misclassified, most confident first
    wrong = report.misclassified()
    assert len(wrong) == int((pred != y).sum())
    conf = [w["confidence"] for w in wrong]
    assert conf == sorted(conf, reverse=True)
    assert {w["kind"] for w in wrong} <= {"false positive", "false negative"}


def test_groups_never_straddle_and_reach_inner_fit(lesion_data):
    seen = []

    class Spy(LogisticRegression):
        def fit(self, X, y, groups=None):
            seen.append(groups)
            return super().fit(X, y)

    pipe = make_pipeline(MeanColour(), Spy(max_iter=1000))
    report = evaluate(pipe, lesion_data.images, lesion_data.labels, groups=lesion_data.groups, cv=3, subgroups=None)
    assert all(g is not None for g in seen) and len(seen) == 3
    from dermfeat.model_selection import RepeatedStratifiedGroupKFold

    for train, test in RepeatedStratifiedGroupKFold(3, 1, random_state=0).split(lesion_data.labels, lesion_data.labels, lesion_data.groups):
        assert not set(lesion_data.groups[train]) & set(lesion_data.groups[test])
    assert report.table().startswith("metric")


def test_repeats_average_out_of_fold(lesion_data):
    from dermfeat.model_selection import RepeatedStratifiedGroupKFold

    pipe = make_pipeline(MeanColour(), LogisticRegression(max_iter=1000))
    cv = RepeatedStratifiedGroupKFold(3, 2, random_state=1)
    report = evaluate(pipe, lesion_data.images, lesion_data.labels, groups=lesion_data.groups, cv=cv, subgroups=None)
    assert len(report.folds) == 6 and {f["repeat"] for f in report.folds} == {0, 1}
    np.testing.assert_allclose(report.oof_proba.sum(axis=1), 1.0)


def test_subgroups_and_html(lesion_data, tmp_path):
    pipe = make_pipeline(MeanColour(), LogisticRegression(max_iter=1000))
    tone = np.where(lesion_data.lightness > 55, "light", "dark")
    report = evaluate(pipe, lesion_data.images, lesion_data.labels, groups=lesion_data.groups, cv=3,
                      subgroups={"skin_tone": tone})
    rows = report.subgroup_table("skin_tone")
    assert sum(r["n"] for r in rows) == len(lesion_data.labels)
    assert [r["group"] for r in rows] == ["light", "dark"] or [r["group"] for r in rows] == ["dark", "light"]
    path = report.to_html(tmp_path / "report.html")
    text = path.read_text()
    assert text.count("data:image/png;base64,") >= 5  # confusion, ROC, threshold, calibration, subgroup
    assert "Most confident false positives" in text and "data:image/jpeg;base64," in text
    assert re.search(r"roc_auc</td><td>0\.\d{3}", text)


def test_bad_arguments(lesion_data):
    pipe = make_pipeline(MeanColour(), LogisticRegression())
    with pytest.raises(ValueError, match="pos_label"):
        evaluate(pipe, lesion_data.images, lesion_data.labels, pos_label="psoriasis", groups=None, subgroups=None)
    with pytest.raises(TypeError, match="classifier"):
        evaluate(MeanColour(), lesion_data.images, lesion_data.labels)
