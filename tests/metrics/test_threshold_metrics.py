import numpy as np
import pytest
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    f1_score,
    precision_score,
    recall_score,
)

from dermfeat.metrics import BINARY_METRICS, multiclass_metrics, threshold_metrics


def test_threshold_metrics_match_sklearn(rng):
    y = rng.integers(0, 2, 200)
    score = y * 0.3 + rng.uniform(size=200)
    w = rng.uniform(0.2, 2.0, 200)
    thresholds = np.quantile(score, [0.1, 0.3, 0.5, 0.7, 0.9])
    m = threshold_metrics(y, score, thresholds, sample_weight=w)
    assert set(BINARY_METRICS) <= set(m)
    for i, t in enumerate(thresholds):
        pred = (score >= t).astype(int)
        assert m["sensitivity"][i] == pytest.approx(recall_score(y, pred, sample_weight=w))
        assert m["specificity"][i] == pytest.approx(recall_score(y, pred, pos_label=0, sample_weight=w))
        assert m["precision"][i] == pytest.approx(precision_score(y, pred, sample_weight=w))
        assert m["npv"][i] == pytest.approx(precision_score(y, pred, pos_label=0, sample_weight=w))
        assert m["f1_positive"][i] == pytest.approx(f1_score(y, pred, sample_weight=w))
        assert m["f1_negative"][i] == pytest.approx(f1_score(y, pred, pos_label=0, sample_weight=w))
        assert m["macro_f1"][i] == pytest.approx(f1_score(y, pred, average="macro", sample_weight=w))
        assert m["weighted_f1"][i] == pytest.approx(f1_score(y, pred, average="weighted", sample_weight=w))
        assert m["balanced_accuracy"][i] == pytest.approx(balanced_accuracy_score(y, pred, sample_weight=w))
        assert m["accuracy"][i] == pytest.approx(accuracy_score(y, pred, sample_weight=w))
        assert m["neg_mean_cost"][i] == pytest.approx(accuracy_score(y, pred, sample_weight=w) - 1)
        assert m["positive_rate"][i] == pytest.approx(np.average(pred, weights=w))


def test_threshold_metrics_string_labels_and_cost():
    y = np.array(["ad", "other", "ad", "other"])
    m = threshold_metrics(y, [0.9, 0.8, 0.3, 0.1], [0.5], pos_label="ad", cost_matrix=[[0, 1], [5, 0]])
    assert m["sensitivity"][0] == 0.5 and m["specificity"][0] == 0.5
    assert m["neg_mean_cost"][0] == pytest.approx(-(1 + 5) / 4)
    with pytest.raises(ValueError, match="pos_label"):
        threshold_metrics(y, [0.9, 0.8, 0.3, 0.1], [0.5])


def test_default_thresholds_are_unique_scores():
    m = threshold_metrics([0, 1, 1], [0.2, 0.2, 0.7])
    np.testing.assert_array_equal(m["threshold"], [0.2, 0.7])
    assert m["sensitivity"][0] == 1.0 and m["specificity"][-1] == 1.0


def test_multiclass_metrics_match_sklearn(rng):
    y = rng.integers(0, 3, 90)
    pred = np.where(rng.uniform(size=90) < 0.6, y, rng.integers(0, 3, 90))
    w = rng.uniform(0.5, 1.5, 90)
    m = multiclass_metrics(y, pred, 3, sample_weight=w, class_names=["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(accuracy_score(y, pred, sample_weight=w))
    assert m["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(y, pred, sample_weight=w))
    assert m["macro_f1"] == pytest.approx(f1_score(y, pred, average="macro", sample_weight=w))
    assert m["weighted_f1"] == pytest.approx(f1_score(y, pred, average="weighted", sample_weight=w))
    assert m["recall_b"] == pytest.approx(recall_score(y, pred, labels=[1], average="macro", sample_weight=w))
