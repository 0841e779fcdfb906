"""The report: pooled vs fold-mean figures, intervals, PR curve, subtypes, gallery, heat maps."""

import re
import warnings

import matplotlib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score

from dermfeat.evaluation import EvaluationReport, SubgroupMetricsDisplay, evaluate
from dermfeat.evaluation._gallery import distinct_errors
from dermfeat.evaluation._intervals import bootstrap_intervals
from dermfeat.features import ColorFeatures
from dermfeat.pipeline import make_image_pipeline

matplotlib.use("Agg")

SUBTYPES = {"atopic_dermatitis": ["Atopic dermatitis (flexural)", "Atopic dermatitis, facial"],
            "eczema": ["Discoid eczema", "Hand dermatitis", "Dyshidrotic eczema (pompholyx)", "Venous eczema",
                       "Nipple eczema", "Lichen simplex"]}


def _subtypes(labels):
    return np.array([SUBTYPES[c][i % len(SUBTYPES[c])] for i, c in enumerate(labels)], dtype=object)


@pytest.fixture(scope="module")
def copies(lesion_data):
    """The synthetic photographs plus exact copies of the first three (same group, same label)."""
    images = list(lesion_data.images) + [lesion_data.images[i].copy() for i in range(3)]
    labels = np.r_[lesion_data.labels, lesion_data.labels[:3]]
    groups = np.r_[lesion_data.groups, lesion_data.groups[:3]]
    return images, labels, groups


@pytest.fixture(scope="module")
def tuned_report(copies):
    images, labels, groups = copies
    pipe = make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000),
                               threshold="tuned", objective="macro_f1", cv=3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = evaluate(pipe, images, labels, groups=groups, cv=3, progress=False,
                          subgroups=["auto", {"subtype": _subtypes(labels)}])
    return report, caught


def test_pooled_and_fold_mean_are_labelled(tuned_report):
    report, _ = tuned_report
    table = report.table()
    assert "mean ± std over 3 folds" in table and "pooled out-of-fold [95% group-bootstrap interval]" in table
    roc = report.plot_roc_curve()
    assert "pooled out-of-fold" in roc.line_.get_label() and "mean over 3 test folds" in roc.ax_.get_title()


def test_precision_recall_curve_and_average_precision(tuned_report):
    report, _ = tuned_report
    y_pos = (report.y == report.pos_label).astype(int)
    display = report.plot_precision_recall_curve()
    assert display.average_precision == pytest.approx(average_precision_score(y_pos, report.positive_proba))
    assert "AP = " in display.line_.get_label()
    per_fold = report.scores("average_precision")
    assert per_fold.shape == (3,) and np.all((per_fold >= 0) & (per_fold <= 1))
    assert "average_precision" in report.headline_metrics


def test_intervals_hold_the_pooled_values(tuned_report):
    report, _ = tuned_report
    intervals = report.intervals()
    assert set(intervals) == {"roc_auc", "macro_f1"}
    y_pos = (report.y == report.pos_label).astype(int)
    assert intervals["roc_auc"]["pooled"] == pytest.approx(roc_auc_score(y_pos, report.positive_proba))
    assert intervals["macro_f1"]["pooled"] == pytest.approx(f1_score(report.y, report.oof_pred, average="macro"))
    for value in intervals.values():
        assert value["low"] <= value["pooled"] <= value["high"]
    assert report.intervals() is intervals  # computed once


def test_bootstrap_resamples_whole_groups():
    rng = np.random.default_rng(0)
    y = np.array(["a", "b"] * 40)
    p_b = np.clip((y == "b") * 0.2 + rng.random(80) * 0.8, 0, 1)
    # every photograph four times: as copies they are one group, not four pieces of evidence
    y4, p4 = np.repeat(y, 4), np.repeat(p_b, 4)
    proba = np.column_stack([1 - p4, p4])
    pred = np.where(p4 > 0.5, "b", "a")
    args = (y4, pred, proba, ["a", "b"], "b")
    grouped = bootstrap_intervals(*args, np.repeat(np.arange(80), 4), ["roc_auc", "macro_f1"], n_resamples=300)
    naive = bootstrap_intervals(*args, None, ["roc_auc", "macro_f1"], n_resamples=300)
    for m in ("roc_auc", "macro_f1"):
        assert grouped[m]["pooled"] == naive[m]["pooled"]
        width = grouped[m]["high"] - grouped[m]["low"]
        assert width > 1.5 * (naive[m]["high"] - naive[m]["low"])


