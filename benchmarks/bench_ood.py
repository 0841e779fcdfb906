"""Real-data benchmark of dermfeat.uncertainty: the out-of-distribution guard and conformal prediction sets.

Uses the photographs in ../shared/data/dermnetnz (not copied into the repository) and the
EfficientNet-Lite0 backbone (../shared/models if it has the card, else dermfeat.zoo).

    python benchmarks/bench_ood.py --repeats 2

In-distribution: the 596 DermNet NZ photographs.  Protocol: repeated stratified group 5-fold
cross-validation over near-duplicate groups; in each outer fold the deployed model's last step
(``add_uncertainty(make_classifier(...))[-1]``: the guard, the conformal sets, the tuned
threshold) is fitted on the training part's features with its groups, so the alarm threshold and
the conformal quantiles are chosen on held-out folds *of the training part*; the test part's
photographs (never in their own training fold) give the in-distribution scores, false alarms
and coverage.  Out-of-distribution (nothing downloaded; see _ood_images.py): every photograph
scikit-image and scikit-learn ship, quadrant crops of the colour ones (not the astronaut),
blank and noise images, and heavily corrupted test-fold photographs; each is scored by every
outer fold's model (corrupted photographs only by the models that did not train on them).

Features are extracted once per photograph (per-image cache, ``--cache``): extraction does
not depend on labels, so sharing it across folds leaks nothing.

Figures: AUROC (in-distribution vs each family, pooled over repeats), FPR at 95 % TPR (share
of OOD images accepted when 95 % of DermNet photographs are), the false-alarm rate on DermNet
NZ at the calibrated threshold, the share of each family flagged; empirical coverage of the
90 % prediction sets overall, for atopic dermatitis alone and for other eczema, and the average
set size, for marginal and class-conditional (Mondrian) cross-conformal sets, split conformal,
and MAPIE's cross-conformal classifier on the same folds; coverage by skin tone.  Intervals:
95 % percentile bootstrap over near-duplicate groups (``_intervals.py``).
"""

from __future__ import annotations

import argparse
import datetime
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

from _intervals import GroupBootstrap
from _ood_images import CORRUPTIONS, blank_images, corrupt, crops, natural_images

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
POS = "atopic_dermatitis"
BEGIN, END = "<!-- bench_ood: begin -->", "<!-- bench_ood: end -->"


def _auroc(inside, outside):
    """P(an OOD image scores higher than an in-distribution one), ties half."""
    from scipy.stats import rankdata

    values = np.concatenate([inside, outside])
    ranks = rankdata(values)
    n_in, n_out = inside.shape[0], outside.shape[0]
    return float((ranks[n_in:].sum() - n_out * (n_out + 1) / 2) / (n_in * n_out))


def _fpr_at_95_tpr(inside, outside):
    """Share of OOD images accepted at the threshold that accepts 95 % of in-distribution ones."""
    return float(np.mean(outside <= np.quantile(inside, 0.95)))


def _load(args):
    from dermfeat.datasets import load_image_folder
    from dermfeat.io import read_image
    from dermfeat.model_selection import near_duplicate_groups
    from dermfeat.pipeline import make_features

    data = load_image_folder(DATA)
    files = list(data.filenames)
    y = np.asarray(data.labels)
    groups = near_duplicate_groups(files, n_jobs=args.n_jobs)
    extractor = make_features(args.features, model_dir=MODELS if MODELS.is_dir() else None, memory=args.cache,
                              n_jobs=args.n_jobs).fit(files[:2])
    natural = natural_images()
    families = {"natural photographs": natural, "crops of them": crops(natural), "blank and noise": blank_images()}
    rng = np.random.default_rng(0)
    chosen = np.sort(rng.choice(len(files), args.n_corrupted, replace=False))
    corrupted = [(f"{Path(files[i]).name} ({kind})", corrupt(read_image(files[i]), kind, random_state=int(i)), i)
                 for i in chosen for kind in CORRUPTIONS]
    X = extractor.transform(files)
    ood = {name: (items, extractor.transform([a for _, a in items])) for name, items in families.items()}
    X_corrupted = extractor.transform([a for _, a, _ in corrupted])
    return files, y, groups, X, ood, corrupted, X_corrupted


