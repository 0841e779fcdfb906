"""Validate a pipeline by grouped repeated cross-validation, then fit it: a model that knows its figures."""

from __future__ import annotations

import math

import numpy as np
from sklearn.base import clone
from sklearn.utils import Bunch

from .._progress import image_steps, show_progress
from ..model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups
from ._evaluate import evaluate
from ._fit_params import _groups_param

#: Metrics stored in a validation record (those the fold reports define).
VALIDATION_METRICS = ("roc_auc", "sensitivity", "specificity", "macro_f1", "balanced_accuracy")

_NAMES = {
    "roc_auc": "ROC AUC",
    "sensitivity": "sensitivity",
    "specificity": "specificity",
    "macro_f1": "macro-F1",
    "balanced_accuracy": "balanced accuracy",
}


def _number(value):
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def _decision(estimator):
    """``(objective, constraint)`` of a tuned decision in the last step, else ``(None, None)``."""
    from ..uncertainty import decision_step

    final = decision_step(estimator)
    if getattr(final, "tune", False) and hasattr(final, "objective"):
        objective = final.objective if isinstance(final.objective, str) else getattr(final.objective, "__name__", "scorer")
        constraint = getattr(final, "constraint", None)
        return objective, None if constraint is None else str(constraint)
    return None, None


