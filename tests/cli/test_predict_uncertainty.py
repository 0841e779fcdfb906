"""``dermfeat fit --uncertainty`` and the in_distribution / prediction_set columns of ``dermfeat predict``."""

import csv
import io
import json

import cv2
import pytest

from dermfeat.cli import main
from dermfeat.persistence import load_model


@pytest.fixture(scope="module")
def guarded_model(lesion_folder, tmp_path_factory):
    path = tmp_path_factory.mktemp("guarded") / "model.skops"
    code = main(["fit", str(lesion_folder), "-o", str(path), "--features", "color", "--threshold", "macro_f1",
                 "--uncertainty", "class", "--confidence-level", "0.8"])
    assert code == 0
    return path


@pytest.fixture(scope="module")
def cat_file(tmp_path_factory):
    data = pytest.importorskip("skimage.data")
    path = tmp_path_factory.mktemp("cat") / "chelsea.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.chelsea(), cv2.COLOR_RGB2BGR))
    return str(path)


def test_predict_says_the_cat_is_not_a_skin_photograph(guarded_model, lesion_folder, cat_file, capsys):
    images = sorted(str(p) for p in lesion_folder.rglob("*.jpg"))[:6]
    capsys.readouterr()
    assert main(["predict", str(guarded_model), *images, cat_file]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["file"] for r in rows] == [*images, cat_file]
    assert rows[-1]["in_distribution"] == "False"
    assert sum(r["in_distribution"] == "True" for r in rows[:-1]) >= 5
    for r in rows:
        labels = r["prediction_set"].split("|") if r["prediction_set"] else []
        assert set(labels) <= {"atopic_dermatitis", "eczema"}
        assert r["class"] in ("atopic_dermatitis", "eczema")


def test_json_sets_are_lists_and_the_threshold_is_still_recorded(guarded_model, cat_file, capsys):
    model, meta = load_model(guarded_model)
    assert meta["uncertainty"] == {"prediction_sets": "class", "confidence_level": 0.8, "false_alarm_rate": 0.05}
    assert meta["threshold"] is not None  # the tuned decision inside the wrappers
    capsys.readouterr()
    assert main(["predict", str(guarded_model), cat_file, "--format", "json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["in_distribution"] is False and isinstance(row["prediction_set"], list)


def test_a_model_without_uncertainty_leaves_the_columns_empty(model_file, lesion_folder, capsys):
    image = str(sorted(lesion_folder.rglob("*.jpg"))[0])
    capsys.readouterr()
    assert main(["predict", str(model_file), image]) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["in_distribution"] == "" and row["prediction_set"] == ""


def test_late_fusion_is_refused_with_a_reason(lesion_folder, tmp_path, capsys):
    code = main(["fit", str(lesion_folder), "-o", str(tmp_path / "m.skops"), "--features", "color+quality",
                 "--fusion", "late", "--uncertainty", "marginal"])
    assert code != 0
    assert "--fusion late" in capsys.readouterr().err
