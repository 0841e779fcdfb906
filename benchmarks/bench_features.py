"""Default HandcraftedFeatures bank vs a straightforward scikit-image implementation of the same features.

Uses the real DermNet NZ photographs in ../shared/data/dermnetnz (read in place,
never copied into the repository).

    python benchmarks/bench_features.py [--limit N] [--reference-limit M] [--no-parallel]

Both sides start from the same decoded working image (``read_image`` with the
reduced-scale JPEG decode, then the shorter side resized to 256 px; identical
code, timed on both sides) and compute the SAME features: the reference uses
``skimage.feature.local_binary_pattern`` + ``np.histogram`` per (P, R),
``skimage.filters.gabor`` per filter, ``graycomatrix``/``graycoprops``,
``skimage.color`` conversions and plain numpy statistics, image by image.

The script checks that the two agree within per-family tolerances (printed with
their reasons), then prints ``images/s dermfeat``, ``images/s reference`` and
``speed-up`` measured in this process on one core (``n_jobs=1``; OpenCV, BLAS
and FFT limited to one thread), and finally ``images/s`` of dermfeat on all
images with ``n_jobs=1`` and ``n_jobs=2`` (alternating, best of ``--repeats``,
because the machine may be shared).  The scikit-image Gabor filtering takes seconds per image, so the
reference runs on the first ``--reference-limit`` images (default 24) and the
speed-up is computed on exactly those images.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

# One OpenCV thread per process, inherited by the joblib workers of n_jobs=2: OpenCV's
# own thread pool only adds overhead on 256-px images and oversubscribes the cores.
os.environ.setdefault("OPENCV_FOR_THREADS_NUM", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from scipy import ndimage  # noqa: E402
from skimage import color as skcolor  # noqa: E402
from skimage.feature import graycomatrix, graycoprops, local_binary_pattern  # noqa: E402
from skimage.filters import gabor, laplace, threshold_otsu  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from dermfeat.features import HandcraftedFeatures  # noqa: E402
from dermfeat.features._handcrafted import WorkingImage, to_working_size  # noqa: E402
from dermfeat.io import read_image  # noqa: E402

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "dermnetnz"


# ------------------------------------------------------------------ reference
def working_image(path, size):
    """The shared first step: reduced-scale decode + resize of the shorter side to ``size``."""
    return to_working_size(read_image(path, min_side=size), size)


def _stats(values, percentiles):
    values = np.asarray(values, dtype=np.float64).ravel()
    return [values.mean(), values.std(), *np.percentile(values, percentiles)]


def ref_lbp(grey, family):
    margin = max(math.ceil(r) for _, r in family.points_radii)
    out = []
    for p, r in family.points_radii:
        codes = local_binary_pattern(grey, p, r, method=family.method)[margin:-margin, margin:-margin]
        n_bins = p + 2 if family.method == "uniform" else p * (p - 1) + 3
        hist, _ = np.histogram(codes, bins=n_bins, range=(0, n_bins))
        out.extend(hist / codes.size)
    return out


def ref_gabor(grey_float, family):
    out = []
    for f in family.frequencies:
        for k in range(family.n_orientations):
            real, imag = gabor(
                grey_float, f, theta=k * np.pi / family.n_orientations, bandwidth=family.bandwidth,
                n_stds=family.n_stds, mode="reflect",
            )
            mag = np.hypot(real, imag)
            out.extend([mag.mean(), mag.std(), np.mean(mag.astype(np.float64) ** 2)])
    return out


def ref_glcm(grey, family):
    q = (grey.astype(np.int64) * family.levels // 256).astype(np.uint8)
    P = graycomatrix(q, list(family.distances), np.radians(family.angles), levels=family.levels, symmetric=True, normed=True)
    out = []
    for prop in ("contrast", "dissimilarity", "homogeneity", "ASM", "energy", "correlation", "entropy"):
        values = graycoprops(P, prop)  # (n_distances, n_angles)
        out.extend(values.mean(axis=1) if family.aggregate == "mean" else values.ravel())
    return out


def ref_color_spaces(rgb):
    hsv = skcolor.rgb2hsv(rgb)
    hue = hsv[..., 0] * 360.0
    hsv[..., 0] = np.where(hue >= 180.0, hue - 360.0, hue)
    ypbpr = skcolor.rgb2ypbpr(rgb) * 255.0
    ycrcb = np.stack([ypbpr[..., 0], ypbpr[..., 2] + 128.0, ypbpr[..., 1] + 128.0], axis=-1)
    return {"rgb": rgb.astype(np.float64), "hsv": hsv, "lab": skcolor.rgb2lab(rgb), "ycrcb": ycrcb}


def ref_color(spaces, family):
    out = []
    for space in family.spaces:
        for c in range(3):
            out.extend(_stats(spaces[space][..., c], family.percentiles))
    return out


def ref_redness(rgb, spaces, family):
    red = np.maximum(rgb[..., 0], 1) / 255.0
    green = np.maximum(rgb[..., 1], 1) / 255.0
    ei = 100.0 * (np.log10(1.0 / green) - np.log10(1.0 / red))
    a_star = spaces["lab"][..., 1]
    out = []
    q = list(family.percentiles)
    for values in (ei, a_star):
        stats = _stats(values, q)
        out.extend([*stats, np.percentile(values, max(q)) - np.percentile(values, min(q))])
    t = threshold_otsu(a_star) if a_star.max() > a_star.min() else a_star.min()
    upper = a_star > t
    frac = upper.mean()
    contrast = a_star[upper].mean() - a_star[~upper].mean() if 0 < upper.sum() < upper.size else 0.0
    out.extend([contrast, frac])
    return out


def ref_skin(spaces, family):
    ycrcb, lab = spaces["ycrcb"], spaces["lab"]
    cr, cb = ycrcb[..., 1], ycrcb[..., 2]
    mask = (cr >= 133) & (cr <= 173) & (cb >= 77) & (cb <= 127)
    fraction = mask.mean()
    used = fraction >= family.min_skin_fraction and fraction > 0
    pixels = lab[mask] if used else lab.reshape(-1, 3)
    ita = np.degrees(np.arctan2(pixels[:, 0] - 50.0, pixels[:, 2]))
    median = np.median(ita)
    category = int(np.searchsorted(-np.array([55.0, 41.0, 28.0, 10.0, -30.0]), -median, side="right"))
    return [
        median, ita.mean(), ita.std(), np.percentile(ita, 25), np.percentile(ita, 75), category,
        np.median(pixels[:, 0]), np.median(pixels[:, 2]), fraction, float(used),
    ]


def ref_quality(rgb, grey, family):
    g = grey.astype(np.float64) / 255.0
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], dtype=np.float64)
    noise = ndimage.convolve(g, kernel, mode="reflect")[1:-1, 1:-1]
    brightest = rgb.max(axis=2)
    means = rgb.reshape(-1, 3).mean(axis=0)
    cast_rg, cast_bg = math.log((means[0] + 1) / (means[1] + 1)), math.log((means[2] + 1) / (means[1] + 1))
    p5, p95 = np.percentile(grey, [5, 95])
    return [
        laplace(g).var(),
        math.sqrt(math.pi / 2) * np.abs(noise).sum() / (6 * noise.size),
        g.mean(), g.std(), (p95 - p5) / 255.0,
        np.mean(brightest <= family.dark_threshold), np.mean(brightest >= family.bright_threshold),
        cast_rg, cast_bg, math.hypot(cast_rg, cast_bg),
    ]


def reference_features(path, bank):
    """The default bank, computed the straightforward way (skimage, float64)."""
    families = dict(bank.families_)
    rgb = working_image(path, max(f.image_size for f in families.values()))
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)  # BT.601 luma, the definition both sides use
    grey_float = grey.astype(np.float32) / 255.0
    spaces = ref_color_spaces(rgb)
    parts = {
        "lbp": ref_lbp(grey, families["lbp"]),
        "gabor": ref_gabor(grey_float, families["gabor"]),
        "glcm": ref_glcm(grey, families["glcm"]),
        "color": ref_color(spaces, families["color"]),
        "redness": ref_redness(rgb, spaces, families["redness"]),
        "skin": ref_skin(spaces, families["skin"]),
        "quality": ref_quality(rgb, grey, families["quality"]),
    }
    return np.concatenate([np.asarray(parts[name], dtype=np.float64) for name, _ in bank.families_])


# ------------------------------------------------------------------ agreement
#: family -> (absolute tolerance, relative tolerance, why)
TOLERANCES = {
    "lbp": (0.005, 0.0, "histogram bins (fractions of pixels): at R >= 2 scikit-image's float64 bilinear "
            "interpolation turns exact ties (neighbour == centre on flat patches and linear gradients) into "
            "rounding noise, dermfeat resolves them exactly; this moves < 0.5% of pixels between bins. P=8, R=1 is exact."),
    "gabor": (1e-7, 1e-4, "float32 FFT convolution vs float64 direct convolution (same kernels, same 'reflect' border)."),
    "glcm": (1e-9, 1e-9, "identical integer counts; only float64 summation order differs."),
    "color": (0.01, 1e-5, "channel units: float32 vs float64 conversions (CIELAB to ~2e-4, OpenCV's float32 hue to "
              "~2e-3 degrees), which can move a percentile by a fraction of a unit."),
    "redness": (0.05, 1e-3, "float32 vs float64 a*: a pixel near a histogram-bin edge can move Otsu's threshold by one "
                "of 256 bins and the class means slightly."),
    "skin": (0.05, 1e-3, "degrees / CIELAB units: float32 vs float64 chroma can flip pixels on the skin-box boundary."),
    "quality": (1e-7, 1e-5, "float32 vs float64 filtering of the same grey image."),
}


def agreement(names, fast, ref):
    """Per family: max |difference|, and whether every feature is within tolerance."""
    family_of = np.array([name.split("__", 1)[0] for name in names])
    rows, ok = [], True
    for family, (atol, rtol, _) in TOLERANCES.items():
        cols = family_of == family
        if not cols.any():
            continue
        diff = np.abs(fast[:, cols] - ref[:, cols])
        within = diff <= atol + rtol * np.abs(ref[:, cols])
        worst = np.unravel_index(np.argmax(diff - (atol + rtol * np.abs(ref[:, cols]))), diff.shape)
        rows.append((family, int(cols.sum()), float(diff.max()), bool(within.all()), names[cols][worst[1]]))
        ok &= bool(within.all())
    return rows, ok


# ------------------------------------------------------------------ timing
def rate(n, seconds):
    return n / seconds if seconds > 0 else float("inf")


def cpu_seconds():
    """CPU time of this process and its worker processes (workers need psutil; else this process only)."""
    try:
        import psutil
    except ImportError:
        return time.process_time()
    me = psutil.Process()
    total = sum(me.cpu_times()[:2])
    for child in me.children(recursive=True):
        try:
            total += sum(child.cpu_times()[:2])
        except psutil.Error:
            pass
    return total


def timed(func):
    cpu, start = cpu_seconds(), time.perf_counter()
    out = func()
    return out, time.perf_counter() - start, cpu_seconds() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N images (sorted paths)")
    parser.add_argument("--reference-limit", type=int, default=24, help="images for the (slow) reference run")
    parser.add_argument("--no-parallel", action="store_true", help="skip the n_jobs=2 run")
    parser.add_argument("--repeats", type=int, default=2, help="timings of the n_jobs=1 / n_jobs=2 runs (best kept)")
    args = parser.parse_args(argv)

    if not DATA.is_dir():
        print(f"shared data not found at {DATA}; this benchmark needs ../shared/data/dermnetnz")
        return 2
    paths = sorted(str(p) for p in DATA.rglob("*.jpg"))[: args.limit]
    ref_paths = paths[: args.reference_limit]
    print(f"Data: shared DermNet NZ photographs at ../shared/data/dermnetnz (read in place, not copied): "
          f"{len(paths)} images, reference on the first {len(ref_paths)}")
    print(f"dermfeat default HandcraftedFeatures bank; {os.cpu_count()} CPUs on this machine")

    cv2.setNumThreads(1)
    with threadpool_limits(1):
        bank = HandcraftedFeatures(n_jobs=1).fit()
        names = bank.get_feature_names_out()
        print(f"{len(names)} features: " + ", ".join(
            f"{name} {sum(n.startswith(name + '__') for n in names)}" for name, _ in bank.families_))
        bank.transform(paths[:2])  # warm-up: imports, the Gabor bank's FFT cache

        # dermfeat and reference on the same images, in this process, one core
        start = time.perf_counter()
        fast = bank.transform(ref_paths)
        fast_seconds = time.perf_counter() - start
        start = time.perf_counter()
        ref = np.vstack([reference_features(p, bank) for p in ref_paths])
        ref_seconds = time.perf_counter() - start

        # per-family time (standalone, including each family's own conversions)
        views = [working_image(p, 256) for p in ref_paths[:8]]
        print("\nper family, ms/image (dermfeat standalone on pre-decoded working images):")
        for name, family in bank.families_:
            start = time.perf_counter()
            for rgb in views:
                family._features_from_view(WorkingImage(rgb))
            print(f"  {name:8s} {1000 * (time.perf_counter() - start) / len(views):7.2f}")

        fast_all, wall, cpu = timed(lambda: bank.transform(paths))
        all_runs = [(wall, cpu)]

    par_runs, same = [], True
    if not args.no_parallel:
        # n_jobs=1 and n_jobs=2 alternate, best of --repeats each: the machine is shared
        parallel = HandcraftedFeatures(n_jobs=2).fit()
        parallel.transform(paths[:64])  # start both workers (chunks of 16 images) and warm their caches
        for repeat in range(args.repeats):
            out, wall, cpu = timed(lambda: parallel.transform(paths))
            same &= bool(np.array_equal(out, fast_all))
            par_runs.append((wall, cpu))
            if repeat + 1 < args.repeats:
                with threadpool_limits(1):
                    all_runs.append(timed(lambda: bank.transform(paths))[1:])

    rows, ok = agreement(names, fast, ref)
    print(f"\nagreement with the reference on {len(ref_paths)} images (|dermfeat - reference| <= atol + rtol*|reference|):")
    for family, n, worst, within, name in rows:
        atol, rtol, why = TOLERANCES[family]
        print(f"  {family:8s} {n:3d} features  max |diff| {worst:.3g}  atol {atol:g} rtol {rtol:g}  "
              f"{'OK' if within else 'FAIL (worst: ' + name + ')'}")
    print("  tolerances:")
    for family, (_, _, why) in TOLERANCES.items():
        print(f"    {family}: {why}")
    assert np.all(np.isfinite(fast_all)), "non-finite features"

    fast_rate, ref_rate = rate(len(ref_paths), fast_seconds), rate(len(ref_paths), ref_seconds)
    print(f"\none core (n_jobs=1), same {len(ref_paths)} images, decode + resize + all features:")
    print(f"images/s dermfeat   {fast_rate:8.2f}")
    print(f"images/s reference  {ref_rate:8.3f}")
    print(f"speed-up            {fast_rate / ref_rate:8.1f}x")
    print(f"\ndermfeat on all {len(paths)} images (best of {len(all_runs)}), load average {os.getloadavg()[0]:.1f}:")
    for label, runs in (("n_jobs=1", all_runs), ("n_jobs=2", par_runs)):
        if runs:
            wall, cpu = min(runs)
            extra = f"  (identical features: {same})" if label == "n_jobs=2" else ""
            print(f"images/s {label}   {rate(len(paths), wall):8.2f}   CPU ms/image {1000 * cpu / len(paths):6.1f}{extra}")
    print("\nagreement: " + ("all features within tolerance" if ok else "SOME FEATURES OUTSIDE TOLERANCE"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
