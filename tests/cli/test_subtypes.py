"""``--subtypes``: fit and cv on a manifest's subtype column; predict lists the most likely subtypes."""

import csv
import io
import json
import shutil

import pytest

from dermfeat.cli import main
from dermfeat.persistence import load_model


@pytest.fixture(scope="module")
def subtype_manifest(lesion_folder, tmp_path_factory):
    """The synthetic photographs with a ``subtype`` column: one AD subtype, two other ones, one rare."""
    folder = shutil.copytree(lesion_folder, tmp_path_factory.mktemp("sub") / "photos")
    with open(folder / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    others = 0
    for row in rows:
        if row["label"] == "atopic_dermatitis":
            row["subtype"] = "Atopic dermatitis"
        else:
            row["subtype"] = "Nipple eczema" if others == 0 else ["Discoid eczema", "Hand dermatitis"][others % 2]
            others += 1
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def test_fit_then_predict_lists_subtypes(subtype_manifest, tmp_path, capsys):
    model = tmp_path / "m.skops"
    assert main(["fit", str(subtype_manifest), "-o", str(model), "--features", "color", "--threshold", "macro_f1",
                 "--subtypes", "--min-subtype-count", "2", "--quiet"]) == 0
    _, meta = load_model(model)
    assert meta["subtypes"]["column"] == "subtype" and meta["subtypes"]["min_count"] == 2
    assert meta["subtypes"]["merged"] == ["Nipple eczema"] and "other eczema" in meta["subtypes"]["classes"]
    capsys.readouterr()
    images = sorted(str(p) for p in subtype_manifest.parent.glob("eczema/*.jpg"))[:2]
    assert main(["predict", str(model), *images]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert list(rows[0])[-6:] == ["subtype_1", "subtype_1_probability", "subtype_2", "subtype_2_probability",
                                  "subtype_3", "subtype_3_probability"]
    for row in rows:
        names = [row[f"subtype_{i}"] for i in (1, 2, 3)]
        probs = [float(row[f"subtype_{i}_probability"]) for i in (1, 2, 3)]
        assert set(names) <= {"Atopic dermatitis", "Discoid eczema", "Hand dermatitis", "other eczema"}
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0001
    assert main(["predict", str(model), images[0], str(tmp_path / "missing.jpg"), "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out[0]["subtype_1"] and out[1]["error"] and out[1]["subtype_1"] == ""


def test_predict_without_subtypes_has_no_subtype_columns(model_file, lesion_folder, capsys):
    capsys.readouterr()
    image = str(next((lesion_folder / "eczema").glob("*.jpg")))
    assert main(["predict", str(model_file), image]) == 0
    assert "subtype_1" not in capsys.readouterr().out


def test_cv_with_subtypes_reports_the_subtype_confusion_matrix(subtype_manifest, tmp_path, capsys):
    report = tmp_path / "r.html"
    assert main(["cv", str(subtype_manifest), "--features", "color", "--folds", "3", "--repeats", "1",
                 "--subtypes", "--min-subtype-count", "2", "--groups", "group", "--report", str(report),
                 "--heatmaps", "0", "--quiet", "--no-subgroups"]) == 0
    out = capsys.readouterr().out
    assert "subtypes (out-of-fold, most likely):" in out
    text = report.read_text()
    assert "<h2>Subtype confusion matrix (out-of-fold)</h2>" in text and "Nipple eczema" in text


def test_subtypes_needs_the_column(lesion_folder, subtype_manifest, tmp_path, capsys):
    assert main(["fit", str(lesion_folder), "-o", str(tmp_path / "m.skops"), "--features", "color",
                 "--subtypes"]) == 1
    assert "--subtypes: the data have no column 'subtype'" in capsys.readouterr().err
    assert main(["cv", str(subtype_manifest), "--features", "color", "--subtypes", "diagnosis"]) == 1
    assert "no column 'diagnosis'" in capsys.readouterr().err
    assert main(["cv", str(subtype_manifest), "--features", "color", "--min-subtype-count", "3"]) == 1
    assert "--min-subtype-count needs --subtypes" in capsys.readouterr().err


def test_fit_validate_cross_validates_with_the_subtypes(subtype_manifest, tmp_path, capsys):
    model = tmp_path / "v.skops"
    assert main(["fit", str(subtype_manifest), "-o", str(model), "--features", "color", "--subtypes",
                 "--min-subtype-count", "2", "--validate", "--folds", "2", "--repeats", "1", "--quiet"]) == 0
    _, meta = load_model(model)
    assert meta["validation"]["n_folds"] == 2 and meta["subtypes"]["min_count"] == 2
    assert "validated on" in capsys.readouterr().out
