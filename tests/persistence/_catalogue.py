"""Every kind of model dermfeat can build, fitted on small synthetic data.

Used to check that each one saves and loads back *without* ``trusted=`` (so the
allow-list of :mod:`dermfeat.persistence` covers it) and to derive that list.
Recipes are enumerated from the package's own tables (``HEADS``, ``IMBALANCE``,
``HANDCRAFTED``, ``SAMPLERS``), so a new head, sampler or feature family is
covered without editing this file.
"""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.datasets import make_lesion_images
from dermfeat.decision import HierarchicalClassifier
from dermfeat.features import ColorFeatures, HandcraftedFeatures, OnnxEmbedder
from dermfeat.features._onnx_tiny import tiny_onnx_model_bytes
from dermfeat.model_selection import (
    Constraint,
    CostSensitiveClassifier,
    RepeatedStratifiedGroupKFold,
    ThresholdTunedClassifier,
)
from dermfeat.ordinal import MultiSignOrdinalClassifier, OrdinalClassifier
from dermfeat.pipeline import (
    SAMPLERS,
    ResampledClassifier,
    make_classifier,
    make_fusion_pipeline,
    make_head,
    make_image_pipeline,
)
from dermfeat.pipeline._recipes import HANDCRAFTED, HEADS, IMBALANCE
from dermfeat.preprocessing import ColorConstancy, LesionCrop
from dermfeat.uncertainty import OutOfDistributionDetector, add_uncertainty


def lesion_data(n=40, image_size=48):
    return make_lesion_images(n, image_size=image_size, positive_fraction=0.3, random_state=3)


def onnx_model(folder):
    path = folder / "tiny.onnx"
    if not path.is_file():
        path.write_bytes(tiny_onnx_model_bytes(n_features=6))
    return path


def _embedder(folder, **params):
    return OnnxEmbedder(model=str(onnx_model(folder)), resize_short_side=32, center_crop=32,
                        mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), **params)


def _small_handcrafted():
    return HandcraftedFeatures(**HandcraftedFeatures._get_test_params()[0])


def _colour():
    return ColorFeatures(image_size=32)


def _lr():
    return LogisticRegression(max_iter=500)


def _quick(pipe):
    """Fewer boosting iterations: the same types, a fraction of the time."""
    for key, value in list(pipe.get_params().items()):
        if isinstance(value, HistGradientBoostingClassifier):
            pipe.set_params(**{f"{key}__max_iter": 5})
    return pipe


