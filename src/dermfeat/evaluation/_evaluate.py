"""Leak-free cross-validated evaluation of an image classifier."""

from __future__ import annotations

import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone, is_classifier
from sklearn.pipeline import Pipeline
from sklearn.utils.parallel import Parallel, delayed

from .._exceptions import UnstableThresholdWarning
from .._progress import progress_bar, show_progress
from ..model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups
from ..uncertainty import decision_step, predict_with_uncertainty
from ..uncertainty._metrics import fold_set_metrics
from ._cross_val_predict import majority_over_repeats
from ._fit_params import _groups_param, _take
from ._metrics import fold_metrics
from ._report import EvaluationReport
from ._subgroups import image_subgroups
from ._subtypes import oof_subtypes

#: The positive class when it is among the labels and none is given.
DEFAULT_POS_LABEL = "atopic_dermatitis"


def _decision_threshold(estimator):
    """The decision threshold a fitted classifier uses, when it exposes one."""
    final = decision_step(estimator)
    for attr in ("best_threshold_", "threshold_"):
        value = getattr(final, attr, None)
        if isinstance(value, (int, float, np.floating)) and not isinstance(value, bool):
            return float(value)
    return None


def _decision_threshold_std(estimator):
    """Spread of the threshold across the inner folds of a fitted tuned decision, when it has one."""
    final = decision_step(estimator)
    value = getattr(final, "best_threshold_std_", None)
    return None if value is None else float(value)


def _fit_and_predict(estimator, X, y, train, test, fit_params):
    start = time.perf_counter()
    estimator.fit(_take(X, train), y[train], **fit_params)
    fit_time = time.perf_counter() - start
    # one pass through the extraction; prediction sets and the guard's flags when the model has them
    result = predict_with_uncertainty(estimator, _take(X, test))
    return {
        "proba": result.proba,
        "pred": result.pred,
        "sets": result.prediction_set,
        "in_distribution": result.in_distribution,
        "subtype_classes": result.subtype_classes,
        "subtype_proba": result.subtype_proba,
        "classes": np.asarray(estimator.classes_),
        "threshold": _decision_threshold(estimator),
        "threshold_std": _decision_threshold_std(estimator),
        "fit_time": fit_time,
        "score_time": time.perf_counter() - start - fit_time,
    }


