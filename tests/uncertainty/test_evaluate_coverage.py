"""evaluate() reports coverage, set size and the guard's alarm rate of models with uncertainty."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from dermfeat.datasets import make_lesion_images
from dermfeat.evaluation import evaluate
from dermfeat.features import ColorFeatures
from dermfeat.pipeline import make_image_pipeline
from dermfeat.uncertainty import add_uncertainty, report_coverage


@pytest.fixture(scope="module")
def report():
    data = make_lesion_images(120, image_size=48, random_state=0)
    pipe = add_uncertainty(make_image_pipeline(ColorFeatures(image_size=48), LogisticRegression()), cv=3,
                           class_conditional=True)
    return evaluate(pipe, data.images, data.labels, groups=data.groups, cv=3,
                    subgroups={"site": np.array(["a", "b"] * 60, dtype=object)})


def test_fold_figures_and_the_table(report):
    summary = report.summary()
    for key in ("coverage", "coverage_atopic_dermatitis", "coverage_eczema", "mean_set_size",
                "out_of_distribution_rate"):
        assert key in summary
    assert 0.5 <= summary["coverage"][0] <= 1.0
    assert "coverage" in report.table() and "mean_set_size" in report.table()


def test_coverage_by_class_and_subgroup_counts_every_out_of_fold_set(report):
    (overall,) = report_coverage(report)
    assert overall["n"] == 120
    rows = report_coverage(report, by="site")
    assert [r["group"] for r in rows] == ["a", "b"] and sum(r["n"] for r in rows) == 120
    by_class = report_coverage(report, by="class")
    weighted = sum(r["coverage"] * r["n"] for r in by_class) / 120
    assert weighted == pytest.approx(overall["coverage"])
    with pytest.raises(ValueError, match="subgroup"):
        report_coverage(report, by="skin_tone")


def test_a_model_without_sets_is_told_so():
    data = make_lesion_images(60, image_size=32, random_state=0)
    plain = evaluate(make_image_pipeline(ColorFeatures(image_size=32), LogisticRegression()), data.images,
                     data.labels, groups=data.groups, cv=2, subgroups=None)
    assert "coverage" not in plain.summary()
    with pytest.raises(ValueError, match="no prediction sets"):
        report_coverage(plain)
