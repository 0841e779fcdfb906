"""predict_with_uncertainty: one pass through the extraction, None for what a model lacks."""

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import FunctionTransformer

from dermfeat.datasets import make_lesion_images
from dermfeat.features import ColorFeatures
from dermfeat.pipeline import make_image_pipeline
from dermfeat.uncertainty import add_uncertainty, predict_with_uncertainty, set_labels


class _Counting(FunctionTransformer):
    calls = 0

    def transform(self, X):
        type(self).calls += 1
        return super().transform(X)


def _mean_colour(images):
    return np.asarray([np.asarray(im, dtype=float).mean(axis=(0, 1)) for im in images])


def test_one_extraction_gives_everything():
    data = make_lesion_images(60, image_size=32, random_state=0)
    pipe = add_uncertainty(make_image_pipeline(_Counting(_mean_colour), LogisticRegression()), cv=3)
    pipe.fit(data.images, data.labels, groups=data.groups)
    _Counting.calls = 0
    result = predict_with_uncertainty(pipe, data.images[:5])
    assert _Counting.calls == 1
    np.testing.assert_allclose(result.proba, pipe.predict_proba(data.images[:5]))
    np.testing.assert_array_equal(result.pred, pipe.predict(data.images[:5]))
    assert result.prediction_set.shape == (5, 2) and result.in_distribution.shape == (5,)
    assert np.all(result.ood_score <= 0)
    assert set(set_labels(result.prediction_set[0], result.classes)) <= set(data.labels)


def test_a_model_without_uncertainty_gives_none():
    data = make_lesion_images(30, image_size=32, random_state=0)
    pipe = make_image_pipeline(ColorFeatures(image_size=32), LogisticRegression()).fit(data.images, data.labels)
    result = predict_with_uncertainty(pipe, data.images[:2])
    assert result.prediction_set is None and result.in_distribution is None and result.ood_score is None
    np.testing.assert_array_equal(result.pred, pipe.predict(data.images[:2]))


def test_a_soft_vote_with_subtypes_extracts_each_image_once():
    import dermfeat.base._executor as executor
    from dermfeat.pipeline import make_classifier

    data = make_lesion_images(60, image_size=48, random_state=0)
    fine = np.where(data.labels == "atopic_dermatitis", "ad", np.where(np.arange(60) % 2, "a", "b"))
    # late fusion: the branches extract inside the last step (for the probabilities, the decision, the subtypes)
    pipe = make_classifier("color+lbp", fusion="late", threshold="macro_f1", subtypes=1)
    pipe.fit(data.images, data.labels, fine_labels=fine)
    computed, real = [], executor.Job._computed

    def counting(job, todo, options):
        computed.append(len(todo))
        return real(job, todo, options)

    executor.Job._computed = counting
    try:
        result = predict_with_uncertainty(pipe, data.images[:5])
    finally:
        executor.Job._computed = real
    assert sum(computed) == 5 * 2  # five photographs, two extractors, once each
    np.testing.assert_allclose(result.proba, pipe.predict_proba(data.images[:5]))
    np.testing.assert_array_equal(result.pred, pipe.predict(data.images[:5]))
    assert result.subtype_classes.tolist() == ["a", "ad", "b"]