def evaluate(
    estimator,
    X,
    y,
    *,
    groups="auto",
    cv=None,
    pos_label=None,
    subgroups="auto",
    fit_params=None,
    n_jobs=None,
    random_state=0,
    progress="auto",
):
    """Cross-validate a classifier without leakage and collect everything a study reports.

    Every fold fits a fresh clone of ``estimator`` on the training images only, so
    thresholds, early stopping and hyper-parameters chosen *inside* the estimator
    (e.g. :class:`~dermfeat.model_selection.ThresholdTunedClassifier` or a
    ``GridSearchCV``) never see the test fold.  By default the folds are a
    :class:`~dermfeat.model_selection.RepeatedStratifiedGroupKFold` (5 folds x 5
    repeats) whose groups are the near-duplicate groups of the photographs, so
    copies of one photograph never sit on both sides of a split.

    Parameters
    ----------
    estimator : classifier
        Unfitted; typically a :class:`~sklearn.pipeline.Pipeline` whose first step
        takes images.  Must implement ``predict``; ``predict_proba`` gives ROC AUC,
        Brier score, calibration and the threshold curve.
    X : images or array-like
        Paths, arrays, or anything the estimator takes, indexable by row.
    y : array-like of shape (n_samples,)
        Class labels.
    groups : "auto", array-like or None, default="auto"
        ``"auto"``: :func:`~dermfeat.model_selection.near_duplicate_groups` of
        ``X``.  An array: your groups (patients, say).  ``None``: no grouping.
        When the estimator's ``fit`` accepts ``groups`` (an
        :class:`~dermfeat.pipeline.ImagePipeline`, or the last step of a
        Pipeline), each fold's training groups are passed on, so inner
        cross-validation is grouped by the same groups (never recomputed per
        fold).
    cv : int, cross-validation splitter or None
        ``None``: ``RepeatedStratifiedGroupKFold(5, 5)``; an int ``k``: ``k`` folds,
        one repeat.  Splitters with ``n_repeats`` give repeat-aware out-of-fold
        predictions.
    pos_label : str or int, optional
        The positive class for binary metrics; default ``"atopic_dermatitis"`` when
        present, otherwise the last class.
    subgroups : "auto", dict, list of them, or None, default="auto"
        Variables to break the metrics down by.  ``"auto"`` (images only): skin
        tone (ITA category) and image-quality bins (blur, exposure) from
        :func:`image_subgroups`.  A dict maps a name to one label per sample
        (e.g. ``{"subtype": data["subtype"]}``).  A list merges its items:
        ``["auto", {"subtype": data["subtype"]}]`` gives skin tone, quality
        and subtype (what ``dermfeat cv`` shows when the manifest has a
        ``subtype`` column).
    fit_params : dict, optional
        Extra ``fit`` parameters (sample-aligned arrays are indexed per fold).
        With ``fine_labels`` (subtypes) and a model that decides with a
        :class:`~dermfeat.decision.HierarchicalClassifier`, the report also
        has the out-of-fold subtype predictions
        (:meth:`~EvaluationReport.subtype_confusion_matrix`).
    n_jobs : int, optional
        Folds fitted in parallel.
    random_state : int or None, default=0
        Seed of the default splitter.
    progress : "auto" or bool, default="auto"
        ``tqdm.auto`` progress bars over the folds and over the photographs the
        subgroups are computed from: ``"auto"`` when stderr is a terminal or in
        a Jupyter notebook, ``True`` always (logs too), ``False`` never.

    Returns
    -------
    report : :class:`EvaluationReport`
        Per-fold and mean +- std metrics, out-of-fold predictions, the confusion
        matrix, the threshold curve, ranked misclassifications, subgroup tables,
        plots and :meth:`~EvaluationReport.to_html`.  Each fold records the
        threshold chosen in its training part (``threshold``) and the spread of
        that choice over its inner folds (``threshold_std``), so
        :class:`~dermfeat.UnstableThresholdWarning` is not raised per fold.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import evaluate
    >>> from dermfeat.features import ColorFeatures
    >>> data = make_lesion_images(60, image_size=64, random_state=0)
    >>> pipe = make_pipeline(ColorFeatures(), LogisticRegression(max_iter=1000))
    >>> report = evaluate(pipe, data.images, data.labels, groups=data.groups, cv=3,
    ...                   subgroups=None)
    >>> sorted(report.summary())[:3]
    ['accuracy', 'average_precision', 'balanced_accuracy']
    """
    if not is_classifier(estimator):
        raise TypeError(f"evaluate needs a classifier, got {type(estimator).__name__}")
    y = np.asarray(y)
    n = len(y)
    if hasattr(X, "__len__") and len(X) != n and not (isinstance(X, np.ndarray) and X.ndim == 4 and len(X) == n):
        raise ValueError(f"X has {len(X)} samples but y has {n}")
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError("evaluate needs at least two classes in y")
    if pos_label is None:
        pos_label = DEFAULT_POS_LABEL if DEFAULT_POS_LABEL in classes.tolist() else classes[-1]
    elif pos_label not in classes.tolist():
        raise ValueError(f"pos_label={pos_label!r} is not among the classes {classes.tolist()}")

    if isinstance(groups, str) and groups == "auto":
        groups = near_duplicate_groups(X, n_jobs=n_jobs)
    elif groups is not None:
        groups = np.asarray(groups)
        if len(groups) != n:
            raise ValueError(f"groups has {len(groups)} entries for {n} samples")
    if cv is None:
        cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=5, random_state=random_state)
    elif isinstance(cv, Integral):
        cv = RepeatedStratifiedGroupKFold(n_splits=int(cv), n_repeats=1, random_state=random_state)
    splits = list(cv.split(np.zeros(n), y, groups))
    n_repeats = int(getattr(cv, "n_repeats", 1))
    per_repeat = max(1, len(splits) // n_repeats)

    def params_for(train):
        out = {}
        for key, value in (fit_params or {}).items():
            out[key] = _take(value, train) if hasattr(value, "__len__") and len(value) == n else value
        name = _groups_param(estimator)
        if name is not None and groups is not None and name not in out:
            out[name] = groups[train]
        return out

    start = time.perf_counter()
    with warnings.catch_warnings():
        # a training fold's unstable threshold is part of what the report shows (folds[i]["threshold_std"])
        warnings.simplefilter("ignore", UnstableThresholdWarning)
        # scikit-learn's Parallel carries the configuration (metadata routing) and warning filters to the workers
        results = Parallel(n_jobs=n_jobs, return_as="generator")(
            delayed(_fit_and_predict)(clone(estimator), X, y, train, test, params_for(train))
            for train, test in splits
        )
        results = list(progress_bar(results, total=len(splits), desc="cv folds", unit="fold", progress=progress))
    elapsed = time.perf_counter() - start

    k = len(classes)
    proba_sum = np.zeros((n, k))
    proba_count = np.zeros(n)
    preds = np.full((n_repeats, n), None, dtype=object)
    folds, fold_predictions = [], []
    for i, ((train, test), res) in enumerate(zip(splits, results)):
        repeat = min(i // per_repeat, n_repeats - 1)
        proba = None
        if res["proba"] is not None:
            # align the fold's class order with the global one (a fold may miss a class)
            proba = np.zeros((len(test), k))
            for j, c in enumerate(res["classes"]):
                proba[:, np.searchsorted(classes, c)] = res["proba"][:, j]
            proba_sum[test] += proba
            proba_count[test] += 1
        preds[repeat, test] = res["pred"]
        sets = None
        if res["sets"] is not None:  # prediction sets in the global class order
            sets = np.zeros((len(test), k), dtype=bool)
            sets[:, np.searchsorted(classes, res["classes"])] = res["sets"]
        fold_predictions.append({"train": train, "test": test, "proba": proba, "pred": res["pred"], "sets": sets,
                                 "in_distribution": res["in_distribution"]})
        metrics = fold_metrics(y[test], res["pred"], proba, classes, pos_label)
        metrics.update(fold_set_metrics(y[test], sets, classes, res["in_distribution"]))
        folds.append(
            {
                "fold": i,
                "repeat": repeat,
                "n_train": len(train),
                "n_test": len(test),
                "threshold": res["threshold"],
                "threshold_std": res["threshold_std"],
                "fit_time": res["fit_time"],
                "score_time": res["score_time"],
                **metrics,
            }
        )
    has_proba = bool(proba_count.all())
    oof_proba = proba_sum / np.maximum(proba_count, 1)[:, None] if has_proba else None
    oof_pred = majority_over_repeats(preds)

    subgroups = _resolve_subgroups(subgroups, X, n, n_jobs, progress)
    fine = (fit_params or {}).get("fine_labels")
    subtype_pred = None if fine is None else oof_subtypes(results, splits, n, n_repeats, per_repeat)
    return EvaluationReport(
        estimator=estimator,
        sources=X,
        y=y,
        classes=classes,
        pos_label=pos_label,
        groups=groups,
        cv=cv,
        folds=folds,
        oof_proba=oof_proba,
        oof_pred=oof_pred,
        repeat_preds=preds,
        fold_predictions=fold_predictions,
        subgroups=subgroups,
        elapsed=elapsed,
        fit_params=fit_params,
        subtype_true=None if subtype_pred is None else np.asarray(fine, dtype=object),
        subtype_pred=subtype_pred,
    )


def _resolve_subgroups(subgroups, X, n, n_jobs, progress):
    """``subgroups`` of :func:`evaluate` as one dict of name -> labels."""
    if subgroups is None:
        return {}
    if isinstance(subgroups, str):
        if subgroups != "auto":
            raise ValueError(f"subgroups must be 'auto', a dict, a list of them or None; got {subgroups!r}")
        with show_progress(progress, desc="subgroups", total=2 * n):  # skin tone and quality read every photo
            return image_subgroups(X, n_jobs=n_jobs)
    if isinstance(subgroups, dict):
        out = {}
        for name, labels in subgroups.items():
            labels = np.asarray(labels, dtype=object)
            if len(labels) != n:
                raise ValueError(f"subgroup {name!r} has {len(labels)} labels for {n} samples")
            out[str(name)] = labels
        return out
    out = {}
    for item in subgroups:
        out.update(_resolve_subgroups(item, X, n, n_jobs, progress))
    return out
