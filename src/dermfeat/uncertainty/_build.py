"""Give a classification pipeline conformal prediction sets and an out-of-distribution guard."""

from __future__ import annotations

from sklearn.base import clone
from sklearn.pipeline import Pipeline

from ._conformal import ConformalClassifier
from ._detector import OutOfDistributionDetector
from ._guarded import GuardedClassifier


def add_uncertainty(pipeline, *, guard_after=None, confidence_level=0.9, class_conditional=False, method="cross", cv=5,
                    false_alarm_rate=0.05, detector=None, random_state=0):
    """A copy of ``pipeline`` that also gives prediction sets and an out-of-distribution flag.

    The steps after ``guard_after`` (the feature extraction) become one
    :class:`GuardedClassifier` step named ``"guarded"``: its detector sees
    the extracted features (before any scaling), its estimator is the rest
    of the pipeline (an :class:`~dermfeat.pipeline.ImagePipeline` of the
    scaling and the decision) with the decision (e.g. a tuned threshold)
    wrapped in a :class:`ConformalClassifier`.  The photographs are still
    decoded and embedded once; ``predict`` and ``predict_proba`` are those of
    the decision fitted on all the training photographs.  An
    :class:`~dermfeat.pipeline.ImagePipeline` passes the near-duplicate
    groups of its training photographs on, so the calibration folds of both
    the sets and the guard keep copies of a photograph together.

    Parameters
    ----------
    pipeline : Pipeline or classifier
        Unfitted.  Cloned.  A bare classifier (or a one-step pipeline) is
        wrapped itself, the detector then seeing its input.
    guard_after : int, str or None, default=None
        Index or name of the last step whose output the detector sees
        (``None``: the step named ``"features"`` if there is one, else the
        first step).
    confidence_level, class_conditional, method, cv : see :class:`ConformalClassifier`
    false_alarm_rate : float, default=0.05
        Of the default detector (see :class:`OutOfDistributionDetector`).
    detector : outlier detector or None
        Instead of the default one.
    random_state : int or None, default=0
        Seed of the calibration folds.

    Returns
    -------
    pipeline : same type as ``pipeline``
        Grid-search keys of the old steps move under ``guarded__estimator__``
        (e.g. ``clf__tune`` becomes ``guarded__estimator__clf__estimator__tune``).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from dermfeat.features import ColorFeatures
    >>> from dermfeat.pipeline import make_image_pipeline
    >>> from dermfeat.uncertainty import add_uncertainty
    >>> pipe = add_uncertainty(make_image_pipeline(ColorFeatures(), LogisticRegression()), class_conditional=True)
    >>> [name for name, _ in pipe.steps], [name for name, _ in pipe[-1].estimator.steps]
    (['features', 'guarded'], ['scale', 'clf'])
    >>> type(pipe[-1].estimator[-1]).__name__
    'ConformalClassifier'
    """
    from ..pipeline import ImagePipeline

    if detector is None:
        detector = OutOfDistributionDetector(false_alarm_rate=false_alarm_rate, random_state=random_state)

    def conformal(final):
        return ConformalClassifier(final, confidence_level=confidence_level, method=method,
                                   class_conditional=class_conditional, cv=cv, random_state=random_state)

    out = clone(pipeline)
    if not isinstance(out, Pipeline) or len(out.steps) == 1:
        if isinstance(out, Pipeline):
            name, final = out.steps[0]
            out.steps = [(name, GuardedClassifier(conformal(final), detector=clone(detector)))]
            return out
        return GuardedClassifier(conformal(out), detector=clone(detector))
    names = [name for name, _ in out.steps]
    if guard_after is None:
        guard_after = "features" if "features" in names else 0
    k = names.index(guard_after) if isinstance(guard_after, str) else int(guard_after) % len(names)
    if k >= len(names) - 1:
        raise ValueError(f"guard_after={guard_after!r} leaves no step after it to classify")
    rest = out.steps[k + 1 :]
    rest[-1] = (rest[-1][0], conformal(rest[-1][1]))
    head = rest[0][1] if len(rest) == 1 else ImagePipeline(rest, groups=None)
    out.steps = out.steps[: k + 1] + [("guarded", GuardedClassifier(head, detector=clone(detector)))]
    return out
