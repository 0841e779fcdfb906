"""
Ordinal severity: multinomial vs ordinal heads, and a composite score
=====================================================================

Eczema severity is graded on an ordered scale (0 clear, 1 mild, 2 moderate,
3 severe).  A multinomial classifier ignores that order: predicting "severe"
for a mild lesion costs it as much as predicting "moderate".  This example
compares, with cross-validation grouped by patient,

* a multinomial logistic regression,
* :class:`~dermfeat.decision.OrdinalClassifier` (cumulative "severity > k"
  problems) predicting the most probable level, and
* the same head predicting the level of minimum expected ``|i - j|`` cost
  (the median of the predicted distribution),

on the ordinal metrics of :mod:`dermfeat.metrics`: quadratic-weighted kappa
(QWK, higher is better), ranked probability score (RPS, lower is better),
macro-averaged MAE and weighted F1.  It then predicts the four clinical signs
with :class:`~dermfeat.decision.MultiSignOrdinalClassifier` and the
distribution of their sum, an EASI-like composite score, with a 90%
prediction interval.
"""

# %%
# Data and features
# -----------------
# 300 synthetic photographs of about 100 patients.  The handcrafted features
# are stateless (nothing is learned from the training images), so they are
# computed once for all images; every model below is still evaluated with
# patient-grouped folds.
import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_validate
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.datasets import make_lesion_images
from dermfeat.features import ColorFeatures, GLCMFeatures, HandcraftedFeatures, LBPFeatures, RednessFeatures
from dermfeat.metrics import ordinal_scoring, quadratic_weighted_kappa
from dermfeat.decision import MultiSignOrdinalClassifier, OrdinalClassifier

start = time.perf_counter()
data = make_lesion_images(300, image_size=96, random_state=0)
features = HandcraftedFeatures(
    families=[
        ("color", ColorFeatures(image_size=96, spaces=["lab"])),
        ("redness", RednessFeatures(image_size=96)),
        ("lbp", LBPFeatures(image_size=96)),
        ("glcm", GLCMFeatures(image_size=96)),
    ]
)
X = features.fit_transform(data.images)
y, groups = data.severity, data.groups
print(f"{X.shape[0]} images, {X.shape[1]} features, {len(np.unique(groups))} patients")
print("severity counts:", np.bincount(y))

# %%
# Three heads, grouped 5-fold cross-validation
# --------------------------------------------
cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)


def head(classifier):
    return make_pipeline(StandardScaler(), classifier)


models = {
    "multinomial": head(LogisticRegression(C=0.1, max_iter=2000)),
    "ordinal (mode)": head(OrdinalClassifier(LogisticRegression(C=0.1, max_iter=2000))),
    "ordinal (median)": head(
        OrdinalClassifier(LogisticRegression(C=0.1, max_iter=2000), decision="min_expected_cost", cost_matrix="absolute")
    ),
}
scores = {}
for name, model in models.items():
    res = cross_validate(model, X, y, groups=groups, cv=cv, scoring=ordinal_scoring())
    scores[name] = res
print(f"{'head':<18}{'QWK':>14}{'RPS':>14}{'macro-MAE':>14}{'weighted F1':>14}")
for name, res in scores.items():
    cells = [
        (res["test_qwk"].mean(), res["test_qwk"].std()),
        (-res["test_neg_rps"].mean(), res["test_neg_rps"].std()),
        (-res["test_neg_macro_mae"].mean(), res["test_neg_macro_mae"].std()),
        (res["test_f1_weighted"].mean(), res["test_f1_weighted"].std()),
    ]
    print(f"{name:<18}" + "".join(f"{m:>8.3f} ±{s:.3f}" for m, s in cells))

# %%
# On this synthetic data the ordinal heads are at least as good as the
# multinomial one on every metric, with the clearest gain on the ranked
# probability score (their probabilities respect the order of the levels) and
# smaller fold-to-fold spread; predicting the median level (minimum expected
# absolute error) is what QWK and macro-MAE reward.  The differences are of
# the order of the fold-to-fold standard deviations, so judge them on your
# own data with the same grouped folds.
#
# Per-sign heads and the composite score
# --------------------------------------
# One ordinal head per sign (erythema, oedema, excoriation, lichenification);
# the composite (their sum, 0-12) is predicted as a distribution, the
# convolution of the per-sign distributions.
signs, sign_names = data.signs, list(data.sign_names)
total = signs.sum(axis=1)
multi = make_pipeline(
    StandardScaler(), MultiSignOrdinalClassifier(LogisticRegression(C=0.1, max_iter=2000), sign_names=sign_names)
)
mean_pred = np.empty(len(total))
lower, upper = np.empty(len(total), int), np.empty(len(total), int)
sign_pred = np.empty_like(signs)
example = None
for train, test in cv.split(X, y, groups):
    multi.fit(X[train], signs[train])
    # a Pipeline exposes predict/predict_proba only: transform, then ask the head
    composite = multi[-1].predict_composite(multi[:-1].transform(X[test]), interval=0.9)
    mean_pred[test], lower[test], upper[test] = composite.mean, composite.lower, composite.upper
    sign_pred[test] = multi.predict(X[test])
    if example is None:
        example = (test[0], composite.distribution[0])

for s, name in enumerate(sign_names):
    print(f"{name:<16} QWK {quadratic_weighted_kappa(signs[:, s], sign_pred[:, s]):.3f}")
coverage = np.mean((lower <= total) & (total <= upper))
print(f"composite (0-12): MAE of the predicted mean {np.mean(np.abs(mean_pred - total)):.2f}, "
      f"correlation {np.corrcoef(mean_pred, total)[0, 1]:.2f}, "
      f"90% interval coverage {coverage:.2f}, mean width {np.mean(upper - lower + 1):.1f} points")

# %%
# The predicted distribution of one held-out photograph's composite score.
index, distribution = example
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(np.arange(distribution.size), distribution, color="#b4464b")
ax.axvline(total[index], color="black", linestyle="--", label=f"true total {total[index]}")
ax.set_xlabel("composite score (sum of four signs)")
ax.set_ylabel("probability")
ax.legend()
fig.tight_layout()
print(f"elapsed {time.perf_counter() - start:.1f} s")
