"""Make the figure of the evaluation user guide page.

    python docs/_static/make_report_figures.py [--page]

Writes ``report_figures.png`` next to this script: parts of the HTML report of
:func:`dermfeat.evaluation.evaluate` on synthetic photographs
(``make_lesion_images``, with invented subtypes): (left) the pooled
out-of-fold precision-recall curve with its average precision and the fold
mean in the title; (middle) the per-subtype breakdown; (right) the occlusion
heat map with its colour bar that the report shows on its most confident
mistake.  With ``--page`` it also writes the whole HTML report and a screenshot of
its top (``report_page.png``, the table with intervals, the ROC and precision-recall
curves) taken by headless Chromium through Playwright (``DERMFEAT_CHROMIUM``, by
default ``/usr/bin/chromium``).
"""

from __future__ import annotations

import os
import sys
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.cm import ScalarMappable  # noqa: E402
from matplotlib.colors import Normalize  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from dermfeat.datasets import make_lesion_images  # noqa: E402
from dermfeat.evaluation import evaluate  # noqa: E402
from dermfeat.evaluation._gallery import distinct_errors  # noqa: E402
from dermfeat.explain import occlusion_sensitivity  # noqa: E402
from dermfeat.features import ColorFeatures  # noqa: E402
from dermfeat.pipeline import make_image_pipeline  # noqa: E402

HERE = Path(__file__).resolve().parent
SUBTYPES = {"atopic_dermatitis": ["Atopic dermatitis, flexural", "Atopic dermatitis, facial"],
            "eczema": ["Discoid eczema", "Hand dermatitis", "Dyshidrotic eczema (pompholyx)", "Venous eczema"]}


def main():
    data = make_lesion_images(160, image_size=96, random_state=3)
    subtype = [SUBTYPES[c][i % len(SUBTYPES[c])] for i, c in enumerate(data.labels)]
    pipe = make_image_pipeline(ColorFeatures(image_size=96), LogisticRegression(max_iter=1000),
                               threshold="macro_f1", cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = evaluate(pipe, data.images, data.labels, groups=data.groups, cv=5, progress=False,
                          subgroups=["auto", {"subtype": subtype}])
        rows, _ = distinct_errors(report, "false negative", 1)
        row = rows[0]
        fold = next(i for i, f in enumerate(report.fold_predictions) if row["index"] in f["test"])
        result = occlusion_sensitivity(report.fold_estimator(fold), data.images[row["index"]], target=row["predicted"])
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6), layout="constrained", gridspec_kw={"width_ratios": [1, 1.2, 1]})
    report.plot_precision_recall_curve(ax=axes[0])
    axes[0].set_aspect("auto")
    report.plot_subgroups("subtype", ax=axes[1])
    axes[2].imshow(result.overlay())
    axes[2].set_axis_off()
    axes[2].set_title(f"most confident false negative: why {row['predicted']}?", fontsize="small")
    bar = fig.colorbar(ScalarMappable(norm=Normalize(0, float(result.heatmap.max())), cmap="jet"), ax=axes[2],
                       fraction=0.046, pad=0.03)
    bar.set_label(f"drop in p({result.target}) when covered", fontsize="small")
    path = HERE / "report_figures.png"
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")
    print(report.table())
    if "--page" in sys.argv:
        screenshot_report_page(report)


def screenshot_report_page(report):
    """The report's HTML page, with its figures, photographed by headless Chromium."""
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="dermfeat-report-"))
    page_file = report.to_html(folder / "report.html", n_heatmaps=2)
    chromium = os.environ.get("DERMFEAT_CHROMIUM", "/usr/bin/chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 1500})
        page.goto(page_file.as_uri())
        page.screenshot(path=str(HERE / "report_page.png"), full_page=False)
        browser.close()
    print(f"wrote {HERE / 'report_page.png'} (from {page_file})")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
