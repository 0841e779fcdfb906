"""
A top pipeline of the benchmark on DermNet NZ, in a few lines
=============================================================

Atopic dermatitis vs other eczema on the DermNet NZ photographs beside the project
(``../shared/data/dermnetnz``) with the two pretrained ONNX backbones
(``../shared/models``): shades-of-grey colour constancy, then EfficientNet-Lite0 and
DINOv2 embeddings, one RBF SVM per backbone, probabilities averaged (late fusion),
and one decision threshold tuned for macro-F1 inside each training fold. Evaluation is leak-free: near-duplicate
photographs never straddle a split, outer or inner.

It is the row with the highest ROC AUC in ``benchmarks/RESULTS.md`` (0.865, 95 % interval
0.827-0.898), but the top rows there differ by less than their intervals, and picking the
best of them is itself optimistic: measured by nested cross-validation, "pick the best row"
gives ROC AUC 0.827 (0.791-0.861), still clearly above EfficientNet-Lite0 with a logistic
regression (0.748).

The first run computes the embeddings (a few minutes on two cores: test-time
augmentation runs each backbone on several views); the feature cache makes every
later run fast. ``benchmarks/bench_accuracy.py`` runs the full study around this
pipeline; ``benchmarks/RESULTS.md`` has its numbers.

Without ``../shared`` the same code runs on synthetic photographs
(:func:`~dermfeat.datasets.make_lesion_images`) and the backbones come from
:mod:`dermfeat.zoo`; the numbers then say nothing about real photographs.
"""

# %%
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from dermfeat.datasets import load_image_folder, make_lesion_images
from dermfeat.evaluation import evaluate
from dermfeat.model_selection import RepeatedStratifiedGroupKFold
from dermfeat.pipeline import make_classifier

# the script's own path (sphinx-gallery sets sys.argv[0], not __file__): ../shared beside the project
shared = Path(sys.argv[0]).resolve().parents[1].parent / "shared"
photos = shared / "data" / "dermnetnz"
if (photos / "manifest.csv").is_file():
    data = load_image_folder(photos)
    cache = Path.home() / ".cache" / "dermfeat" / "example-features"
    n_heatmaps = 4  # occlusion heat maps of the most confident mistakes in the report
else:  # no photographs beside the project: synthetic stand-ins run the same code
    photos = Path(tempfile.mkdtemp(prefix="dermfeat-example-"))
    make_lesion_images(40, image_size=224, positive_fraction=0.5, directory=photos / "images", random_state=0)
    data = load_image_folder(photos / "images")
    cache = photos / "cache"
    n_heatmaps = 0  # heat maps of synthetic stand-ins would say nothing (and cost two backbones' time)
models = shared / "models"

# %%
# The pipeline: images in, a tuned decision out.
pipe = make_classifier(
    "efficientnet+dinov2",
    "svm",
    fusion="late",
    imbalance="balanced",
    threshold="macro_f1",
    tta={"efficientnet": True, "dinov2": "flip"},
    color_constancy=True,
    model_dir=models if models.is_dir() else None,  # None: the same backbones from dermfeat.zoo
    memory=cache,
)

# %%
# Leak-free cross-validation: groups of near-duplicates are found from the images.
report = evaluate(pipe, data.filenames, data.labels, cv=RepeatedStratifiedGroupKFold(5, 1, random_state=0),
                  pos_label="atopic_dermatitis", n_jobs=2)
print(report.table())
report.to_html("best_pipeline_report.html", n_heatmaps=n_heatmaps)
print("report: best_pipeline_report.html")

# %%
# Out-of-fold predictions: every photograph scored by a model that never saw it
# (nor its near-duplicates), at the threshold chosen inside its training folds.
fig, (ax_roc, ax_cm) = plt.subplots(1, 2, figsize=(9, 4))
report.plot_roc_curve(ax=ax_roc)
report.plot_confusion_matrix(ax=ax_cm)
fig.tight_layout()
