"""One prediction path: predict, explain and the web demo give the same probability."""

import cv2
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from dermfeat.datasets import make_lesion_images
from dermfeat.explain import Prediction, occlusion_sensitivity, predict_image, predict_images
from dermfeat.features import ColorFeatures
from dermfeat.persistence import save_model
from tests.base.test_image_transformer import MeanColour


class _Counting(MeanColour):
    """MeanColour that counts the images it extracts features from."""

    seen = 0

    def transform(self, X):
        out = super().transform(X)
        type(self).seen += len(out)
        return out


@pytest.fixture(scope="module")
def model():
    data = make_lesion_images(40, image_size=64, random_state=0)
    return make_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000)).fit(data.images, data.labels)


def test_same_as_predict_proba_and_predict(model):
    images = make_lesion_images(5, image_size=80, random_state=1).images
    proba, labels = predict_images(model, list(images))
    assert np.array_equal(proba, model.predict_proba(list(images)))
    assert np.array_equal(labels, model.predict(list(images)))
    one = predict_image(model, images[2])
    assert isinstance(one, Prediction) and one.label == labels[2]
    assert np.array_equal(one.probabilities, proba[2]) and one.classes == tuple(model.classes_)
    assert one.probability() == proba[2][list(model.classes_).index(labels[2])]


def test_features_are_extracted_once_for_class_and_probability():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, size=(20, 16, 16, 3), dtype=np.uint8)
    y = np.arange(20) % 2
    model = make_pipeline(_Counting(), LogisticRegression()).fit(images, y)
    _Counting.seen = 0
    predict_image(model, images[0])
    assert _Counting.seen == 1
    model.predict_proba(images[:1]), model.predict(images[:1])
    assert _Counting.seen == 3  # the two-call way extracts twice


def test_not_a_classifier():
    with pytest.raises(TypeError, match="predict_proba"):
        predict_image(MeanColour(), np.zeros((8, 8, 3), np.uint8))


def test_explain_reports_the_probability_predict_reports(model, tmp_path):
    """The heat map is computed on a 384-pixel working copy; the probability it reports is the photo's own."""
    from dermfeat.cli._main import main
    from dermfeat.cli._predict import predict_rows

    photo = make_lesion_images(1, image_size=900, quality_variation=0, random_state=5).images[0]
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), cv2.cvtColor(photo, cv2.COLOR_RGB2BGR))
    result = occlusion_sensitivity(model, str(path))
    small = cv2.resize(photo, (384, 384), interpolation=cv2.INTER_AREA)
    # the working copy alone would give another probability: the cause of p=0.968 against 0.960
    pos = list(model.classes_).index(result.target)
    assert model.predict_proba([small])[0][pos] != model.predict_proba([photo])[0][pos]
    assert result.base_probability == model.predict_proba([photo])[0][pos]
    assert result.target == model.predict([photo])[0]
    file = save_model(model, tmp_path / "m.skops")
    row = predict_rows(model, {"pos_label": result.target}, [str(path)])[0]
    assert row["probability"] == round(result.base_probability, 4)
    assert main(["explain", str(file), str(path), "-o", str(tmp_path / "h.png")]) == 0


def test_explain_and_predict_agree_on_a_real_photograph(dermnet_dir, models_dir, tmp_path, capsys):
    """The report's example: ``dermfeat explain`` said p=0.968 where ``dermfeat predict`` said 0.960."""
    from dermfeat.cli._main import main

    pytest.importorskip("onnxruntime")
    photos = sorted((dermnet_dir / "atopic_dermatitis").glob("*.jpg"))
    eczema = sorted((dermnet_dir / "eczema").glob("*.jpg"))
    from dermfeat.features import OnnxEmbedder

    embedder = OnnxEmbedder.from_card(models_dir / "efficientnet_lite0.json")
    files = [str(p) for p in photos[:8] + eczema[:8]]
    labels = ["atopic_dermatitis"] * 8 + ["eczema"] * 8
    model = make_pipeline(embedder, LogisticRegression(C=0.1, max_iter=5000)).fit(files, labels)
    file = save_model(model, tmp_path / "eff.skops")
    photo = str(photos[10])
    assert main(["predict", str(file), photo]) == 0
    predicted = capsys.readouterr().out.splitlines()[1].split(",")
    assert main(["explain", str(file), photo, "-o", str(tmp_path / "h.png")]) == 0
    explained = capsys.readouterr().out
    p = float(predicted[2]) if predicted[1] == predicted[3] else 1 - float(predicted[2])
    assert f"{predicted[1]} p={p:.3f};" in explained, (predicted, explained)
