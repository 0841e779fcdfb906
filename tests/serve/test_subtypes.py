"""The demo with a model fitted on subtypes: the most likely subtypes, never for an unrecognised photograph."""

import numpy as np
import pytest

from dermfeat.datasets import make_lesion_images
from dermfeat.persistence import save_model
from dermfeat.pipeline import make_classifier
from dermfeat.serve import DemoPredictor
from dermfeat.uncertainty import OutOfDistributionDetector, add_uncertainty

from .conftest import encode, test_client

skimage_data = pytest.importorskip("skimage.data")


def _fine(data):
    """Made-up subtypes: one of the AD class, three of the other (from the severity)."""
    names = {0: "Discoid", 1: "Discoid", 2: "Hand", 3: "Venous"}
    return np.array(["Atopic dermatitis" if label == "atopic_dermatitis" else names[level]
                     for label, level in zip(data.labels, data.severity)], dtype=object)


@pytest.fixture(scope="module")
def subtype_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("serve_subtypes")
    data = make_lesion_images(90, image_size=96, random_state=0)
    meta = {"features": "color", "head": "logistic", "pos_label": "atopic_dermatitis",
            "threshold_objective": "macro_f1", "n_training_images": 90}
    pipe = make_classifier("color", "logistic", threshold="macro_f1", inner_cv=3, subtypes=1)
    plain = save_model(pipe.fit(data.images, data.labels, fine_labels=_fine(data)), folder / "m.skops", metadata=meta)
    guarded = add_uncertainty(make_classifier("color", "logistic", threshold="macro_f1", inner_cv=3, subtypes=1),
                              detector=OutOfDistributionDetector(normalize="standard"), cv=3)
    guarded.fit(data.images, data.labels, fine_labels=_fine(data))
    return plain, save_model(guarded, folder / "g.skops", metadata=meta), data


def test_the_demo_lists_the_most_likely_subtypes(subtype_models):
    photo = make_lesion_images(1, image_size=160, quality_variation=0, random_state=5).images[0]
    result = DemoPredictor(subtype_models[0]).predict(encode(photo, "PNG"))
    subtypes = result["subtypes"]
    assert [len(s) for s in subtypes] == [2, 2, 2]
    assert {s["subtype"] for s in subtypes} <= {"Atopic dermatitis", "Discoid", "Hand", "Venous"}
    probs = [s["probability"] for s in subtypes]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0001
    from dermfeat.serve import create_app

    pytest.importorskip("fastapi")
    with test_client(create_app(subtype_models[0])) as client:
        page = client.get("/").text
        answer = client.post("/api/predict", files={"file": ("p.png", encode(photo, "PNG"), "image/png")}).json()
    assert "Most likely subtypes" in page
    assert answer["subtypes"] == subtypes


def test_a_guarded_subtype_model_shows_no_subtype_for_an_unrecognised_photograph(subtype_models):
    predictor = DemoPredictor(subtype_models[1])
    cat = predictor.predict(encode(skimage_data.chelsea(), "PNG"))
    assert cat["in_distribution"] is False and cat["subtypes"] is None
    skin = predictor.predict(encode(subtype_models[2].images[0], "PNG"))  # a photograph like the training ones
    assert skin["in_distribution"] is True and len(skin["subtypes"]) == 3


def test_a_model_without_subtypes_has_none(saved_model):
    photo = make_lesion_images(1, image_size=160, quality_variation=0, random_state=5).images[0]
    assert DemoPredictor(saved_model[0]).predict(encode(photo, "PNG"))["subtypes"] is None
