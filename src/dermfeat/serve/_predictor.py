"""What the web demo says about one photograph, without any web framework.

:class:`DemoPredictor` turns the bytes of an upload into a JSON-ready dict: the
decision, the probability, the threshold and what it was tuned for, image-quality
warnings, the skin-tone group, an occlusion heat map and, only when a severity
model was supplied, a severity level.  :mod:`dermfeat.serve._app` wraps it in
FastAPI; the CLI and the tests can use it directly.
"""

from __future__ import annotations

import base64
import copy
import os
import time
from pathlib import Path

import cv2
import numpy as np

from .._exceptions import InvalidImageError
# the largest image accepted, in pixels: the library's one limit (64 megapixels), checked
# from the header before the pixels are decoded
from ..io import DEFAULT_MAX_PIXELS
from ._quality import QUALITY_THRESHOLDS, quality_warnings  # noqa: F401 - re-exported

#: Largest upload accepted, in bytes (20 MiB): a 12-megapixel phone JPEG is
#: 3-8 MB and a HEIC 1-4 MB.  Enforced before any decoding.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024

#: Images whose shorter side is below this many pixels are refused.
MIN_SIDE = 32

#: Longest side of the image the heat map is computed on and shown at.
DISPLAY_SIZE = 640

#: Occlusion settings of the demo's heat map (see
#: :func:`~dermfeat.explain.occlusion_sensitivity`): the photo's longer side is
#: scaled to ``working_size`` and a patch of a third of its shorter side slides by
#: half a patch: 35 occluded copies of a 4:3 photo (the library's default, a fifth
#: of the side on a 384-pixel copy, takes 117).  The map is coarser, and shows the
#: same regions on the shared photographs.
#: Subtypes shown per photograph by a model fitted on subtypes.
TOP_SUBTYPES = 3

HEATMAP_OCCLUSION = {"patch_size": 1 / 3, "working_size": 320}

_OBJECTIVE_NAMES = {
    "macro_f1": "macro-averaged F1",
    "balanced_accuracy": "balanced accuracy",
    "f1": "F1 of the positive class",
    "youden": "Youden's J",
    "accuracy": "accuracy",
    "specificity": "specificity",
    "sensitivity": "sensitivity",
    "mcc": "Matthews correlation",
}

NOT_A_DIAGNOSIS = (
    "This is a research demonstration, not a diagnosis. The model was trained on a limited set of "
    "photographs and can be wrong; a clinician must make the diagnosis."
)


def _data_url(image, fmt):
    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if fmt == "png":
        ok, buf = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
        mime = "image/png"
    else:
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 85])
        mime = "image/jpeg"
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB image
        raise RuntimeError(f"could not encode the image as {fmt}")
    return f"data:{mime};base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def _finite(value, digits):
    """A rounded float, or None for NaN/inf (JSON has no NaN)."""
    value = float(value)
    return round(value, digits) if np.isfinite(value) else None


def _label(value):
    return str(value).replace("_", " ")


def _final_step(estimator):
    from ..uncertainty import decision_step  # the last step, or the decision inside uncertainty wrappers

    return decision_step(estimator)


def _contains(estimator, cls):
    from ..persistence._models import _walk

    return any(isinstance(est, cls) for est in _walk(estimator))


def what_the_model_sees(estimator):
    """Which part of the photograph the model analyses, in words (for the page).

    An embedding network (:class:`~dermfeat.features.OnnxEmbedder`) resizes the
    photo and keeps its central square (``tta_crops=5``: the centre and the four
    corners, which cover all of it); handcrafted measurements use the whole photo.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.features import ColorFeatures, OnnxEmbedder
    >>> from dermfeat.serve._predictor import what_the_model_sees
    >>> what_the_model_sees(make_pipeline(ColorFeatures(), LogisticRegression()))
    'the whole photo'
    >>> what_the_model_sees(make_pipeline(OnnxEmbedder("m.onnx"), LogisticRegression()))[:40]
    'the central square of the photo: the ima'
    """
    from ..features import OnnxEmbedder
    from ..persistence._models import _walk

    embedders = [est for est in _walk(estimator) if isinstance(est, OnnxEmbedder)]
    if not embedders or all(est.tta_crops == 5 for est in embedders):
        return "the whole photo"
    return ("the central square of the photo: the image-recognition network does not see the edges of a wide or "
            "tall photo (a third of the width of a 4:3 photo), so keep the affected skin in the centre")


def _validation_info(validation):
    """The cross-validated figures a model file carries (``dermfeat fit --validate``), for the page."""
    from ..evaluation import describe_validation

    validated = bool(validation and validation.get("metrics"))
    return {
        "validation": validation if validated else None,
        # beside every decision: "validated on N photographs: sensitivity a ± b, specificity c ± d"
        "validation_summary": describe_validation(validation, short=True),
        "validation_text": describe_validation(validation),
    }


