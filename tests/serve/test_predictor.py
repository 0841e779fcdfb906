"""DemoPredictor without a web server: warnings, skin tone, decision rule, severity."""

import subprocess
import sys

import cv2
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat import InvalidImageError
from dermfeat.datasets import make_lesion_images
from dermfeat.features import ColorFeatures
from dermfeat.ordinal import OrdinalClassifier
from dermfeat.persistence import save_model
from dermfeat.serve import QUALITY_THRESHOLDS, DemoPredictor, quality_warnings

from .conftest import encode, test_client


@pytest.fixture(scope="module")
def predictor(saved_model):
    return DemoPredictor(saved_model[0])


@pytest.fixture(scope="module")
def clean_image():
    return make_lesion_images(1, image_size=256, quality_variation=0, random_state=3).images[0]


def _codes(predictor, image):
    return [w["code"] for w in predictor.predict(encode(image, "PNG"))["quality_warnings"]]


def test_no_warnings_on_a_clean_photo(predictor, clean_image):
    assert _codes(predictor, clean_image) == []


def test_blurred(predictor, clean_image):
    assert "blurred" in _codes(predictor, cv2.GaussianBlur(clean_image, (0, 0), 4))


def test_too_dark(predictor, clean_image):
    assert "too_dark" in _codes(predictor, (clean_image * 0.25).astype(np.uint8))


def test_overexposed(predictor, clean_image):
    assert "overexposed" in _codes(predictor, np.clip(clean_image * 2.2, 0, 255).astype(np.uint8))


def test_colour_cast(predictor, clean_image):
    blue = np.clip(clean_image * np.array([0.55, 0.8, 1.6]), 0, 255).astype(np.uint8)
    assert "colour_cast" in _codes(predictor, blue)


def test_quality_thresholds_can_be_overridden():
    features = {"blur_laplacian_var": 0.003, "brightness": 0.5, "dark_fraction": 0.0, "bright_fraction": 0.0,
                "cast_rg": 0.3, "cast_bg": -0.1, "cast_strength": 0.32}
    assert quality_warnings(features) == []
    assert [w["code"] for w in quality_warnings(features, {"blur_max": 0.0035})] == ["blurred"]
    assert QUALITY_THRESHOLDS["blur_max"] < 0.0035  # below DermNet NZ's 10th percentile


def test_skin_tone_groups_follow_lightness(predictor):
    data = make_lesion_images(12, image_size=128, quality_variation=0, random_state=5)
    order = np.argsort(data.lightness)
    darkest, lightest = (predictor.predict(data.images[i])["skin_tone"] for i in (order[0], order[-1]))
    assert lightest["ita"] > darkest["ita"]
    names = ("very light", "light", "intermediate", "tan", "brown", "dark")
    assert names.index(lightest["category"]) <= names.index(darkest["category"])


def test_decision_rule_from_metadata_and_estimator(saved_model):
    from dermfeat.persistence import load_model

    model, meta = load_model(saved_model[0])
    from_file = DemoPredictor(saved_model[0]).info_
    from_estimator = DemoPredictor(model).info_  # no metadata: read from the ThresholdTunedClassifier
    for info in (from_file, from_estimator):
        assert info["threshold"] == pytest.approx(meta["threshold"])
        assert info["objective"] == "macro_f1"
        assert info["positive_class"] == "atopic_dermatitis"
        assert "macro-averaged F1" in info["decision_rule"]
    assert "48 images" in from_file["decision_rule"]


def test_untuned_model_says_most_probable_class(saved_model):
    data = saved_model[1]
    plain = make_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000)).fit(data.images, data.labels)
    predictor = DemoPredictor(plain)
    assert predictor.info_["threshold"] is None
    assert predictor.info_["decision_rule"].startswith("the most probable class")
    r = predictor.predict(data.images[0])
    assert r["threshold"] is None and r["probability"] >= 0.5


def test_refuses_what_is_not_a_classifier():
    with pytest.raises(ValueError, match="fitted classifier"):
        DemoPredictor(StandardScaler().fit(np.zeros((2, 2))))


def test_decode_errors(predictor):
    with pytest.raises(InvalidImageError, match="not a recognised image format"):
        predictor.predict(b"just text", name="a.jpg")
    with pytest.raises(InvalidImageError, match="too small"):
        predictor.predict(np.zeros((10, 300, 3), np.uint8))