def _heads(args, pos):
    """The last step of each compared pipeline, as the deployed model builds it."""
    from dermfeat.pipeline import make_classifier
    from dermfeat.uncertainty import add_uncertainty

    base = make_classifier(features=args.features, head=args.head, imbalance="balanced", threshold="macro_f1",
                           pos_label=pos)
    return {
        "cross-conformal, marginal": add_uncertainty(base)[-1],
        "cross-conformal, class-conditional": add_uncertainty(base, class_conditional=True)[-1],
        "split conformal (25 % held out), class-conditional": add_uncertainty(
            base, method="split", class_conditional=True)[-1],
    }


def _mapie_sets(X_train, y_train, g_train, X_test, args, seed):
    """MAPIE's cross-conformal sets (LAC, ``agg_scores="crossval"``), same head, grouped folds."""
    from mapie.classification import CrossConformalClassifier
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dermfeat.pipeline import make_head

    est = make_pipeline(StandardScaler(), make_head(args.head, class_weight="balanced"))
    mapie = CrossConformalClassifier(est, confidence_level=0.9, conformity_score="lac",
                                     cv=StratifiedGroupKFold(5, shuffle=True, random_state=seed))
    mapie.fit_conformalize(X_train, y_train, groups=g_train)
    return mapie.predict_set(X_test, agg_scores="crossval")[1][:, :, 0]


def run(args):
    from dermfeat.evaluation import image_subgroups
    from dermfeat.model_selection import RepeatedStratifiedGroupKFold
    from dermfeat.uncertainty import predict_with_uncertainty

    start = time.perf_counter()
    files, y, groups, X, ood, corrupted, X_corrupted = _load(args)
    extracted = time.perf_counter() - start
    classes = np.unique(y)
    n = y.shape[0]
    cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=args.repeats, random_state=args.seed)
    splits = list(cv.split(X, y, groups))
    heads = _heads(args, POS)
    systems = list(heads) + (["MAPIE CrossConformalClassifier (LAC, crossval)"] if args.mapie else [])
    id_score = np.full((args.repeats, n), np.nan)
    id_flag = np.zeros((args.repeats, n), dtype=bool)
    ood_scores = {name: [] for name in ood}
    ood_flags = {name: [] for name in ood}
    cor_score = np.full((args.repeats, len(corrupted)), np.nan)
    cor_flag = np.zeros((args.repeats, len(corrupted)), dtype=bool)
    sets = {s: np.zeros((args.repeats, n, classes.shape[0]), dtype=bool) for s in systems}
    source = np.array([i for _, _, i in corrupted])
    for k, (train, test) in enumerate(splits):
        r = k // 5
        for name, head in heads.items():
            from sklearn.base import clone

            model = clone(head)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X[train], y[train], groups=groups[train])
            result = predict_with_uncertainty(model, X[test])
            sets[name][r, test] = result.prediction_set
            if name == "cross-conformal, marginal":  # one guard per fold (the same in every head)
                id_score[r, test] = -result.ood_score
                id_flag[r, test] = ~result.in_distribution
                for family, (_, Xo) in ood.items():
                    ood_scores[family].append(-model.score_samples(Xo))
                    ood_flags[family].append(~model.predict_in_distribution(Xo))
                held = np.isin(source, test)
                cor_score[r, held] = -model.score_samples(X_corrupted[held])
                cor_flag[r, held] = ~model.predict_in_distribution(X_corrupted[held])
        if args.mapie:
            sets[systems[-1]][r, test] = _mapie_sets(X[train], y[train], groups[train], X[test], args, args.seed + k)
        print(f"  fold {k + 1}/{len(splits)} done ({time.perf_counter() - start:.0f} s)", file=sys.stderr)

    boot = GroupBootstrap(y, groups, n_resamples=args.bootstrap, random_state=0)
    lines = _ood_lines(args, id_score, id_flag, ood, ood_scores, ood_flags, corrupted, cor_score, cor_flag, boot)
    tone = image_subgroups(files, n_jobs=args.n_jobs)["skin_tone"]
    lines += _coverage_lines(y, classes, sets, boot, tone)
    elapsed = time.perf_counter() - start
    header = [
        f"Run {datetime.date.today().isoformat()}: `python benchmarks/bench_ood.py --repeats {args.repeats}"
        f"{'' if args.features == 'efficientnet' else ' --features ' + args.features}`"
        f" ({elapsed / 60:.1f} min, of which {extracted / 60:.1f} min feature extraction; Python "
        f"{platform.python_version()}).  In-distribution: {n} DermNet NZ photographs of ../shared/data/dermnetnz, "
        f"{np.unique(groups).shape[0]} near-duplicate groups, repeated stratified group 5-fold x {args.repeats}; "
        f"features {args.features}, head {args.head} (class weights), threshold tuned for macro-F1; "
        f"intervals: 95 % bootstrap over near-duplicate groups ({args.bootstrap} resamples).",
        "",
    ]
    return "\n".join(["## Out-of-distribution guard and conformal prediction sets (bench_ood.py)", "", *header, *lines])


