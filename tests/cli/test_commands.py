"""The command line end to end on synthetic photographs."""

import csv
import io
import json

import cv2
import pytest

from dermfeat.cli import main


def test_cv_prints_table_and_writes_report(lesion_folder, tmp_path, capsys):
    report = tmp_path / "r.html"
    code = main(["cv", str(lesion_folder), "--features", "color", "--folds", "3", "--repeats", "1",
                 "--groups", "group", "--report", str(report)])
    assert code == 0
    out = capsys.readouterr().out
    assert "roc_auc" in out and "macro_f1" in out and "by skin_tone" in out
    assert report.is_file() and "data:image/png;base64" in report.read_text()


def test_fit_predict_csv_and_json(model_file, lesion_folder, tmp_path, capsys):
    capsys.readouterr()
    images = sorted(str(p) for p in (lesion_folder / "eczema").glob("*.jpg"))[:3]
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    assert main(["predict", str(model_file), *images, str(bad)]) == 0
    captured = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(captured.out)))
    assert [r["file"] for r in rows] == [*images, str(bad)]
    assert all(r["class"] in ("atopic_dermatitis", "eczema") for r in rows[:3])
    assert all(0 <= float(r["probability"]) <= 1 and r["threshold"] for r in rows[:3])
    assert "not a recognised image format" in rows[3]["error"] and "1 of 4" in captured.err
    assert main(["predict", str(model_file), images[0], "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data[0]["positive_class"] == "atopic_dermatitis"
    # all files bad: exit code 1, still no traceback
    assert main(["predict", str(model_file), str(bad)]) == 1


def test_explain_writes_heatmap(model_file, lesion_folder, tmp_path, capsys):
    image = next((lesion_folder / "atopic_dermatitis").glob("*.jpg"))
    out = tmp_path / "heat.png"
    assert main(["explain", str(model_file), str(image), "-o", str(out)]) == 0
    heat = cv2.imread(str(out))
    assert heat.shape[1] > 2 * 80 and "peak at row" in capsys.readouterr().out


def test_demo_small(tmp_path, capsys):
    code = main(["demo", "--out", str(tmp_path / "demo"), "--n-samples", "60", "--folds", "3", "--repeats", "1", "--n-jobs", "1"])
    assert code == 0
    out = capsys.readouterr().out
    assert "best by macro-F1" in out and (tmp_path / "demo" / "report.html").is_file()


def test_user_errors_have_no_traceback(tmp_path, capsys):
    assert main(["cv", str(tmp_path / "missing")]) == 1
    assert "error" in capsys.readouterr().err
    assert main(["fit", str(tmp_path), "-o", str(tmp_path / "m.skops"), "--features", "efficientnet"]) == 1


def test_cv_breaks_down_by_subtype_when_the_manifest_has_one(lesion_folder, tmp_path, capsys):
    import shutil

    folder = shutil.copytree(lesion_folder, tmp_path / "photos")
    with open(folder / "manifest.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        row["subtype"] = {"atopic_dermatitis": "Atopic dermatitis"}.get(row["label"], ["Discoid eczema", "Hand dermatitis"][i % 2])
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    report = tmp_path / "r.html"
    code = main(["cv", str(manifest), "--features", "color", "--folds", "3", "--repeats", "1", "--groups", "group",
                 "--report", str(report), "--heatmaps", "0", "--quiet"])
    assert code == 0
    captured = capsys.readouterr()
    assert "by skin_tone" in captured.out and "by subtype: Atopic dermatitis" in captured.out
    assert "spec n/a" in captured.out  # one class per subtype: the other figure is undefined, not 0
    assert "threshold" in captured.out and "(fixed, not tuned)" in captured.out
    assert "warning" not in captured.err
    text = report.read_text()
    assert "<h2>By subtype</h2>" in text and "class='heat'" not in text