def test_severity_only_from_an_ordinal_model(saved_model, tmp_path, photo):
    data = saved_model[1]
    severity = make_pipeline(ColorFeatures(image_size=64), StandardScaler(),
                             OrdinalClassifier(LogisticRegression(max_iter=1000)))
    severity.fit(data.images, data.severity)
    path = save_model(severity, tmp_path / "severity.skops")
    predictor = DemoPredictor(saved_model[0], severity_model=path)
    assert predictor.info_["severity"] is True
    r = predictor.predict(photo.read_bytes())
    assert r["severity"]["level"] in {"0", "1", "2", "3"}
    assert sum(r["severity"]["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    # a type classifier is not accepted as a severity model
    with pytest.raises(ValueError, match="OrdinalClassifier"):
        DemoPredictor(saved_model[0], severity_model=saved_model[0])


def test_severity_model_on_the_page_and_api(saved_model, photo):
    pytest.importorskip("fastapi")
    from dermfeat.serve import create_app

    data = saved_model[1]
    severity = make_pipeline(ColorFeatures(image_size=64), OrdinalClassifier(LogisticRegression(max_iter=1000)))
    severity.fit(data.images, data.severity)
    with test_client(create_app(saved_model[0], severity_model=severity)) as client:
        assert client.get("/api/model").json()["severity"] is True
        r = client.post("/api/predict", files={"file": ("a.jpg", photo.read_bytes())}).json()
    assert "level" in r["severity"]


def test_package_imports_without_fastapi():
    code = (
        "import sys; sys.modules['fastapi'] = None; sys.modules['uvicorn'] = None\n"
        "import dermfeat.serve as s, dermfeat.cli\n"
        "assert s.DemoPredictor and s.quality_warnings\n"
        "try:\n    s.create_app(object())\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert 'pip install "dermfeat[serve]"' in out.stdout


def test_non_finite_features_become_null(predictor, clean_image, monkeypatch):
    import json

    names = predictor._tone.get_feature_names_out()
    monkeypatch.setattr(predictor._tone, "transform", lambda images: np.full((1, len(names)), np.nan))
    r = predictor.predict(clean_image)
    assert r["skin_tone"]["ita"] is None and r["skin_tone"]["category"] == "unknown"
    json.dumps(r, allow_nan=False)  # what the JSON response needs


# ------------------------------------------------------------ serving path

_BARRIER = None


class _Meeting:
    """A classifier whose predictions wait until two requests are inside it at the same time."""

    classes_ = np.array(["atopic_dermatitis", "eczema"])

    def predict_proba(self, X):
        _BARRIER.wait()  # BrokenBarrierError (after the timeout) if requests are serialised
        return np.array([[0.3, 0.7]] * len(X))

    def predict(self, X):
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


def test_requests_are_analysed_side_by_side(clean_image):
    """No lock around the prediction: two uploads are inside the model at once."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    global _BARRIER
    _BARRIER = threading.Barrier(2, timeout=60)
    predictor = DemoPredictor(_Meeting())
    data = encode(clean_image, "PNG")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: predictor.predict(data), range(2)))
    assert [r["class"] for r in results] == ["eczema", "eczema"]
    assert not _BARRIER.broken


class _CountingColour(ColorFeatures):
    """ColorFeatures that counts the photos it extracts features from."""

    seen = 0

    def transform(self, X):
        out = super().transform(X)
        type(self).seen += len(out)
        return out


def test_features_once_per_upload_and_the_same_probability_as_predict(saved_model, photo):
    from dermfeat.cli._predict import predict_rows
    from dermfeat.persistence import load_model

    data = saved_model[1]
    model = make_pipeline(_CountingColour(), LogisticRegression(max_iter=1000)).fit(list(data.filenames), data.labels)
    predictor = DemoPredictor(model)
    _CountingColour.seen = 0
    result = predictor.predict(photo.read_bytes())
    assert _CountingColour.seen == 1  # probability and class from one pass
    saved, meta = load_model(saved_model[0])
    row = predict_rows(saved, meta, [str(photo)])[0]
    r = DemoPredictor(saved_model[0]).predict(photo.read_bytes(), heatmap=True)
    assert (r["positive_probability"], r["class"]) == (row["probability"], row["class"])
    assert r["heatmap_target"] == r["class"] and r["heatmap_max_drop"] >= 0
    assert result["class"] in ("atopic_dermatitis", "eczema")


def test_the_served_copy_computes_on_one_core_and_leaves_the_model_alone(tmp_path):
    from dermfeat.features import OnnxEmbedder
    from dermfeat.features._onnx_tiny import write_tiny_onnx_model
    from dermfeat.serve._predictor import serving_copy

    pytest.importorskip("onnxruntime")
    images = make_lesion_images(20, image_size=48, random_state=0)
    embedder = OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=40, center_crop=32)
    model = make_pipeline(embedder, StandardScaler(), LogisticRegression()).fit(images.images, images.labels)
    served = serving_copy(model)
    assert served[0].n_threads == 1 and model[0].n_threads is None
    assert np.array_equal(served.predict_proba(images.images), model.predict_proba(images.images))
    predictor = DemoPredictor(model)
    assert predictor.model_ is model and model[0].n_threads is None
    assert "central square" in predictor.info_["view"]
