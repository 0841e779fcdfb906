"""Named recipes: the settings of :func:`~dermfeat.pipeline.make_classifier` that a benchmark chose, by name."""

from __future__ import annotations

#: Recipe name -> the :func:`~dermfeat.pipeline.make_classifier` settings it fixes.  Each is a
#: row of ``benchmarks/RESULTS.md`` ("Better features for new photographs"), where its
#: figures, and the nested estimate of choosing it among the others, are reported.
RECIPES = {
    # EfficientNet-Lite0 embeddings, logistic regression with class weights, threshold tuned for macro-F1
    "baseline": dict(features="efficientnet", head="logistic", imbalance="balanced", threshold="macro_f1"),
    # EfficientNet-Lite0 on the whole photograph, EfficientNet-Lite2 and DINOv2 CLS on the centre crop, one
    # logistic regression per backbone trained on the subtypes (rare ones merged), probabilities averaged,
    # threshold tuned for macro-F1 on the summed probability: the option the nested selection of
    # benchmarks/RESULTS.md picked most often (7 of 10 outer folds), and the best of its table
    "subtype-ensemble": dict(features="efficientnet+efficientnet_lite2+dinov2", head="logistic", imbalance="balanced",
                             threshold="macro_f1", fusion="late", view={"efficientnet": "whole"}, subtypes=True),
}

#: The settings a recipe may fix (the others, such as ``model_dir`` or ``memory``, stay the caller's).
RECIPE_SETTINGS = ("features", "head", "imbalance", "threshold", "constraint", "fusion", "lesion_crop",
                   "color_constancy", "tta", "view", "subtypes")


def recipe_settings(name, given, defaults):
    """``given`` (the caller's arguments) with the settings of recipe ``name``.

    A setting the caller changed from its default to something else than the
    recipe's is an error: a recipe is a whole, and a silently overridden part
    would no longer be what the benchmark measured.

    Parameters
    ----------
    name : str
        A key of :data:`RECIPES`.
    given, defaults : dict
        The caller's arguments and the function's defaults.

    Returns
    -------
    settings : dict

    Examples
    --------
    >>> from dermfeat.pipeline._named import recipe_settings
    >>> recipe_settings("baseline", {"features": "handcrafted", "memory": "cache"},
    ...                 {"features": "handcrafted", "memory": None})["features"]
    'efficientnet'
    """
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose from {', '.join(RECIPES)}")
    recipe = RECIPES[name]
    clash = [key for key, value in recipe.items()
             if key in given and given[key] != defaults.get(key) and given[key] != value]
    if clash:
        raise ValueError(f"recipe {name!r} sets {', '.join(clash)}: leave {'it' if len(clash) == 1 else 'them'} "
                         "out, or build the pipeline without a recipe")
    return {**given, **recipe}
