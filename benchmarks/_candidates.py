"""The pipelines bench_accuracy.py compares: one-factor sweeps around a centre, and the baseline."""

#: The centre of the one-factor sweeps (the best pipeline of the first benchmark).
BEST = dict(
    features="efficientnet+dinov2",
    fusion="late",
    head="svm",
    imbalance="balanced",
    threshold="macro_f1",
    tta={"efficientnet": True, "dinov2": "flip"},
)

#: The plain baseline the selection procedure must beat.
BASELINE = ("EfficientNet-Lite0 + logistic regression (class weights), threshold tuned for macro-F1",
            dict(features="efficientnet", head="logistic", imbalance="balanced", threshold="macro_f1", tta=False))

#: (section, label, changes to BEST): every binary row, also the candidates of the nested section.
ROWS = [
    ("Feature sets", "handcrafted bank (217 features)", dict(features="handcrafted", tta=False)),
    ("Feature sets", "EfficientNet-Lite0 embedding", dict(features="efficientnet", tta=False)),
    ("Feature sets", "DINOv2 CLS token", dict(features="dinov2", tta=False)),
    ("Feature sets", "DINOv2 patch mean", dict(features="dinov2_patch", tta=False)),
    ("Feature sets", "EfficientNet + DINOv2 CLS, early fusion (concatenated)", dict(fusion="early", tta=False)),
    ("Feature sets", "EfficientNet + DINOv2 CLS, late fusion", dict(tta=False)),
    ("Feature sets", "EfficientNet + DINOv2 CLS + patch mean, late fusion",
     dict(features="efficientnet+dinov2+dinov2_patch",
          tta={"efficientnet": True, "dinov2": "flip", "dinov2_patch": "flip"})),
    ("Feature sets", "EfficientNet + DINOv2 CLS + handcrafted, late fusion, TTA",
     dict(features="efficientnet+dinov2+handcrafted")),
    ("Feature sets", "**best**: EfficientNet + DINOv2 CLS, late fusion, TTA", {}),
    ("Feature sets", "best + lesion crop", dict(lesion_crop=True)),
    ("Feature sets", "best + colour constancy (shades of grey)", dict(color_constancy=True)),
    ("Heads (best features)", "logistic regression (C=0.1)", dict(head="logistic")),
    ("Heads (best features)", "MLP, one hidden layer of 128, early stopping (oversampled)",
     dict(head="mlp", imbalance="oversample")),
    ("Heads (best features)", "gradient boosting (histogram)", dict(head="gb")),
    ("Imbalance (best pipeline)", "none", dict(imbalance="none")),
    ("Imbalance (best pipeline)", "random over-sampling", dict(imbalance="oversample")),
    ("Imbalance (best pipeline)", "SMOTE (on features)", dict(imbalance="smote")),
    ("Decision (best pipeline)", "threshold 0.5", dict(threshold="fixed")),
    ("Decision (best pipeline)", "best specificity with AD sensitivity >= 0.8",
     dict(threshold="specificity", constraint="sensitivity>=0.8")),
]
#: (label, features, the float32 row it is paired with or None): the backbone comparison (int8 against
#: float32, EfficientNet-Lite2 against Lite0), each with the baseline's head and decision, so that
#: differences are the backbone's alone.
BACKBONES = [
    ("EfficientNet-Lite0 float32", "efficientnet", None),
    ("EfficientNet-Lite0 int8 (static)", "efficientnet_int8", "EfficientNet-Lite0 float32"),
    ("EfficientNet-Lite2 float32", "efficientnet_lite2", "EfficientNet-Lite0 float32"),
    ("DINOv2-S CLS float32", "dinov2", None),
    ("DINOv2-S CLS int8 (dynamic)", "dinov2_int8", "DINOv2-S CLS float32"),
]

SECTION_KEYS = {"features": "Feature sets", "heads": "Heads (best features)",
                "imbalance": "Imbalance (best pipeline)", "decisions": "Decision (best pipeline)"}


def short_name(label):
    """A row's label with its section where the label alone is ambiguous ("none" -> "imbalance: none")."""
    for section, row_label, _ in ROWS:
        if row_label == label and not section.startswith("Feature"):
            return f"{section.split(' (')[0].lower()}: {label}"
    return label


#: (label, make_classifier parameters): the options for new photographs, each with the baseline's head and
#: decision unless its label says otherwise, beside the baseline and the previous best; also the candidates
#: of the nested selection of the "Better features" section.  ``subtypes``: the head is trained on the
#: manifest's subtypes and decides from their summed probabilities.
_BASE = BASELINE[1]
OPTIONS = [
    ("baseline: EfficientNet-Lite0, centre crop", _BASE),
    ("previous best: Lite0 (TTA) + DINOv2 CLS (flip), late fusion, SVM", BEST),
    ("EfficientNet-Lite0, whole photograph", {**_BASE, "view": "whole"}),
    ("EfficientNet-Lite2, centre crop", {**_BASE, "features": "efficientnet_lite2"}),
    ("EfficientNet-Lite2, whole photograph", {**_BASE, "features": "efficientnet_lite2", "view": "whole"}),
    ("EfficientNet-Lite2, centre crop, subtype head", {**_BASE, "features": "efficientnet_lite2", "subtypes": True}),
    ("DINOv2 CLS, centre crop", {**_BASE, "features": "dinov2"}),
    ("DINOv2 CLS, whole photograph", {**_BASE, "features": "dinov2", "view": "whole"}),
    ("DINOv2 GeM of patch tokens, centre crop", {**_BASE, "features": "dinov2_gem"}),
    ("DINOv2 patch tokens pooled in the lesion, centre crop", {**_BASE, "features": "dinov2_lesion"}),
    ("DINOv2 CLS at 336 px, centre crop", {**_BASE, "features": "dinov2_336"}),
    ("Lite0 + DINOv2 CLS, whole photograph, late fusion",
     {**_BASE, "features": "efficientnet+dinov2", "fusion": "late", "view": "whole"}),
    ("Lite2 + DINOv2 CLS, whole photograph, late fusion",
     {**_BASE, "features": "efficientnet_lite2+dinov2", "fusion": "late", "view": "whole"}),
    ("Lite2 + DINOv2 CLS, centre crop, late fusion, subtype head",
     {**_BASE, "features": "efficientnet_lite2+dinov2", "fusion": "late", "subtypes": True}),
    ("Lite0 + Lite2 + DINOv2 CLS + DINOv2 GeM, centre crop, late fusion",
     {**_BASE, "features": "efficientnet+efficientnet_lite2+dinov2+dinov2_gem", "fusion": "late"}),
    # added after the rows above were measured (the nested selection below compares all of them)
    ("EfficientNet-Lite0, whole photograph, subtype head", {**_BASE, "view": "whole", "subtypes": True}),
    ("Lite0 (whole) + Lite2 + DINOv2 CLS, late fusion, subtype head",
     {**_BASE, "features": "efficientnet+efficientnet_lite2+dinov2", "fusion": "late",
      "view": {"efficientnet": "whole"}, "subtypes": True}),
]

#: Named recipe of dermfeat.pipeline.RECIPES -> the OPTIONS row it is (tests/pipeline/test_named.py checks it).
RECIPE_ROWS = {"subtype-ensemble": "Lite0 (whole) + Lite2 + DINOv2 CLS, late fusion, subtype head"}
