"""Make the figure of the decisions user guide page.

    python docs/_static/make_decision_figures.py

Writes ``threshold_curve.png`` next to this script: on synthetic photographs
(``make_lesion_images``, atopic dermatitis the minority class), (left) the
cross-validated threshold curves of a :class:`ThresholdTunedClassifier` asked for
the best specificity with sensitivity >= 0.9, with the fold-to-fold range and
the per-fold optimal thresholds; (right) what random over-sampling does to the
predicted probabilities compared with leaving the data alone.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedGroupKFold, cross_val_predict  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from dermfeat.datasets import make_lesion_images  # noqa: E402
from dermfeat.features import ColorFeatures, HandcraftedFeatures, RednessFeatures  # noqa: E402
from dermfeat.model_selection import ThresholdTunedClassifier  # noqa: E402
from dermfeat.pipeline import ResampledClassifier  # noqa: E402

HERE = Path(__file__).resolve().parent


def main():
    data = make_lesion_images(300, image_size=96, positive_fraction=0.25, random_state=2)
    features = HandcraftedFeatures(
        families=[("color", ColorFeatures(image_size=96, spaces=["lab"])), ("redness", RednessFeatures(image_size=96))]
    )
    X = features.fit_transform(data.images)
    y, groups = data.labels, data.groups
    head = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
    tuner = ThresholdTunedClassifier(
        head,
        objective="specificity",
        constraint=("sensitivity", 0.9),
        pos_label="atopic_dermatitis",
        thresholds=200,
        cv=cv,
    ).fit(X, y, groups=groups)
    res = tuner.cv_results_
    t = res["threshold"]

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 4.4), gridspec_kw={"width_ratios": [1.5, 1]})
    for metric, colour in [
        ("sensitivity", "#b4464b"),
        ("specificity", "#3b6ea5"),
        ("balanced_accuracy", "#444444"),
        ("precision", "#d9a23d"),
    ]:
        folds = np.vstack([res[f"split{k}_{metric}"] for k in range(tuner.n_splits_)])
        ax.fill_between(t, folds.min(axis=0), folds.max(axis=0), color=colour, alpha=0.15, linewidth=0)
        ax.plot(t, res[f"mean_{metric}"], color=colour, label=metric.replace("_", " "))
    ax.axhline(0.9, color="#b4464b", linestyle=":", linewidth=1)
    ax.axvline(tuner.best_threshold_, color="black", linewidth=1.5, label=f"tuned {tuner.best_threshold_:.2f}")
    ax.axvline(0.5, color="grey", linestyle="--", linewidth=1, label="default 0.5")
    ax.plot(tuner.fold_best_thresholds_, np.full(tuner.n_splits_, 0.02), "k|", markersize=14,
            label="per-fold optimum")
    ax.set_xlabel("threshold on P(atopic dermatitis)")
    ax.set_ylabel("cross-validated metric")
    ax.set_title("best specificity with sensitivity >= 0.9", fontsize=10)
    ax.set_xlim(t.min(), t.max())
    ax.set_ylim(0, 1.02)
    ax.legend(fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)

    # out-of-fold probabilities with and without random over-sampling
    prevalence = np.mean(y == "atopic_dermatitis")
    bins = np.linspace(0, 1, 21)
    for label, model, colour in [
        ("original data", head, "#3b6ea5"),
        ("random over-sampling", ResampledClassifier(head, sampler="random_over", random_state=0), "#b4464b"),
    ]:
        proba = cross_val_predict(model, X, y, groups=groups, cv=cv, method="predict_proba")[:, 0]
        ax2.hist(proba, bins=bins, histtype="step", linewidth=1.5, color=colour,
                 label=f"{label}: mean {proba.mean():.2f}")
    ax2.axvline(prevalence, color="black", linestyle=":", linewidth=1, label=f"true prevalence {prevalence:.2f}")
    ax2.set_xlabel("out-of-fold P(atopic dermatitis)")
    ax2.set_ylabel("photographs")
    ax2.set_title("resampling inflates the minority probability", fontsize=10)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    path = HERE / "threshold_curve.png"
    fig.savefig(path, dpi=90)
    print(f"wrote {path.name} ({path.stat().st_size // 1024} kB); tuned threshold {tuner.best_threshold_:.3f} "
          f"± {tuner.best_threshold_std_:.3f}, CV specificity {tuner.best_score_:.3f}")


if __name__ == "__main__":
    main()