def recipes(folder):
    """``{name: (unfitted estimator, input kind)}``.

    Input kinds (see :func:`fit`): ``"images"`` (binary labels), ``"severity"``
    (images, four ordered levels), ``"signs"`` (images, three ordinal signs),
    ``"frame"`` (a DataFrame of images and clinical columns), ``"lowdim"`` (three
    numeric features, where imbalanced-learn's samplers use a KD-tree),
    ``"grouped"`` (the same with patient groups passed to ``fit``).
    Feature extractors share one cache folder, so each image is featurised once
    per extractor setting.
    """
    cache = str(folder / "cache")
    out = {}

    def classifier(*args, **kwargs):
        return _quick(make_classifier(*args, memory=cache, **kwargs))

    for family in HANDCRAFTED:
        out[f"classifier/features={family}"] = (classifier(family), "images")
    for head in HEADS:
        out[f"classifier/head={head}"] = (classifier("color", head, imbalance="none"), "images")
        out[f"image_pipeline/multiclass/head={head}"] = (
            _quick(make_image_pipeline(_colour(), make_head(head))), "severity")
    for imbalance in IMBALANCE:
        out[f"classifier/imbalance={imbalance}"] = (classifier("color", imbalance=imbalance), "images")
    for threshold in ("macro_f1", "balanced_accuracy", "specificity", "matthews_corrcoef"):
        out[f"classifier/threshold={threshold}"] = (classifier("color", threshold=threshold, inner_cv=3), "images")
    out["classifier/constraint>="] = (
        classifier("color", threshold="specificity", constraint="sensitivity>=0.5", inner_cv=3), "images")
    out["classifier/constraint<="] = (
        classifier("color", threshold="macro_f1", constraint="positive_rate<=0.9", inner_cv=3), "images")
    out["classifier/late_fusion"] = (
        classifier("color+quality", "svm", fusion="late", threshold="macro_f1", inner_cv=3), "images")
    out["classifier/early_fusion+crop+constancy"] = (
        classifier("color+redness", "mlp", imbalance="smote", lesion_crop=True, color_constancy=True), "images")
    for head in HEADS:
        if head != "mlp":  # the mlp head's early stopping needs more images than these
            out[f"image_pipeline/onnx/head={head}"] = (
                _quick(make_image_pipeline(_embedder(folder), make_head(head), threshold="balanced_accuracy",
                                           pos_label="atopic_dermatitis", cv=3)), "images")
    out["image_pipeline/onnx-tta+handcrafted/oversample"] = (
        make_image_pipeline([_embedder(folder, tta_flip=True, tta_crops=5), _small_handcrafted()], _lr(),
                            sampler="random_over", random_state=0), "images")
    for sampler in SAMPLERS:
        out[f"resampled/{sampler}"] = (ResampledClassifier(_lr(), sampler=sampler, random_state=0), "lowdim")
    out["threshold/constraint-objects+group-cv"] = (
        make_pipeline(_colour(), StandardScaler(), ThresholdTunedClassifier(
            _lr(), objective="macro_f1", pos_label="atopic_dermatitis",
            constraint=[Constraint("sensitivity", minimum=0.3), ("specificity", 0.2)],
            cv=RepeatedStratifiedGroupKFold(n_splits=3, n_repeats=2, random_state=0))), "images")
    out["threshold/scorer-name+sklearn-cv"] = (
        make_pipeline(_colour(), StandardScaler(), ThresholdTunedClassifier(
            _lr(), objective="matthews_corrcoef", pos_label="atopic_dermatitis",
            cv=StratifiedKFold(n_splits=3, shuffle=True, random_state=0))), "images")
    out["threshold/grouped-cv"] = (
        ThresholdTunedClassifier(_lr(), objective="macro_f1", pos_label="atopic_dermatitis",
                                 cv=StratifiedGroupKFold(n_splits=3)), "grouped")
    out["threshold/cost-matrix"] = (
        make_pipeline(_colour(), StandardScaler(), ThresholdTunedClassifier(
            _lr(), pos_label="atopic_dermatitis", cost_matrix=[[0, 1], [5, 0]], tune=False)), "images")
    out["threshold/multiclass-offsets"] = (
        make_pipeline(_colour(), StandardScaler(), ThresholdTunedClassifier(_lr(), objective="macro_f1", cv=3)),
        "severity")
    out["cost_sensitive/binary"] = (
        make_pipeline(_colour(), StandardScaler(), CostSensitiveClassifier(_lr(), cost_matrix=[[0, 1], [4, 0]])),
        "images")
    out["cost_sensitive/ordinal"] = (
        make_pipeline(_colour(), StandardScaler(), CostSensitiveClassifier(_lr(), cost_matrix="absolute")),
        "severity")
    out["hierarchical/threshold"] = (
        make_pipeline(_colour(), StandardScaler(), ThresholdTunedClassifier(
            HierarchicalClassifier(_lr()), objective="macro_f1", pos_label="atopic_dermatitis", cv=3)), "subtypes")
    out["ordinal"] = (make_pipeline(_colour(), StandardScaler(), OrdinalClassifier(_lr())), "severity")
    out["ordinal/min_expected_cost"] = (
        make_pipeline(_colour(), StandardScaler(),
                      OrdinalClassifier(_lr(), decision="min_expected_cost", monotonic="cummin")), "severity")
    out["multi_sign_ordinal"] = (
        make_pipeline(_colour(), StandardScaler(), MultiSignOrdinalClassifier(_lr())), "signs")
    out["preprocessing/color_constancy"] = (ColorConstancy(), "images")
    out["preprocessing/lesion_crop"] = (LesionCrop(), "images")
    out["features/handcrafted"] = (HandcraftedFeatures(memory=cache), "images")
    out["features/onnx"] = (_embedder(folder), "images")
    out["fusion/images+metadata"] = (
        make_fusion_pipeline("color", numeric=["age"], categorical=["site"], memory=cache), "frame")
    out["fusion/metadata-only/gb"] = (
        _quick(make_fusion_pipeline(None, numeric=["age"], categorical=["site"], head=make_head("gb"))), "frame")
    out["uncertainty/cross+tuned"] = (
        add_uncertainty(classifier("color", threshold="macro_f1", inner_cv=3), cv=3), "images")
    out["uncertainty/split+mondrian+mahalanobis"] = (
        add_uncertainty(make_image_pipeline(_colour(), _lr()), method="split", class_conditional=True,
                        detector=OutOfDistributionDetector(method="mahalanobis", normalize="standard", cv=3)),
        "images")
    return out


def fit(estimator, kind, data):
    """Fit ``estimator`` on the synthetic data; return it and an input to predict on."""
    X, y = data.images, data.labels
    rng = np.random.default_rng(0)
    if kind == "frame":
        import pandas as pd

        X = pd.DataFrame({"image": list(data.images), "age": rng.integers(1, 80, len(y)).astype(float),
                          "site": rng.choice(["face", "flexure", "trunk"], len(y))})
    elif kind == "severity":
        y = data.severity
    elif kind == "signs":
        y = np.minimum(data.signs[:, :3], 2)
    elif kind in ("lowdim", "grouped"):
        X = rng.normal(size=(len(y), 3))
    if kind == "grouped":
        estimator.fit(X, y, groups=data.groups)
    elif kind == "subtypes":  # two made-up subtypes per class, from the severity's parity
        fine = np.array([f"{label}/{level % 2}" for label, level in zip(y, data.severity)], dtype=object)
        estimator.fit(X, y, thresholdtunedclassifier__fine_labels=fine)
    else:
        estimator.fit(X, y)
    return estimator, X
