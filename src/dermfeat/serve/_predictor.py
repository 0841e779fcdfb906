"""What the web demo says about one photograph, without any web framework.

:class:`DemoPredictor` turns the bytes of an upload into a JSON-ready dict: the
decision, the probability, the threshold and what it was tuned for, image-quality
warnings, the skin-tone group, an occlusion heat map and, only when a severity
model was supplied, a severity level.  :mod:`dermfeat.serve._app` wraps it in
FastAPI; the CLI and the tests can use it directly.
"""

from __future__ import annotations

import base64
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from .._exceptions import InvalidImageError

#: Largest upload accepted, in bytes (20 MiB): a 12-megapixel phone JPEG is
#: 3-8 MB and a HEIC 1-4 MB.  Enforced before any decoding.
DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024

#: Largest image accepted, in pixels (50 megapixels, e.g. a 48 MP phone photo):
#: checked from the header before the pixels are decoded.
DEFAULT_MAX_PIXELS = 50_000_000

#: Images whose shorter side is below this many pixels are refused.
MIN_SIDE = 32

#: Longest side of the image the heat map is computed on and shown at.
DISPLAY_SIZE = 640

#: Thresholds of the image-quality warnings, on the features of
#: :class:`~dermfeat.features.QualityFeatures` at its default working size
#: (shorter side 256 px).  They were set on the 596 DermNet NZ photographs, of
#: which each warning fires on 1-4 %, and on degraded copies of them:
#:
#: ``blur_max`` (0.002)
#:     ``blur_laplacian_var`` below it: "blurred".  About the 1.5th percentile of
#:     DermNet NZ (10th percentile 0.0035, median 0.0068); a Gaussian blur of
#:     sigma 2 px takes a typical photograph to about 0.0004.
#: ``dark_brightness`` (0.25), ``dark_fraction`` (0.5)
#:     Mean luma below 0.25, or half the pixels crushed to black: "too dark".
#:     (A tenth of DermNet NZ photographs have a black background covering more
#:     than 10 % of the frame, so the fraction alone must be large.)
#: ``bright_brightness`` (0.85), ``bright_fraction`` (0.25)
#:     Mean luma at or above 0.85, or a quarter of the pixels with a blown
#:     channel: "overexposed".
#: ``cast_strength`` (0.8), ``cast_rg_min`` (-0.1), ``cast_bg_max`` (0.35)
#:     Grey-world cast far from what skin gives (skin alone makes ``cast_rg``
#:     about 0.3): a strong overall cast, green (red below green) or blue
#:     (blue above green by more than 40 %): "colour cast".  A coloured drape
#:     behind the skin triggers it too.
QUALITY_THRESHOLDS = {
    "blur_max": 0.002,
    "dark_brightness": 0.25,
    "dark_fraction": 0.5,
    "bright_brightness": 0.85,
    "bright_fraction": 0.25,
    "cast_strength": 0.8,
    "cast_rg_min": -0.1,
    "cast_bg_max": 0.35,
}

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


