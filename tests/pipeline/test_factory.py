"""One threshold vocabulary for make_image_pipeline, make_classifier and the command line."""

import warnings

import pytest
from sklearn.linear_model import LogisticRegression

from dermfeat.pipeline import make_classifier, make_image_pipeline, threshold_objective
from tests._helpers import MeanColour


def _decision(pipe):
    params = pipe.named_steps["clf"].get_params(deep=False)
    return params["tune"], params["objective"]


def test_a_metric_name_tunes_the_threshold_for_it():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert _decision(make_image_pipeline(MeanColour(), LogisticRegression(), threshold="macro_f1")) == (
            True, "macro_f1")
        assert _decision(make_image_pipeline(MeanColour(), LogisticRegression())) == (False, "balanced_accuracy")
    recipe = make_classifier("color", threshold="specificity")
    assert _decision(recipe) == (True, "specificity")


def test_the_former_spelling_still_works_and_warns():
    with pytest.warns(FutureWarning, match="threshold='macro_f1'"):
        old = make_image_pipeline(MeanColour(), LogisticRegression(), threshold="tuned", objective="macro_f1")
    assert _decision(old) == (True, "macro_f1")
    with pytest.warns(FutureWarning, match="threshold='balanced_accuracy'"):
        assert threshold_objective("tuned") == "balanced_accuracy"
    with pytest.warns(FutureWarning):
        assert _decision(make_classifier("color", threshold="tuned")) == (True, "balanced_accuracy")


@pytest.mark.parametrize("fixed", ["fixed", "0.5", None])
def test_fixed_spellings(fixed):
    assert threshold_objective(fixed) is None


def test_contradictions_and_non_names_are_refused():
    with pytest.raises(ValueError, match="contradicts"):
        make_image_pipeline(MeanColour(), LogisticRegression(), threshold="macro_f1", objective="specificity")
    # a fixed threshold keeps an objective for a grid over clf__tune
    assert _decision(make_image_pipeline(MeanColour(), LogisticRegression(), objective="macro_f1")) == (
        False, "macro_f1")
    with pytest.raises(ValueError, match="metric to tune"):
        make_image_pipeline(MeanColour(), LogisticRegression(), threshold=0.3)
