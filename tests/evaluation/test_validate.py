"""validate(): the figures describe the very pipeline it returns."""

import json

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from dermfeat.evaluation import describe_validation, evaluate, validate, validation_summary
from dermfeat.features import ColorFeatures
from dermfeat.model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups
from dermfeat.pipeline import make_image_pipeline


@pytest.fixture(scope="module")
def pipe():
    return make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(), threshold="macro_f1",
                               pos_label="atopic_dermatitis", cv=3)


def test_groups_found_once_for_the_cv_and_the_final_fit(lesion_data, pipe, monkeypatch):
    import dermfeat.evaluation._validate as module
    import dermfeat.model_selection as ms

    calls = []

    def counting(images, **kwargs):
        calls.append(len(images))
        return near_duplicate_groups(images, **kwargs)

    monkeypatch.setattr(module, "near_duplicate_groups", counting)
    monkeypatch.setattr(ms, "near_duplicate_groups", lambda *a, **k: pytest.fail("recomputed inside a fit"))
    cv = RepeatedStratifiedGroupKFold(3, 2, random_state=0)
    result = validate(pipe, lesion_data.images, lesion_data.labels, cv=cv)
    assert calls == [60]
    assert result.estimator.groups_source_ == "given"
    groups = near_duplicate_groups(lesion_data.images)
    again = clone(pipe).fit(lesion_data.images, lesion_data.labels, groups=groups)
    assert result.estimator[-1].best_threshold_ == again[-1].best_threshold_
    report = evaluate(pipe, lesion_data.images, lesion_data.labels, groups=groups, cv=cv, subgroups=None)
    assert result.validation == validation_summary(report)


def test_validation_record(lesion_data, pipe):
    result = validate(pipe, lesion_data.images, lesion_data.labels, groups=lesion_data.groups,
                      cv=RepeatedStratifiedGroupKFold(3, 2, random_state=0))
    v = result.validation
    json.dumps(v)  # JSON-ready: it goes into a model file's metadata
    assert (v["n_images"], v["n_groups"], v["n_folds"], v["n_splits"], v["n_repeats"]) == (60, 20, 6, 3, 2)
    assert v["objective"] == "macro_f1" and v["positive_class"] == "atopic_dermatitis"
    assert "3-fold cross-validation, 2 repeats (6 test folds) over 20 groups" in v["protocol"]
    summary = result.report.summary()
    for metric in ("roc_auc", "sensitivity", "specificity", "macro_f1", "balanced_accuracy"):
        assert v["metrics"][metric]["mean"] == pytest.approx(summary[metric][0], abs=1e-4)
        assert v["metrics"][metric]["std"] == pytest.approx(summary[metric][1], abs=1e-4)
    thresholds = result.report.thresholds()
    assert v["threshold"]["min"] == pytest.approx(thresholds.min(), abs=1e-4)
    text = describe_validation(v)
    assert text.startswith("validated on 60 photographs (stratified group 3-fold")
    assert f"sensitivity {v['metrics']['sensitivity']['mean']:.2f} ± {v['metrics']['sensitivity']['std']:.2f}" in text
    assert describe_validation({"n_images": 5, "metrics": {}}).startswith("not validated")


def test_multiclass_record(lesion_data):
    y = np.asarray(lesion_data.severity).astype(str)
    pipe = make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000))
    result = validate(pipe, lesion_data.images, y, groups=lesion_data.groups, cv=3)
    assert "sensitivity" not in result.validation["metrics"] and result.validation["objective"] is None
    assert "macro-F1" in describe_validation(result.validation, short=True)