def validation_summary(report, *, groups_kind="near-duplicate groups"):
    """A JSON-ready record of a cross-validation, for a model file's metadata.

    Parameters
    ----------
    report : EvaluationReport
        From :func:`evaluate`.
    groups_kind : str, default="near-duplicate groups"
        What the groups were, for the protocol text.

    Returns
    -------
    validation : dict
        ``n_images``, ``n_groups``, ``n_folds`` (test folds), ``n_splits``
        (folds per repeat), ``n_repeats``, ``protocol`` (one sentence),
        ``positive_class``, ``objective`` and ``constraint`` of the tuned
        decision (or None), ``metrics`` (``{name: {"mean", "std"}}`` over the
        test folds for :data:`VALIDATION_METRICS` the problem defines) and
        ``threshold`` (``mean``/``std``/``min``/``max`` of the thresholds chosen
        inside the training folds, or None).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import evaluate, validation_summary
    >>> from dermfeat.features import ColorFeatures
    >>> data = make_lesion_images(60, image_size=64, random_state=0)
    >>> pipe = make_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000))
    >>> report = evaluate(pipe, data.images, data.labels, groups=data.groups, cv=3, subgroups=None)
    >>> record = validation_summary(report, groups_kind="patients")
    >>> record["n_images"], record["n_folds"], sorted(record["metrics"]["sensitivity"])
    (60, 3, ['mean', 'std'])
    """
    summary = report.summary()
    n = int(len(report.y))
    n_repeats = int(getattr(report.cv, "n_repeats", 1))
    n_folds = len(report.folds)
    n_splits = max(1, n_folds // n_repeats)
    n_groups = n if report.groups is None else int(len(np.unique(report.groups)))
    objective, constraint = _decision(report.estimator)
    where = f"over {n_groups} {groups_kind}" if report.groups is not None else "without groups"
    protocol = (
        f"stratified group {n_splits}-fold cross-validation, {n_repeats} repeat{'s' if n_repeats != 1 else ''} "
        f"({n_folds} test folds) {where}; every fold refits the whole pipeline on its training part"
        + (", where the decision threshold is tuned" if objective is not None else "")
    )
    metrics = {
        m: {"mean": _number(summary[m][0]), "std": _number(summary[m][1])}
        for m in VALIDATION_METRICS
        if m in summary
    }
    thresholds = report.thresholds()
    threshold = None
    if len(thresholds):
        threshold = {"mean": _number(thresholds.mean()), "std": _number(thresholds.std()),
                     "min": _number(thresholds.min()), "max": _number(thresholds.max())}
    return {
        "n_images": n,
        "n_groups": n_groups,
        "n_folds": n_folds,
        "n_splits": n_splits,
        "n_repeats": n_repeats,
        "protocol": protocol,
        "positive_class": str(report.pos_label),
        "objective": objective,
        "constraint": constraint,
        "metrics": metrics,
        "threshold": threshold,
    }


def describe_validation(validation, *, short=False):
    """One line about a model's validation, for people.

    Parameters
    ----------
    validation : dict or None
        What :func:`validation_summary` returns (``metadata["validation"]`` of
        a model file), or None.
    short : bool, default=False
        Only the photographs, sensitivity and specificity (or, for more than
        two classes, macro-F1 and balanced accuracy).

    Returns
    -------
    text : str

    Examples
    --------
    >>> from dermfeat.evaluation import describe_validation
    >>> record = {"n_images": 596, "metrics": {"sensitivity": {"mean": 0.62, "std": 0.1},
    ...                                        "specificity": {"mean": 0.88, "std": 0.04}}}
    >>> describe_validation(record, short=True)
    'validated on 596 photographs: sensitivity 0.62 ± 0.10, specificity 0.88 ± 0.04'
    >>> describe_validation(None)
    'not validated: no cross-validated figures were stored with this model (fit it with dermfeat fit --validate)'
    """
    if not validation or not validation.get("metrics"):
        return ("not validated: no cross-validated figures were stored with this model "
                "(fit it with dermfeat fit --validate)")
    metrics = validation["metrics"]
    if short:
        names = ("sensitivity", "specificity") if "sensitivity" in metrics else ("macro_f1", "balanced_accuracy")
    else:
        names = [m for m in ("sensitivity", "specificity", "roc_auc", "macro_f1", "balanced_accuracy") if m in metrics]
    parts = []
    for m in names:
        value = metrics.get(m) or {}
        if value.get("mean") is not None:
            parts.append(f"{_NAMES[m]} {value['mean']:.2f} ± {(value.get('std') or 0.0):.2f}")
    text = f"validated on {validation['n_images']} photographs"
    if not short and validation.get("protocol"):
        text += f" ({validation['protocol']})"
    return text + ": " + ", ".join(parts)


def validate(estimator, X, y, *, groups="auto", cv=None, pos_label=None, fit_params=None, n_jobs=None,
             random_state=0, progress="auto"):
    """Cross-validate a pipeline as :func:`evaluate` does, then fit it on all the data.

    The Python side of ``dermfeat fit --validate``: the figures describe the
    very pipeline that is returned, fitted with the same groups, so the model
    file can carry them (``save_model(result.estimator, path,
    metadata={"validation": result.validation})``) and the web demo and
    ``dermfeat predict --show-validation`` can show them.

    Parameters
    ----------
    estimator : classifier
        Unfitted (cloned here).
    X, y
        Images and labels.
    groups : "auto", array-like or None, default="auto"
        ``"auto"``: the near-duplicate groups of ``X``, found once and used for
        the outer folds, for every inner choice and for the final fit.
    cv : splitter, int or None
        ``None``: :class:`~dermfeat.model_selection.RepeatedStratifiedGroupKFold`
        (5 folds x 5 repeats, seeded by ``random_state``); see :func:`evaluate`.
    pos_label, fit_params, n_jobs, random_state
        See :func:`evaluate`.
    progress : "auto" or bool, default="auto"
        Bars over the folds (see :func:`evaluate`) and over the photographs
        of the final fit.  :class:`~dermfeat.UnstableThresholdWarning` is
        not raised for the training folds of the cross-validation (the record
        holds the spread of their thresholds), only for the final fit.

    Returns
    -------
    result : :class:`~sklearn.utils.Bunch`
        ``estimator`` (fitted on all of ``X``), ``validation`` (the record of
        :func:`validation_summary`) and ``report`` (the
        :class:`EvaluationReport`).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.evaluation import describe_validation, validate
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> data = make_lesion_images(60, image_size=64, random_state=0)
    >>> pipe = make_image_pipeline(ColorFeatures(image_size=64), LogisticRegression(max_iter=1000),
    ...                            threshold="macro_f1", cv=3)
    >>> result = validate(pipe, data.images, data.labels, groups=data.groups, cv=3)
    >>> result.validation["n_folds"], result.validation["objective"]
    (3, 'macro_f1')
    >>> describe_validation(result.validation, short=True).startswith("validated on 60 photographs: sensitivity")
    True
    """
    kind = "near-duplicate groups"
    if isinstance(groups, str) and groups == "auto":
        groups = near_duplicate_groups(X, n_jobs=n_jobs, on_error="singleton")
    elif groups is not None:
        groups, kind = np.asarray(groups), "groups"
    if cv is None:
        cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=5, random_state=random_state)
    report = evaluate(estimator, X, y, groups=groups, cv=cv, pos_label=pos_label, subgroups=None,
                      fit_params=fit_params, n_jobs=n_jobs, random_state=random_state, progress=progress)
    params = dict(fit_params or {})
    name = _groups_param(estimator)
    if name is not None and groups is not None:
        params.setdefault(name, groups)
    with show_progress(progress, desc="final fit", total=len(y) * image_steps(estimator)):
        fitted = clone(estimator).fit(X, np.asarray(y), **params)
    return Bunch(estimator=fitted, validation=validation_summary(report, groups_kind=kind), report=report)
