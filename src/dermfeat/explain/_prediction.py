"""One prediction path: class and probabilities of photographs from a single pass of features.

``dermfeat predict``, ``dermfeat explain`` and the web demo report the same
probability for the same photograph because they all go through
:func:`predict_images`: the photograph as given (a path, the bytes of a file or
a decoded array) goes through the pipeline's feature steps once, and the final
step turns those features into both the probabilities and the class.  Calling
``predict_proba`` and then ``predict`` on a pipeline would extract the features
twice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Prediction", "predict_image", "predict_images"]


@dataclass(frozen=True)
class Prediction:
    """What :func:`predict_image` returns for one photograph.

    Attributes
    ----------
    label : object
        The predicted class (the estimator's own decision rule, e.g. a tuned
        threshold).
    probabilities : ndarray of shape (n_classes,)
        Probability per class, in the order of ``classes``.
    classes : tuple
        The estimator's ``classes_``.
    """

    label: object
    probabilities: np.ndarray
    classes: tuple

    def probability(self, label=None):
        """Probability of ``label`` (default: the predicted class)."""
        label = self.label if label is None else label
        return float(self.probabilities[list(self.classes).index(label)])


def predict_images(estimator, images):
    """Probabilities and classes of several images, from one pass of features.

    Parameters
    ----------
    estimator : fitted classifier
        A pipeline whose first step takes images (or any classifier with
        ``predict_proba``, ``predict`` and ``classes_``).
    images : sequence of paths, bytes or arrays
        Passed to the feature steps as they are: a path or the bytes of a file
        is decoded by each step exactly as ``fit`` decoded the training files.

    Returns
    -------
    probabilities : ndarray of shape (n_images, n_classes)
    labels : ndarray of shape (n_images,)

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.explain import predict_images
    >>> from dermfeat.features import ColorFeatures
    >>> data = make_lesion_images(20, image_size=48, random_state=0)
    >>> model = make_pipeline(ColorFeatures(image_size=48), LogisticRegression()).fit(data.images, data.labels)
    >>> proba, labels = predict_images(model, data.images[:3])
    >>> bool((proba == model.predict_proba(data.images[:3])).all()), bool((labels == model.predict(data.images[:3])).all())
    (True, True)
    """
    if not hasattr(estimator, "predict_proba") or getattr(estimator, "classes_", None) is None:
        raise TypeError("a prediction needs a fitted classifier with predict_proba and classes_")
    from ..uncertainty import predict_with_uncertainty  # the one pass every prediction takes

    answer = predict_with_uncertainty(estimator, list(images))
    return answer.proba, answer.pred


def predict_image(estimator, image):
    """Class and probabilities of one photograph, from one pass of features.

    Parameters
    ----------
    estimator : fitted classifier
        See :func:`predict_images`.
    image : path, bytes or ndarray
        The photograph.

    Returns
    -------
    prediction : :class:`Prediction`

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.explain import predict_image
    >>> from dermfeat.features import ColorFeatures
    >>> data = make_lesion_images(20, image_size=48, random_state=0)
    >>> model = make_pipeline(ColorFeatures(image_size=48), LogisticRegression()).fit(data.images, data.labels)
    >>> prediction = predict_image(model, data.images[0])
    >>> prediction.label == model.predict(data.images[:1])[0]
    True
    >>> round(prediction.probability(), 6) == round(float(model.predict_proba(data.images[:1]).max()), 6)
    True
    """
    proba, labels = predict_images(estimator, [image])
    return Prediction(label=labels[0], probabilities=proba[0], classes=tuple(estimator.classes_))