def _ood_lines(args, id_score, id_flag, ood, ood_scores, ood_flags, corrupted, cor_score, cor_flag, boot):
    pooled_flag = [(id_flag[r].astype(float), id_flag[r]) for r in range(args.repeats)]
    fa, _ = boot.summarise(pooled_flag, lambda y, s, p: {"rate": float(np.mean(s))})
    lines = ["### Out-of-distribution guard", "",
             f"False alarms on DermNet NZ at the calibrated threshold (target 5 %): "
             f"**{100 * fa['rate'][0]:.1f} %** ({100 * fa['rate'][1]:.1f}–{100 * fa['rate'][2]:.1f} %).", "",
             "| OOD family | images | AUROC | FPR at 95 % TPR | flagged at the calibrated threshold | never flagged |",
             "|---|---|---|---|---|---|"]
    reps = args.repeats
    per_rep = 5
    for family, (items, _) in ood.items():
        scores = np.array(ood_scores[family])  # (folds, images)
        flags = np.array(ood_flags[family])
        aurocs, fprs = [], []
        for r in range(reps):
            mean_score = scores[r * per_rep:(r + 1) * per_rep].mean(axis=0)
            aurocs.append(_auroc(id_score[r], mean_score))
            fprs.append(_fpr_at_95_tpr(id_score[r], mean_score))
        auroc, auroc_samples = _boot_auroc(boot, id_score, scores, reps, per_rep)
        missed = [items[j][0] for j in np.flatnonzero(~flags.any(axis=0))]
        lines.append(f"| {family} | {len(items)} | {np.mean(aurocs):.4f} ({auroc_samples[0]:.4f}–{auroc_samples[1]:.4f}) "
                     f"| {100 * np.mean(fprs):.1f} % | {100 * flags.mean():.1f} % of {flags.size} image-models "
                     f"| {', '.join(missed) or 'none'} |")
    held = ~np.isnan(cor_score)
    for kind in CORRUPTIONS:
        cols = np.array([name.endswith(f"({kind})") for name, _, _ in corrupted])
        aurocs = [_auroc(id_score[r], cor_score[r, cols & held[r]]) for r in range(reps)]
        lines.append(f"| corrupted DermNet NZ: {kind} | {int(cols.sum())} | {np.mean(aurocs):.4f} | "
                     f"{100 * np.mean([_fpr_at_95_tpr(id_score[r], cor_score[r, cols & held[r]]) for r in range(reps)]):.1f} % "
                     f"| {100 * cor_flag[:, cols][held[:, cols]].mean():.1f} % | |")
    names = ", ".join(name for name, _ in ood["natural photographs"][0])
    lines += ["", f"Natural photographs: {names}.", ""]
    return lines