def quality_warnings(features, thresholds=None):
    """Image-quality warnings from the features of :class:`~dermfeat.features.QualityFeatures`.

    Parameters
    ----------
    features : dict
        Feature name -> value for one image (``blur_laplacian_var``,
        ``brightness``, ``dark_fraction``, ``bright_fraction``, ``cast_rg``,
        ``cast_bg``, ``cast_strength``).
    thresholds : dict, optional
        Overrides of :data:`QUALITY_THRESHOLDS`.

    Returns
    -------
    warnings : list of dict
        ``{"code", "message"}`` per warning, codes ``"blurred"``,
        ``"too_dark"``, ``"overexposed"`` and ``"colour_cast"``; empty when the
        photograph looks fine.

    Examples
    --------
    >>> from dermfeat.serve import quality_warnings
    >>> ok = {"blur_laplacian_var": 0.007, "brightness": 0.5, "dark_fraction": 0.0,
    ...       "bright_fraction": 0.0, "cast_rg": 0.3, "cast_bg": -0.1, "cast_strength": 0.32}
    >>> quality_warnings(ok)
    []
    >>> [w["code"] for w in quality_warnings({**ok, "blur_laplacian_var": 0.0004, "brightness": 0.15})]
    ['blurred', 'too_dark']
    """
    t = {**QUALITY_THRESHOLDS, **(thresholds or {})}
    f = {k: float(v) for k, v in features.items()}
    out = []
    if f["blur_laplacian_var"] < t["blur_max"]:
        out.append({"code": "blurred", "message": (
            f"The photo looks blurred or has very little fine detail (sharpness {f['blur_laplacian_var']:.4f}, "
            f"warning below {t['blur_max']}). Texture features are unreliable; retake it in focus if you can.")})
    if f["brightness"] < t["dark_brightness"] or f["dark_fraction"] >= t["dark_fraction"]:
        out.append({"code": "too_dark", "message": (
            f"The photo is too dark (mean brightness {f['brightness']:.2f}, {f['dark_fraction']:.0%} of pixels "
            "black). Retake it in better light.")})
    if f["brightness"] >= t["bright_brightness"] or f["bright_fraction"] >= t["bright_fraction"]:
        out.append({"code": "overexposed", "message": (
            f"The photo is overexposed (mean brightness {f['brightness']:.2f}, {f['bright_fraction']:.0%} of pixels "
            "clipped white). Redness and texture are washed out; avoid direct flash.")})
    if f["cast_strength"] > t["cast_strength"] or f["cast_rg"] < t["cast_rg_min"] or f["cast_bg"] > t["cast_bg_max"]:
        out.append({"code": "colour_cast", "message": (
            "The photo has a strong colour cast (or a coloured background fills much of it): colour-based "
            "features, redness and the skin-tone estimate may be off. Use neutral light and background.")})
    return out


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
        self._lock = threading.Lock()
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
            (:func:`~dermfeat.explain.occlusion_sensitivity`, about 80 more
            evaluations of the model).

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
            :func:`~dermfeat.uncertainty.add_uncertainty`); with ``heatmap``: ``heatmap``
            (PNG data URL of the overlay), ``image`` (JPEG data URL of the
            analysed photo) and ``heatmap_target``; with a severity model:
            ``severity``.

        Raises
        ------
        InvalidImageError
            See :meth:`decode`.
        """
        start = time.perf_counter()
        image = self.decode(data, name=name)
        h, w = image.shape[:2]
        info = self.info_
        with self._lock:
            from ..uncertainty import predict_with_uncertainty, set_labels

            answer = predict_with_uncertainty(self.model_, [image])  # one pass; the guard and sets if any
            proba, predicted = answer.proba[0], answer.pred[0]
            quality = self._quality.transform([image])[0]
            tone = self._tone.transform([image])[0]
            severity = self._severity(image) if self.severity_model_ is not None else None
            heat = self._heatmap(image, predicted) if heatmap else None
        classes = info["classes"]
        probabilities = {c: float(p) for c, p in zip(classes, proba)}
        label = str(predicted)
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
        }
        if severity is not None:
            result["severity"] = severity
        if heat is not None:
            result.update(heat)
        result["seconds"] = round(time.perf_counter() - start, 3)
        return result

    def _severity(self, image):
        sev = self.severity_model_
        proba = sev.predict_proba([image])[0]
        levels = [str(c) for c in sev.classes_]
        level = str(sev.predict([image])[0])
        return {"level": level, "probability": round(float(proba[levels.index(level)]), 4),
                "probabilities": {c: round(float(p), 4) for c, p in zip(levels, proba)}}

    def _heatmap(self, image, target):
        from ..explain import occlusion_sensitivity

        h, w = image.shape[:2]
        if max(h, w) > DISPLAY_SIZE:
            scale = DISPLAY_SIZE / max(h, w)
            image = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
        result = occlusion_sensitivity(self.model_, image, target=target)
        return {
            "heatmap": _data_url(result.overlay(), "png"),
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
