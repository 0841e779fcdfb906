"""Make the figures of the handcrafted-features user guide page.

    python docs/_static/make_feature_figures.py

Writes, next to this script:

* ``gabor_bank.png``: the real parts of the default Gabor bank's kernels;
* ``lbp_code_map.png``: the uniform LBP code map of a real DermNet NZ photograph
  (from ../shared/data/dermnetnz, read in place; only the derived code map and the
  histograms are drawn, not the photograph), and its LBP histograms;
* ``redness_skin_maps.png``: a synthetic photograph (``make_lesion_images``), its
  erythema-index map, the skin mask used for the ITA, and the LesionCrop box.

Without the shared data the LBP figure uses a synthetic photograph (and says so).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from dermfeat.datasets import make_lesion_images  # noqa: E402
from dermfeat.features import LBPFeatures, erythema_index, gabor_kernels, lbp_code_map  # noqa: E402
from dermfeat.features._handcrafted import WorkingImage  # noqa: E402
from dermfeat.features._skin_tone import skin_mask  # noqa: E402
from dermfeat.io import read_image  # noqa: E402
from dermfeat.preprocessing import LesionCrop  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1].parent / "shared" / "data" / "dermnetnz"
PHOTO = "atopic_dermatitis/atopic-dermatitis__flexural-eczema13.jpg"


def save(fig, name, dpi=100):
    path = HERE / name
    fig.savefig(path, dpi=dpi, bbox_inches="tight", pil_kwargs={"optimize": True})
    plt.close(fig)
    print(f"wrote {path.name}: {path.stat().st_size / 1024:.0f} kB")


def gabor_figure():
    frequencies, n_orientations = (0.05, 0.1, 0.2, 0.4), 4
    bank = gabor_kernels(frequencies, n_orientations)
    fig, axes = plt.subplots(len(frequencies), n_orientations, figsize=(6.4, 6.8))
    for ax, (f, theta, kernel) in zip(axes.ravel(), bank):
        limit = np.abs(kernel.real).max()
        ax.imshow(kernel.real, cmap="RdBu_r", vmin=-limit, vmax=limit, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_title(f"f={f:g}, {np.degrees(theta):.0f}°, {kernel.shape[0]} px", fontsize=8)
    fig.suptitle("Default Gabor bank: real part of each kernel over its support (rows point down)", fontsize=9)
    save(fig, "gabor_bank.png")


def load_photo():
    path = DATA / PHOTO
    if path.is_file():
        print(f"using the shared DermNet NZ photograph {PHOTO} (read in place)")
        return read_image(path, min_side=256), PHOTO.split("/")[-1]
    print("shared data not found: using a synthetic photograph")
    return make_lesion_images(1, image_size=256, random_state=3).images[0], "synthetic photograph"


def lbp_figure(image, title):
    view = WorkingImage.from_image(image, 256)
    codes = lbp_code_map(view.grey, points=8, radius=1, method="uniform")
    lbp = LBPFeatures().fit()
    hist = lbp.transform(view.rgb)[0]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4), layout="constrained", gridspec_kw={"width_ratios": [1.2, 1]})
    shown = axes[0].imshow(codes, cmap=plt.get_cmap("tab10", 10), vmin=-0.5, vmax=9.5, interpolation="nearest")
    axes[0].set_title(f"uniform LBP codes (P=8, R=1) of {title}", fontsize=8)
    axes[0].set_xticks([])
    axes[0].set_yticks([])
    fig.colorbar(shown, ax=axes[0], ticks=range(10), fraction=0.04, label="code (9: non-uniform)")
    start = 0
    for (p, r), colour in zip(lbp.points_radii, ("C0", "C1", "C2")):
        n = p + 2
        axes[1].plot(np.arange(n) / (n - 1), hist[start : start + n], "o-", ms=3, color=colour, label=f"P={p}, R={r}")
        start += n
    axes[1].set_xlabel("code / (P + 1):  0 bright spot, ..., P/2 edge, ..., P dark spot or flat, last non-uniform", fontsize=7)
    axes[1].set_ylabel("fraction of pixels", fontsize=8)
    axes[1].legend(fontsize=7)
    axes[1].set_title("LBPFeatures histograms (the default scales)", fontsize=8)
    save(fig, "lbp_code_map.png")


def redness_figure():
    data = make_lesion_images(12, image_size=192, quality_variation=0, random_state=5)
    discoid = np.flatnonzero(data.target == list(data.target_names).index("eczema"))
    image = data.images[discoid[np.argmax(data.severity[discoid])]].copy()
    image[:, :40] = (70, 95, 140)  # a blue drape along the left edge
    view = WorkingImage.from_image(image, 192)
    ei = erythema_index(view.rgb)
    mask = skin_mask(view.ycrcb)
    top, left, bottom, right = LesionCrop().fit().get_boxes(view.rgb)[0]
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), layout="constrained")
    axes[0].imshow(view.rgb)
    axes[0].add_patch(plt.Rectangle((left - 0.5, top - 0.5), right - left, bottom - top, fill=False, color="yellow", lw=1.5))
    axes[0].set_title("synthetic photograph (drape added), LesionCrop box", fontsize=8)
    shown = axes[1].imshow(ei, cmap="magma", vmin=np.percentile(ei, 1), vmax=np.percentile(ei, 99))
    fig.colorbar(shown, ax=axes[1], fraction=0.04)
    axes[1].set_title("erythema index 100 log10(R/G)", fontsize=8)
    axes[2].imshow(np.where(mask[:, :, None], view.rgb, 40))
    axes[2].set_title(f"YCrCb skin mask ({mask.mean():.0%} of pixels) for the ITA", fontsize=8)
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    save(fig, "redness_skin_maps.png", dpi=85)


def main():
    gabor_figure()
    image, title = load_photo()
    lbp_figure(image, title)
    redness_figure()


if __name__ == "__main__":
    main()
