"""The page's wording for a model with an out-of-distribution guard and prediction sets, in a real browser.

A cat photograph gets no class ("does not look like the skin photographs the model was
trained on"); a photograph whose prediction set holds both classes reads "Uncertain: could be
either".  Screenshots are written under the test's tmp dir and, with
``DERMFEAT_UPDATE_SCREENSHOTS=1``, copied to ``docs/_static/serve_ood.png`` and
``docs/_static/serve_uncertain.png`` for the user guide.
"""

import cv2
import numpy as np
import pytest

from .conftest import running_server
from .test_browser import UPDATE, _copy_for_docs, _open, browser  # noqa: F401 - the browser fixture

pytest.importorskip("uvicorn")
skimage_data = pytest.importorskip("skimage.data")


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    """A color/logistic model with a guard and class-conditional 90 % sets, and photos it was not fitted on."""
    from sklearn.linear_model import LogisticRegression

    from dermfeat.datasets import make_lesion_images
    from dermfeat.features import ColorFeatures
    from dermfeat.persistence import save_model
    from dermfeat.pipeline import make_image_pipeline
    from dermfeat.uncertainty import OutOfDistributionDetector, add_uncertainty, predict_with_uncertainty

    folder = tmp_path_factory.mktemp("guarded_serve")
    data = make_lesion_images(120, image_size=96, random_state=0)
    pipe = add_uncertainty(
        make_image_pipeline(ColorFeatures(), LogisticRegression(max_iter=1000), threshold="tuned",
                            pos_label="atopic_dermatitis", objective="macro_f1", cv=3),
        class_conditional=True, detector=OutOfDistributionDetector(normalize="standard"), cv=3)
    pipe.fit(data.images, data.labels)
    path = save_model(pipe, folder / "guarded.skops", metadata={
        "features": "color", "head": "logistic", "pos_label": "atopic_dermatitis", "threshold_objective": "macro_f1",
        "n_training_images": 120})
    new = make_lesion_images(40, image_size=160, quality_variation=0, random_state=7)
    answers = predict_with_uncertainty(pipe, new.images)
    both = np.flatnonzero(answers.in_distribution & (answers.prediction_set.sum(axis=1) == 2))
    assert both.size, "no two-class set among 40 new photos"
    ambiguous = folder / "ambiguous.png"
    cv2.imwrite(str(ambiguous), cv2.cvtColor(new.images[int(both[0])], cv2.COLOR_RGB2BGR))
    cat = folder / "chelsea.png"
    cv2.imwrite(str(cat), cv2.cvtColor(skimage_data.chelsea(), cv2.COLOR_RGB2BGR))
    return path, cat, ambiguous


def test_the_cat_gets_no_class_and_the_coin_toss_says_so(browser, guarded, tmp_path):  # noqa: F811
    from dermfeat.serve import create_app

    path, cat, ambiguous = guarded
    shots = []
    with running_server(create_app(path)) as url:
        page, outside, problems = _open(browser, url)
        page.set_input_files("#file", str(cat))
        page.wait_for_selector("#result:not([hidden])", timeout=60_000)
        assert page.inner_text("#decision") == "Not recognised"
        text = page.inner_text("#uncertainty")
        assert "does not look like the skin photographs the model was trained on" in text
        assert "gives no class" in text
        assert not page.is_visible("#probability") and not page.is_visible("#figures")
        assert page.inner_text("#skintone").startswith("Not estimated")
        shots.append(tmp_path / "serve_ood.png")
        page.screenshot(path=str(shots[-1]), full_page=True)

        page.set_input_files("#file", str(ambiguous))
        page.wait_for_function("() => document.getElementById('decision').textContent !== 'Not recognised'",
                               timeout=60_000)
        assert page.inner_text("#decision") == "Uncertain: could be either"
        assert "cannot tell atopic dermatitis from eczema apart" in page.inner_text("#uncertainty")
        assert page.is_visible("#probability") and page.inner_text("#probability").startswith("best guess")
        assert "threshold" in page.inner_text("#rule") and "not tuned" not in page.inner_text("#rule")
        shots.append(tmp_path / "serve_uncertain.png")
        page.screenshot(path=str(shots[-1]), full_page=True)
        page.close()
    assert outside == [] and problems == []
    if UPDATE:
        for shot in shots:
            _copy_for_docs(shot)
