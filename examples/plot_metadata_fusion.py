"""
Images and metadata in one pipeline
===================================

A clinic's model knows more than the photograph: the patient's age, the body
site, the history.  :func:`~dermfeat.pipeline.make_fusion_pipeline` puts an
image feature extractor and tabular columns side by side in one
:class:`~sklearn.compose.ColumnTransformer`, so a single
:class:`~sklearn.pipeline.Pipeline` takes a DataFrame with a column of image
paths next to the clinical columns, and cross-validates without leakage (every
scaler, imputer and encoder is fitted on the training folds only).

The DermNet NZ photographs (``../shared/data/dermnetnz``, or a folder given as
the first argument) carry no clinical record, so stand-ins are used as
"metadata": the photograph's width, height and aspect ratio, its acquisition
quality (blur, exposure, noise, colour cast) and the patient's skin-tone
category (ITA).  The manifest's ``subtype`` column is **not** used: it names the
DermNet topic, which determines the label.

Three models are compared with the same grouped folds (near-duplicate
photographs stay on one side of every split): image features only, metadata
only, and both.  About 30 s on two idle cores (the features are computed once
per photograph and cached for the folds).  Without ``../shared`` the same code
runs on synthetic photographs (:func:`~dermfeat.datasets.make_lesion_images`),
whose numbers say nothing about real ones.
"""

# %%
# The data as one DataFrame
# -------------------------
import shutil
import sys
import tempfile
import time
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold, cross_validate

from dermfeat.datasets import load_image_folder, make_lesion_images
from dermfeat.features import (
    ColorFeatures,
    HandcraftedFeatures,
    QualityFeatures,
    RednessFeatures,
    SkinToneFeatures,
    ita_category,
)
from dermfeat.model_selection import near_duplicate_groups
from dermfeat.pipeline import make_fusion_pipeline

start = time.perf_counter()
# ../shared beside the project, found from the script's path (sphinx-gallery sets sys.argv[0], not __file__)
DATA = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(sys.argv[0]).resolve().parents[1].parent / "shared" / "data" / "dermnetnz"
if len(sys.argv) <= 1 and not (DATA / "manifest.csv").is_file():
    # no photographs beside the project: synthetic stand-ins run the same code
    DATA = Path(tempfile.mkdtemp(prefix="dermfeat-fusion-data-"))
    make_lesion_images(60, image_size=160, directory=DATA, random_state=0)
data = load_image_folder(DATA, as_frame=True, on_error="skip")
frame = data.frame.drop(columns=["subtype", "sha256"], errors="ignore")  # the subtype names the label
frame["height"], frame["width"] = data.image_sizes[:, 0], data.image_sizes[:, 1]
frame["aspect"] = frame["width"] / frame["height"]
y = (frame["label"] == "atopic_dermatitis").astype(int).to_numpy()
print(f"{len(frame)} photographs, {y.sum()} atopic dermatitis; columns: {', '.join(frame.columns)}")

# %%
# Metadata stand-ins: acquisition quality and skin tone
# -----------------------------------------------------
# In a clinic these columns would come from the record (age, body site, ...).
# Here they are computed once per photograph and stored as ordinary columns.
# Both families come from one decoding of each photograph.
cache = tempfile.mkdtemp(prefix="dermfeat-fusion-")
described = HandcraftedFeatures(families=[("quality", QualityFeatures()), ("skin_tone", SkinToneFeatures())]).fit()
values = dict(zip(described.get_feature_names_out(), described.transform(frame["image"]).T))
quality_columns = [name for name in values if name.startswith("quality__")]
for name in quality_columns:
    frame[name] = values[name]
frame["skin_tone"] = ita_category(values["skin_tone__ita_median"]).astype(object)
numeric = ["width", "height", "aspect", *quality_columns]
categorical = ["skin_tone"]
print("skin tone categories:", frame["skin_tone"].value_counts().to_dict())

# %%
# Grouped folds
# -------------
# Near-duplicate photographs (copies, re-crops, consecutive shots of one lesion)
# share a group, and a group never spans a split.
groups = near_duplicate_groups(frame["image"])
cv = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
print(f"{len(np.unique(groups))} near-duplicate groups for {len(frame)} photographs")

# %%
# Three pipelines, one cross-validation
# -------------------------------------
# The image branch: colour statistics and redness, from one decoding of each
# photograph and cached, so every fold reads them back instead of recomputing.
image_features = HandcraftedFeatures(
    families=[("color", ColorFeatures()), ("redness", RednessFeatures())], memory=cache
)
head = LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000)
models = {
    "image features only": make_fusion_pipeline(image_features, head=head),
    "metadata only": make_fusion_pipeline(None, numeric=numeric, categorical=categorical, head=head),
    "image + metadata": make_fusion_pipeline(image_features, numeric=numeric, categorical=categorical, head=head),
}
scoring = {"roc_auc": "roc_auc", "balanced_accuracy": "balanced_accuracy"}
print(f"\n{'model':<22}{'ROC AUC':>16}{'balanced accuracy':>22}")
results = {}
for name, pipe in models.items():
    scores = cross_validate(pipe, frame, y, groups=groups, cv=cv, scoring=scoring)
    auc, bacc = scores["test_roc_auc"], scores["test_balanced_accuracy"]
    results[name] = auc
    print(f"{name:<22}{auc.mean():>9.3f} ± {auc.std():.3f}{bacc.mean():>15.3f} ± {bacc.std():.3f}")

# %%
# ROC AUC per model: mean over the held-out folds (bars), and each fold (dots).
fig, ax = plt.subplots(figsize=(6, 2.8))
for row, auc in enumerate(results.values()):
    ax.barh(row, auc.mean(), color="#b4464b", alpha=0.6)
    ax.plot(auc, np.full(auc.size, row), "k.")
ax.set_yticks(range(len(results)), list(results))
ax.set_xlim(0, 1)
ax.set_xlabel("ROC AUC of a held-out fold")
fig.tight_layout()

# %%
# What the fused model leans on
# -----------------------------
# The fitted pipeline names every input column; the largest logistic
# coefficients (features are standardised) show which ones carry the decision.
fused = models["image + metadata"].fit(frame, y)
names = fused[:-1].get_feature_names_out()
coef = fused[-1].coef_.ravel()
order = np.argsort(-np.abs(coef))[:8]
print("\nlargest coefficients (towards atopic dermatitis when positive):")
for i in order:
    print(f"  {names[i]:<40}{coef[i]:+.3f}")
shutil.rmtree(cache, ignore_errors=True)
print(f"\n{time.perf_counter() - start:.0f} s")