def serving_copy(estimator, n_threads=1):
    """A copy of a fitted model whose steps each compute on ``n_threads`` cores.

    The web demo answers several uploads at once, one per core: each request
    then runs the backbone on one core (onnxruntime sessions are shared by the
    threads and safe to run concurrently), which serves more photos per second
    than every request fanning out to all cores.  Only execution settings
    change (``n_threads`` of every step that has it); features and predictions
    do not.  The caller's model is left untouched.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.features import OnnxEmbedder
    >>> from dermfeat.serve._predictor import serving_copy
    >>> model = make_pipeline(OnnxEmbedder("m.onnx"), LogisticRegression())
    >>> serving_copy(model)[0].n_threads, model[0].n_threads
    (1, None)
    """
    from ..persistence._models import _walk

    served = copy.deepcopy(estimator)
    for est in _walk(served):
        if "n_threads" in est.get_params(deep=False):
            est.set_params(n_threads=n_threads)
    return served


def _load(model, allow_pickle, model_dir):
    if isinstance(model, (str, Path)):
        from ..persistence import load_model

        return load_model(model, allow_pickle=allow_pickle, model_dir=model_dir)
    return model, {}


class DemoPredictor:
    """Everything the web demo reports about one photograph.

    Parameters
    ----------
    model : path or fitted classifier
        A model file written by :func:`~dermfeat.persistence.save_model` (for
        instance by ``dermfeat fit``) or a fitted classifier whose
        ``predict_proba`` takes images.
    metadata : dict, optional
        The saved model's metadata; read from the file when ``model`` is a path.
        Its ``threshold``, ``threshold_objective``, ``constraint`` and
        ``pos_label`` describe the decision rule; missing values are taken from
        the fitted :class:`~dermfeat.model_selection.ThresholdTunedClassifier`.
        Its ``validation`` (written by ``dermfeat fit --validate`` or
        :func:`dermfeat.evaluation.validate`) is shown beside every decision.
    severity_model : path or fitted classifier, optional
        A separate severity model: it must contain an
        :class:`~dermfeat.ordinal.OrdinalClassifier` or have been saved with the
        metadata ``severity_head: true``.  Without one nothing is said about
        severity: it is never derived from the class probability.
    max_pixels : int, default=DEFAULT_MAX_PIXELS
        Images with more pixels are refused before decoding.
    allow_pickle : bool, default=False
        Allow pickle model files (only your own).
    model_dir : path-like, optional
        Where the embedding model files are, if moved.

    Attributes
    ----------
    model_ : estimator
    metadata_ : dict
    info_ : dict
        The decision rule and model description shown on the page.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.serve import DemoPredictor
    >>> data = make_lesion_images(40, image_size=64, random_state=0)
    >>> clf = make_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000))
    >>> clf = clf.fit(data.images, data.labels)
    >>> result = DemoPredictor(clf).predict(data.images[0])
    >>> result["class"] in ("atopic_dermatitis", "eczema"), 0 <= result["probability"] <= 1
    (True, True)
    >>> sorted(result["skin_tone"]), "severity" in result
    (['category', 'ita', 'reliable'], False)
    """

    def __init__(self, model, *, metadata=None, severity_model=None, max_pixels=DEFAULT_MAX_PIXELS,
                 allow_pickle=False, model_dir=None):
        from ..features import QualityFeatures, SkinToneFeatures

        self.model_, loaded = _load(model, allow_pickle, model_dir)
        self.metadata_ = dict(loaded if metadata is None else metadata)
        if not hasattr(self.model_, "predict_proba") or getattr(self.model_, "classes_", None) is None:
            raise ValueError("the web demo needs a fitted classifier with predict_proba and classes_")
        self.max_pixels = int(max_pixels)
        self.severity_model_ = None
        if severity_model is not None:
            from ..ordinal import OrdinalClassifier

            sev, sev_meta = _load(severity_model, allow_pickle, model_dir)
            if not (sev_meta.get("severity_head") or _contains(sev, OrdinalClassifier)):
                raise ValueError(
                    "the severity model must contain an OrdinalClassifier (or be saved with the metadata "
                    "severity_head=True); a type classifier's probability is not a severity"
                )
            self.severity_model_ = sev
        self._quality = QualityFeatures().fit()
        self._tone = SkinToneFeatures().fit()
        # Requests run side by side (no lock): each on one core, on its own copy of
        # nothing but the execution settings (see serving_copy).
        self._served = serving_copy(self.model_)
        self._served_severity = None if self.severity_model_ is None else serving_copy(self.severity_model_)
        self.info_ = self._describe()

    def _describe(self):
        meta, final = self.metadata_, _final_step(self.model_)
        classes = [str(c) for c in self.model_.classes_]
        threshold = meta.get("threshold", getattr(final, "best_threshold_", None))
        objective = meta.get("threshold_objective")
        if objective is None and hasattr(final, "best_threshold_"):
            objective = getattr(final, "objective", None)
        constraint = meta.get("constraint", getattr(final, "constraint", None) if hasattr(final, "best_threshold_") else None)
        pos = meta.get("pos_label", getattr(final, "pos_label_", getattr(final, "pos_label", None)))
        pos = str(pos) if pos is not None and str(pos) in classes else classes[-1]
        binary = len(classes) == 2
        if threshold is not None and binary:
            threshold = float(threshold)
            what = _OBJECTIVE_NAMES.get(str(objective), str(objective)) if objective not in (None, "fixed") else None
            rule = f"{_label(pos)} when its probability is at least {threshold:.3f}"
            if what:
                tuned = f"threshold tuned by cross-validation on the training images for {what}"
                if constraint:
                    tuned += f" subject to {constraint}"
                n = meta.get("n_training_images")
                rule += f" ({tuned}{f', {n} images' if n else ''})"
            else:
                rule += " (fixed threshold)"
        else:
            threshold = None
            rule = "the most probable class" + (" (threshold 0.5, not tuned)" if binary else "")
        return {
            "classes": classes,
            "positive_class": pos,
            "threshold": threshold,
            "objective": None if objective is None else str(objective),
            "constraint": None if constraint is None else str(constraint),
            "decision_rule": rule,
            "features": meta.get("features"),
            "head": meta.get("head"),
            "n_training_images": meta.get("n_training_images"),
            "dermfeat_version": meta.get("dermfeat_version"),
            "saved": meta.get("saved"),
            "severity": self.severity_model_ is not None,
            "view": what_the_model_sees(self.model_),
            **_validation_info(meta.get("validation")),
        }

    def decode(self, data, *, name="upload"):
        """Decode an upload (bytes or array) to RGB, refusing what cannot be analysed.

        Raises
        ------
        InvalidImageError
            Not an image, truncated, over ``max_pixels`` or smaller than
            :data:`MIN_SIDE` pixels on its shorter side.
        """
        from ..io import read_image

        image = read_image(data, max_pixels=self.max_pixels, name=name)
        h, w = image.shape[:2]
        if min(h, w) < MIN_SIDE:
            raise InvalidImageError(name, f"image of {w}x{h} pixels is too small to analyse (at least {MIN_SIDE} px a side)")
        return image

    def predict(self, data, *, name="upload", heatmap=False):
        """Analyse one photograph.

        Parameters
        ----------
        data : bytes or ndarray
            The encoded file (JPEG, PNG, WebP, HEIC with ``pillow-heif``) or an
            RGB array.
        name : str, default="upload"
            Name used in error messages.
        heatmap : bool, default=False
            Also compute the occlusion heat map of the predicted class
            (:func:`~dermfeat.explain.occlusion_sensitivity` with
            :data:`HEATMAP_OCCLUSION`: about 35 occluded copies, in batches
            spread over the cores).

        Returns
        -------
        result : dict
            ``class``, ``probability`` (of that class), ``positive_class``,
            ``positive_probability``, ``probabilities`` (per class),
            ``threshold``, ``objective``, ``constraint``, ``decision_rule``,
            ``validation`` (one line: the cross-validated sensitivity and
            specificity stored with the model, or that it has none) and
            ``validated``, ``quality_warnings``, ``quality`` (the raw features),
            ``skin_tone`` (``ita``, ``category``, ``reliable``), ``width``,
            ``height``, ``seconds``, ``disclaimer``, ``in_distribution`` and
            ``prediction_set`` (None unless the model has them,
            :func:`~dermfeat.uncertainty.add_uncertainty`), ``subtypes`` (the
            :data:`TOP_SUBTYPES` most likely subtypes as ``subtype`` and
            ``probability``, most likely first; None unless the model was
            fitted on subtypes, and for a photograph the guard does not
            recognise); with ``heatmap``: ``heatmap``
            (PNG data URL of the overlay), ``image`` (JPEG data URL of the
            analysed photo), ``heatmap_target``, ``heatmap_evaluations`` and
            ``heatmap_max_drop`` (the drop of the probability the hottest colour
            stands for: the colour scale); with a severity model:
            ``severity``.

        Raises
        ------
        InvalidImageError
            See :meth:`decode`.
        """
        from ..base._threads import opencv_single_threaded
        from ..decision import top_subtypes
        from ..uncertainty import predict_with_uncertainty, set_labels

        start = time.perf_counter()
        image = self.decode(data, name=name)
        h, w = image.shape[:2]
        info = self.info_
        # each request keeps to one core: OpenCV's own pool would only compete with the other requests
        with opencv_single_threaded():
            # features once: probabilities, class, and the guard's and the prediction set's answers if any
            answer = predict_with_uncertainty(self._served, [image])
            quality = self._quality.transform([image])[0]
            tone = self._tone.transform([image])[0]
            severity = self._severity(image) if self._served_severity is not None else None
            heat = self._heatmap(image, answer.pred[0]) if heatmap else None
        classes = info["classes"]
        probabilities = {c: float(p) for c, p in zip(classes, answer.proba[0])}
        label = str(answer.pred[0])
        q = dict(zip(self._quality.get_feature_names_out(), quality.tolist()))
        t = dict(zip(self._tone.get_feature_names_out(), tone.tolist()))
        from ..features import ita_category

        result = {
            "class": label,
            "probability": round(probabilities[label], 4),
            "positive_class": info["positive_class"],
            "positive_probability": round(probabilities[info["positive_class"]], 4),
            "probabilities": {c: round(p, 4) for c, p in probabilities.items()},
            "threshold": None if info["threshold"] is None else round(info["threshold"], 4),
            "objective": info["objective"],
            "constraint": info["constraint"],
            "decision_rule": info["decision_rule"],
            "validation": info["validation_summary"],
            "validated": info["validation"] is not None,
            "quality_warnings": quality_warnings(q),
            "quality": {k: _finite(v, 5) for k, v in q.items()},
            "skin_tone": {
                "ita": _finite(t["ita_median"], 1),
                "category": ita_category(t["ita_median"]),
                "reliable": bool(t["skin_mask_used"]),
            },
            "width": int(w),
            "height": int(h),
            "disclaimer": NOT_A_DIAGNOSIS,
            # dermfeat.uncertainty (None when the model has no guard / no prediction sets)
            "in_distribution": None if answer.in_distribution is None else bool(answer.in_distribution[0]),
            "prediction_set": None if answer.prediction_set is None else set_labels(answer.prediction_set[0], classes),
            # dermfeat.decision.HierarchicalClassifier (None when the model was not fitted on subtypes)
            # (none either for a photograph the guard does not recognise: it gets no class, so no subtype)
            "subtypes": None if answer.subtype_proba is None or answer.in_distribution is not None and not bool(
                answer.in_distribution[0]) else [
                {"subtype": name, "probability": round(p, 4)}
                for name, p in top_subtypes(answer.subtype_classes, answer.subtype_proba, TOP_SUBTYPES)[0]],
        }
        if severity is not None:
            result["severity"] = severity
        if heat is not None:
            result.update(heat)
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result

    def _severity(self, image):
        from ..explain import predict_image

        prediction = predict_image(self._served_severity, image)
        levels, level = [str(c) for c in prediction.classes], str(prediction.label)
        return {"level": level, "probability": round(prediction.probability(), 4),
                "probabilities": {c: round(float(p), 4) for c, p in zip(levels, prediction.probabilities)}}

    def _heatmap(self, image, target):
        from ..explain import occlusion_sensitivity

        h, w = image.shape[:2]
        if max(h, w) > DISPLAY_SIZE:
            scale = DISPLAY_SIZE / max(h, w)
            image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        # the occluded copies in batches, one batch per core at a time
        result = occlusion_sensitivity(self._served, image, target=target, n_jobs=os.cpu_count() or 1,
                                       batch_size=32, **HEATMAP_OCCLUSION)
        return {
            "heatmap": _data_url(result.overlay(), "png"),
            # the colour scale: from no drop (0) to this drop of the probability (the hottest colour)
            "heatmap_max_drop": round(max(0.0, float(np.max(result.heatmap))), 4),
            "image": _data_url(image, "jpeg"),
            "heatmap_target": str(result.target),
            "heatmap_evaluations": int(result.n_evaluations),
        }


def error_status(exc):
    """HTTP status and error code for an :class:`~dermfeat.InvalidImageError`.

    Examples
    --------
    >>> from dermfeat import InvalidImageError
    >>> from dermfeat.serve._predictor import error_status
    >>> error_status(InvalidImageError("a.jpg", "not a recognised image format (starts with b'hello')"))
    (415, 'not_an_image')
    """
    reason = exc.reason
    if "over the limit" in reason or "too many pixels" in reason or "decompression bomb" in reason:
        return 413, "too_many_pixels"
    if reason.startswith(("not a recognised image format", "HEIC/HEIF", "file is empty")):
        return 415, "not_an_image"
    return 422, "unreadable_image"
