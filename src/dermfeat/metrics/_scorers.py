"""Ready-made scorers for ordinal (severity) models, usable as ``scoring=``."""

from __future__ import annotations

from sklearn.metrics import get_scorer as _sklearn_get_scorer
from sklearn.metrics import make_scorer

from ._ordinal import macro_averaged_mae, quadratic_weighted_kappa, ranked_probability_score

#: Negative ranked probability score (higher is better), from ``predict_proba``.
rps_scorer = make_scorer(ranked_probability_score, greater_is_better=False, response_method="predict_proba")
#: Quadratic-weighted kappa, from ``predict``.
qwk_scorer = make_scorer(quadratic_weighted_kappa)
#: Negative macro-averaged mean absolute error, from ``predict``.
macro_mae_scorer = make_scorer(macro_averaged_mae, greater_is_better=False)
#: Support-weighted F1, from ``predict`` (scikit-learn's ``"f1_weighted"``).
weighted_f1_scorer = _sklearn_get_scorer("f1_weighted")

_SCORERS = {
    "neg_rps": rps_scorer,
    "neg_ranked_probability_score": rps_scorer,
    "qwk": qwk_scorer,
    "quadratic_weighted_kappa": qwk_scorer,
    "neg_macro_mae": macro_mae_scorer,
    "neg_macro_averaged_mae": macro_mae_scorer,
    "f1_weighted": weighted_f1_scorer,
}


def get_scorer(scoring):
    """A scorer by name: dermfeat's ordinal scorers, then scikit-learn's.

    Parameters
    ----------
    scoring : str or callable
        ``"neg_rps"``, ``"qwk"``, ``"neg_macro_mae"``, ``"f1_weighted"`` or any
        name known to :func:`sklearn.metrics.get_scorer`; callables are returned
        unchanged.

    Returns
    -------
    scorer : callable
        ``scorer(estimator, X, y, sample_weight=None)``; higher is better.

    Examples
    --------
    >>> from dermfeat.metrics import get_scorer
    >>> get_scorer("qwk")
    make_scorer(quadratic_weighted_kappa, response_method='predict')
    """
    if callable(scoring):
        return scoring
    if scoring in _SCORERS:
        return _SCORERS[scoring]
    return _sklearn_get_scorer(scoring)


def ordinal_scoring():
    """The four ordinal scorers as a dict for multi-metric ``scoring=``.

    Returns
    -------
    scoring : dict of str to scorer
        ``neg_rps``, ``qwk``, ``neg_macro_mae`` and ``f1_weighted``.

    Examples
    --------
    >>> from sklearn.datasets import make_classification
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.model_selection import cross_validate
    >>> from dermfeat.metrics import ordinal_scoring
    >>> X, y = make_classification(120, n_classes=3, n_informative=4, random_state=0)
    >>> res = cross_validate(LogisticRegression(), X, y, cv=3, scoring=ordinal_scoring())
    >>> sorted(k for k in res if k.startswith("test_"))
    ['test_f1_weighted', 'test_neg_macro_mae', 'test_neg_rps', 'test_qwk']
    """
    return {
        "neg_rps": rps_scorer,
        "qwk": qwk_scorer,
        "neg_macro_mae": macro_mae_scorer,
        "f1_weighted": weighted_f1_scorer,
    }
