"""``dermfeat predict`` streams: bounded decoded images, rows as they come, bad files as rows."""

import csv
import io
import json
import os
import weakref

import cv2
import numpy as np
import pytest

import dermfeat.io
from dermfeat._exceptions import ModelMismatchError
from dermfeat.cli import main
from dermfeat.cli._predict import iter_rows, predict_rows
from dermfeat.io import read_image
from dermfeat.persistence import load_model


@pytest.fixture(scope="module")
def images(lesion_folder):
    return sorted(str(p) for p in lesion_folder.rglob("*.jpg"))[:10]


class _Tracked:
    """Wraps dermfeat.io.read_image: counts decodes and how many decoded images are alive."""

    def __init__(self):
        self.alive, self.decoded, self.max_alive = [], 0, 0

    def read_image(self, source, **kwargs):
        image = read_image(source, **kwargs)
        self.decoded += 1
        self.alive.append(weakref.ref(image))
        return image

    def count(self):
        self.alive = [r for r in self.alive if r() is not None]
        self.max_alive = max(self.max_alive, len(self.alive))
        return len(self.alive)


class _Watching:
    """A model wrapper that records how many decoded images are alive at each prediction."""

    def __init__(self, model, tracked):
        self.model, self.tracked, self.classes_ = model, tracked, model.classes_

    def predict_proba(self, X):
        self.tracked.count()
        return self.model.predict_proba(X)

    def predict(self, X):
        return self.model.predict(X)


def test_rows_match_predicting_all_images_at_once(model_file, images):
    model, meta = load_model(model_file)
    decoded = [read_image(p) for p in images]
    proba, pred = model.predict_proba(decoded), model.predict(decoded)
    pos = list(model.classes_).index("atopic_dermatitis")
    for batch_size in (1, 3, 8, 100):
        rows = predict_rows(model, meta, images, batch_size=batch_size)
        assert [r["file"] for r in rows] == images
        assert [r["class"] for r in rows] == [str(c) for c in pred]
        assert [r["probability"] for r in rows] == [float(np.round(p[pos], 4)) for p in proba]
        assert all(r["error"] == "" and r["threshold"] == float(np.round(meta["threshold"], 4)) for r in rows)


def test_decoded_images_are_bounded_by_the_batch_size(model_file, images, monkeypatch):
    model, meta = load_model(model_file)
    tracked = _Tracked()
    monkeypatch.setattr(dermfeat.io, "read_image", tracked.read_image)
    rows = iter_rows(_Watching(model, tracked), meta, images * 3, batch_size=4)
    first = next(rows)  # the first row comes before most photos are even decoded
    assert first["file"] == images[0] and tracked.decoded == 4
    rest = list(rows)
    assert len(rest) == 29 and tracked.decoded == 30
    assert tracked.max_alive == 4  # never more than one batch of decoded photos at a time


class _Fragile:
    """A classifier that fails like OpenCV does on a degenerate image (rows or columns < 8)."""

    classes_ = np.array(["atopic_dermatitis", "eczema"])

    def predict_proba(self, X):
        for image in X:
            if min(image.shape[:2]) < 8:
                cv2.resize(np.zeros((0, 0, 3), np.uint8), (4, 4))  # raises cv2.error
        return np.array([[0.25, 0.75]] * len(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def _write(path, image):
    cv2.imwrite(str(path), cv2.cvtColor(np.asarray(image, np.uint8), cv2.COLOR_RGB2BGR))
    return str(path)


def test_an_image_the_model_fails_on_is_a_row_and_the_others_go_on(tmp_path, images):
    strip = _write(tmp_path / "strip.png", np.full((1, 500, 3), 120))
    missing = str(tmp_path / "missing.jpg")
    paths = [images[0], strip, images[1], missing, images[2]]
    rows = predict_rows(_Fragile(), {"pos_label": "atopic_dermatitis"}, paths, batch_size=8)
    assert [r["file"] for r in rows] == paths
    assert [r["probability"] for r in rows] == [0.25, "", 0.25, "", 0.25]
    assert rows[1]["error"].startswith("could not be analysed: OpenCV error: (-215:Assertion failed)")
    assert rows[3]["error"] and "Traceback" not in rows[3]["error"]


def test_a_model_error_stops_the_run_as_one_line(monkeypatch, model_file, images, capsys):
    def broken(self, X):
        raise ModelMismatchError("efficientnet.onnx: SHA-256 differs from the one this model was fitted with")

    model, meta = load_model(model_file)
    monkeypatch.setattr(type(model[0]), "transform", broken)  # the feature step finds its model file changed
    with pytest.raises(ModelMismatchError):  # not turned into one error row per image
        predict_rows(model, meta, images[:3])
    assert main(["predict", str(model_file), *images[:3]]) == 1
    err = capsys.readouterr().err
    assert err == ("dermfeat predict: error: efficientnet.onnx: SHA-256 differs from the one this model was "
                   "fitted with\n")


def test_csv_and_json_are_written_as_they_come(model_file, images, tmp_path, capsys):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    paths = [images[0], str(bad), images[1]]
    assert main(["predict", str(model_file), *paths, "--batch-size", "1"]) == 0
    out = capsys.readouterr()
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert [r["file"] for r in rows] == paths and rows[1]["error"].startswith("not a recognised image format")
    assert out.err == "1 of 3 images could not be read or analysed (listed with their reason)\n"
    assert main(["predict", str(model_file), *paths, "--format", "json", "--batch-size", "2"]) == 0
    text = capsys.readouterr().out
    model, meta = load_model(model_file)
    # the same text as json.dumps of the whole list, written row by row
    assert text == json.dumps(predict_rows(model, meta, paths), indent=2) + "\n"


def test_undecodable_file_names_do_not_stop_the_run(model_file, images, tmp_path, capsys):
    try:
        raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9.jpg")
        with open(raw, "wb") as fh, open(images[0], "rb") as src:
            fh.write(src.read())
    except (OSError, ValueError):  # pragma: no cover - a file system that refuses such names
        pytest.skip("the file system refuses non-UTF-8 file names")
    name = os.fsdecode(raw)  # what the shell hands over: a str with a surrogate escape
    for fmt in ("csv", "json"):
        assert main(["predict", str(model_file), name, images[1], "--format", fmt]) == 0
        out = capsys.readouterr().out
        rows = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
        assert [os.path.basename(r["file"]) for r in rows] == ["caf\\xe9.jpg", os.path.basename(images[1])]
        assert all(r["error"] == "" for r in rows)


def test_batch_size_must_be_positive(capsys):
    with pytest.raises(SystemExit) as info:
        main(["predict", "m.skops", "a.jpg", "--batch-size", "0"])
    assert info.value.code == 2
    assert "--batch-size" in capsys.readouterr().err