def _boot_auroc(boot, id_score, scores, reps, per_rep):
    """AUROC interval: DermNet NZ photographs resampled by group, the OOD images fixed."""
    values = []
    outs = [scores[r * per_rep:(r + 1) * per_rep].mean(axis=0) for r in range(reps)]
    for draw in boot.draws[:200]:
        idx = boot._indices(draw)
        values.append(np.mean([_auroc(id_score[r][idx], outs[r]) for r in range(reps)]))
    lo, hi = np.percentile(values, [2.5, 97.5])
    return None, (float(lo), float(hi))


def _coverage_lines(y, classes, sets, boot, tone):
    pos = int(np.flatnonzero(classes == POS)[0])
    rows = ["### Conformal prediction sets (target coverage 90 %)", "",
            "| sets | coverage, all | coverage, atopic dermatitis | coverage, other eczema | average set size "
            "| two-class sets |", "|---|---|---|---|---|---|"]
    by_tone = []
    for name, s in sets.items():
        covered = s[:, np.arange(y.shape[0]), np.searchsorted(classes, y)]  # (repeats, n)
        size = s.sum(axis=2)
        pooled = [(covered[r].astype(float), size[r]) for r in range(s.shape[0])]

        def figures(yy, c, z):
            return {"all": float(np.mean(c)), "ad": float(np.mean(c[yy == POS])) if np.any(yy == POS) else np.nan,
                    "other": float(np.mean(c[yy != POS])), "size": float(np.mean(z)),
                    "two": float(np.mean(z == 2))}

        fig, _ = boot.summarise(pooled, figures)
        cell = {k: f"{fig[k][0]:.3f} ({fig[k][1]:.3f}–{fig[k][2]:.3f})" for k in fig}
        rows.append(f"| {name} | {cell['all']} | {cell['ad']} | {cell['other']} | {cell['size']} | {cell['two']} |")
        if "class-conditional" in name and name.startswith("cross"):
            from dermfeat.evaluation._subgroups import level_order

            for level in level_order(tone):
                mask = tone == level
                by_tone.append(f"| {level} | {int(mask.sum())} | {np.mean(covered[:, mask]):.3f} | "
                               f"{np.mean(covered[:, mask & (y == POS)]) if np.any(mask & (y == POS)) else float('nan'):.3f} | "
                               f"{np.mean(size[:, mask]):.2f} |")
    del pos
    rows += ["", "Class-conditional cross-conformal sets by skin tone (ITA category; small groups, no intervals):", "",
             "| skin tone | photographs | coverage | coverage, atopic dermatitis | average set size |",
             "|---|---|---|---|---|", *by_tone, ""]
    return rows


def _write(path, block):
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    block = f"{BEGIN}\n{block}\n{END}\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--features", default="efficientnet")
    parser.add_argument("--head", default="logistic")
    parser.add_argument("--n-corrupted", type=int, default=60, help="DermNet NZ photographs corrupted (x4 kinds)")
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--no-mapie", dest="mapie", action="store_false", help="skip MAPIE (pip install mapie)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-jobs", type=int, default=None)
    parser.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "dermfeat-bench-cache"),
                        help="feature cache folder (kept between runs)")
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "RESULTS.md"),
                        help="markdown file whose bench_ood section is replaced ('-': print only)")
    args = parser.parse_args()
    if not (DATA / "manifest.csv").is_file():
        sys.exit("bench_ood.py needs ../shared/data/dermnetnz beside the project")
    print("bench_ood.py: DermNet NZ photographs from ../shared/data/dermnetnz; OOD images from scikit-image and "
          "scikit-learn (shipped, nothing downloaded), made in _ood_images.py", file=sys.stderr)
    block = run(args)
    print(block)
    if args.output != "-":
        _write(Path(args.output), block)


if __name__ == "__main__":
    main()