def test_subtypes_alongside_skin_tone_and_quality_without_warnings(tuned_report, tmp_path):
    report, caught = tuned_report
    assert list(report.subgroups) == ["skin_tone", "blur", "exposure", "subtype"]
    rows = {r["group"]: r for r in report.subgroup_table("subtype")}
    ad = rows["Atopic dermatitis, facial"]
    assert ad["n_positive"] == ad["n"] and np.isnan(ad["macro_f1"]) and np.isnan(ad["specificity"])
    assert ad["accuracy"] == pytest.approx(ad["sensitivity"])
    assert np.isnan(rows["Discoid eczema"]["sensitivity"]) and 0 <= rows["Discoid eczema"]["specificity"] <= 1
    with warnings.catch_warnings(record=True) as more:
        warnings.simplefilter("always")
        display = report.plot_subgroups("subtype")
        text = report.to_html(tmp_path / "r.html", n_heatmaps=0).read_text()
    assert [str(w.message) for w in [*caught, *more]] == []
    assert display.horizontal_ and list(display.values) == ["accuracy"]
    labels = [t.get_text() for t in display.ax_.get_yticklabels()]
    assert "Dyshidrotic eczema (pompholyx) (n=" in " ".join(labels) and all("\n" not in t for t in labels)
    assert "<h2>By subtype</h2>" in text and "<h2>By skin tone</h2>" in text and "<h2>By blur</h2>" in text


def test_html_metrics_table_pr_curve_and_threshold(tuned_report, tmp_path):
    report, _ = tuned_report
    text = report.to_html(tmp_path / "r.html", n_heatmaps=0).read_text()
    assert "precision-recall curve (pooled out-of-fold) with average precision" in text
    assert "<th>mean over folds</th>" in text and "<th>pooled out-of-fold</th>" in text
    assert re.search(r"<td>roc_auc</td>.*?<td>\d\.\d{3} - \d\.\d{3}</td>", text)
    assert "(chosen in training folds)" in text and "fixed" not in report.threshold_text()


def test_fixed_threshold_is_shown_as_fixed(lesion_data, tmp_path):
    pipe = make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000))
    report = evaluate(pipe, lesion_data.images, lesion_data.labels, groups=lesion_data.groups, cv=3,
                      subgroups=None, progress=False)
    assert report.threshold_is_fixed
    assert report.threshold_text() == "0.500 (fixed, not tuned)"
    assert "threshold" in report.table() and "± 0.000" not in report.table()
    text = report.to_html(tmp_path / "r.html", n_heatmaps=0).read_text()
    assert "0.500 (fixed, not tuned)" in text and "chosen in training folds" not in text


def _hand_report(images, y, pred, p_pos, groups=None):
    classes = np.array(["atopic_dermatitis", "eczema"])
    proba = np.column_stack([p_pos, 1 - p_pos])
    n = len(y)
    return EvaluationReport(estimator=None, sources=images, y=np.asarray(y), classes=classes,
                            pos_label="atopic_dermatitis", groups=groups, cv=None, folds=[{"fold": 0}],
                            oof_proba=proba, oof_pred=np.asarray(pred), repeat_preds=None, subgroups={},
                            elapsed=0.0, fold_predictions=[{"train": np.arange(0), "test": np.arange(n)}])


def test_gallery_shows_a_copied_photograph_once(lesion_data):
    imgs = list(lesion_data.images[:6])
    images = [imgs[0], imgs[0].copy(), *imgs[1:6]]  # 0 and 1 are the same photograph
    y = ["eczema"] * 4 + ["atopic_dermatitis"] * 3
    pred = ["atopic_dermatitis"] * 4 + ["atopic_dermatitis"] * 3
    p_pos = np.array([0.95, 0.94, 0.8, 0.7, 0.9, 0.9, 0.9])
    report = _hand_report(images, y, pred, p_pos)
    rows, distinct = distinct_errors(report, "false positive", 8)
    assert [r["index"] for r in rows] == [0, 2, 3] and distinct == 4  # four false positives, three photographs
    assert rows[0]["copies"] == 1 and rows[1]["copies"] == 0


def test_heat_maps_explain_the_folds_model(copies, tmp_path):
    images, labels, groups = copies
    pipe = make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000))
    report = evaluate(pipe, images, labels, groups=groups, cv=3, subgroups=None, progress=False)
    fold = report.fold_predictions[1]
    refit = report.fold_estimator(1)
    np.testing.assert_allclose(refit.predict_proba([images[i] for i in fold["test"]]), fold["proba"])
    text = report.to_html(tmp_path / "r.html", n_gallery=4, n_heatmaps=2).read_text()
    assert text.count("class='heat'") == 2
    assert "Heat maps (occlusion sensitivity" in text
    assert report.to_html(tmp_path / "r0.html", n_heatmaps=0).read_text().count("class='heat'") == 0


def test_subgroup_display_keeps_few_short_levels_vertical():
    display = SubgroupMetricsDisplay(["light", "dark"], [40, 12], {"sensitivity": [0.8, np.nan]}).plot()
    assert not display.horizontal_
    assert len(display.bars_["sensitivity"]) == 1  # an undefined value gets no bar, not a zero
