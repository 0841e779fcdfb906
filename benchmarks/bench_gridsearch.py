"""A grid search over a cached OnnxEmbedder pipeline costs about one extraction pass.

Uses the real photographs in ../shared/data/dermnetnz and the pretrained models in
../shared/models (neither is ever copied into the repository).

    python benchmarks/bench_gridsearch.py [--limit N] [--models efficientnet_lite0 ...]
                                          [--n-jobs J] [--folds K]

For each model card, measures in one process:

1. ``plain``: one ``OnnxEmbedder.from_card(card).fit().transform(paths)`` pass, no cache;
2. ``grid``: ``GridSearchCV(Pipeline(OnnxEmbedder(memory=<empty folder>), StandardScaler(),
   LogisticRegression()), {C: 10 values} x {class_weight: None, "balanced"}, cv=5 folds)``
   on the JPEG paths: 20 candidates x 5 folds = 100 fits plus the final refit, every
   one of which calls ``transform`` on its training and test images.  The cache
   starts empty, so the first fit computes the embeddings and every later one reads
   them back;
3. ``classifier only``: the same grid search on the embeddings already in memory
   (``StandardScaler`` + ``LogisticRegression`` alone): what the search costs
   without any image work.

and prints ``grid / plain`` (the goal: at most 1.3), the time spent inside the
embedder during the grid search divided by ``plain`` (about 1.0: one cold pass, then
cache look-ups that cost microseconds per image), and ``classifier only / plain``.

The classifiers run with one BLAS thread (``--blas-threads``): LogisticRegression on
a few hundred rows is fastest that way, and OpenBLAS's own threads degrade badly when
the cores are shared (10 ms instead of 300 ms per fit was measured under load).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import tempfile
import time
import warnings
from contextlib import nullcontext
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from dermfeat.base import _cache
from dermfeat.features import OnnxEmbedder

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
GRID = {
    "clf__C": list(np.logspace(-3, 2, 10)),
    "clf__class_weight": [None, "balanced"],
}


def load(limit=None):
    with open(DATA / "manifest.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if limit:
        rows = rows[:limit]
    paths = np.array([str(DATA / row["path"]) for row in rows], dtype=object)
    y = np.array([row["label"] == "atopic_dermatitis" for row in rows], dtype=int)
    return paths, y


class TimedEmbedder(OnnxEmbedder):
    """OnnxEmbedder that adds the time spent in its own fit/transform to ``SPENT`` (this process only)."""

    def fit(self, X=None, y=None):
        start = time.perf_counter()
        try:
            return super().fit(X, y)
        finally:
            SPENT[0] += time.perf_counter() - start

    def transform(self, X):
        start = time.perf_counter()
        try:
            return super().transform(X)
        finally:
            SPENT[0] += time.perf_counter() - start


SPENT = [0.0]


def search(estimator, grid, folds, n_jobs):
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    return GridSearchCV(estimator, grid, cv=cv, scoring="roc_auc", n_jobs=n_jobs)


def bench_model(card, paths, y, args):
    name = json.loads(Path(card).read_text())["name"]
    embedder = OnnxEmbedder.from_card(card, batch_size=32)
    embedder.fit().transform(paths[:8])  # opens the session: not part of any timing

    start = time.perf_counter()
    features = embedder.transform(paths)
    plain = time.perf_counter() - start

    blas = threadpool_limits(args.blas_threads, user_api="blas") if args.blas_threads else nullcontext()
    with tempfile.TemporaryDirectory() as cache_dir, blas:
        _cache._ROW_MEMORY.clear()  # nothing cached anywhere: the grid starts cold
        _cache._path_memo.clear()
        pipe = Pipeline([
            ("embed", TimedEmbedder.from_card(card, batch_size=32, memory=cache_dir)),
            ("scale", StandardScaler()),
            ("clf", LogisticRegression(max_iter=2000)),
        ])
        SPENT[0] = 0.0
        start = time.perf_counter()
        grid = search(pipe, GRID, args.folds, args.n_jobs).fit(paths, y)
        total = time.perf_counter() - start
        in_embedder = SPENT[0]

        classifier = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(max_iter=2000))])
        start = time.perf_counter()
        search(classifier, GRID, args.folds, args.n_jobs).fit(features, y)
        clf_only = time.perf_counter() - start

    n_candidates = len(grid.cv_results_["params"])
    serial = args.n_jobs in (None, 1)
    embed_line = (
        f"  inside the embedder         {in_embedder:7.2f} s   (fit + transform of {n_candidates * args.folds + 1} "
        f"fits: one cold pass, then cache look-ups) / plain = {in_embedder / plain:.2f}\n"
        if serial else "  (time inside the embedder: measured only with --n-jobs 1)\n"
    )
    print(
        f"{name:20s} {len(paths)} images, {n_candidates} candidates x {args.folds} folds "
        f"= {n_candidates * args.folds} fits (+ refit), GridSearchCV n_jobs={args.n_jobs}, "
        f"BLAS threads {args.blas_threads or 'default'}\n"
        f"  plain extraction pass       {plain:7.2f} s\n"
        f"  grid search, cold cache     {total:7.2f} s   grid / plain = {total / plain:.2f}  (goal <= 1.3)\n"
        + embed_line +
        f"  same grid on the embeddings {clf_only:7.2f} s   (the classifiers alone) / plain = {clf_only / plain:.2f}\n"
        f"  best ROC AUC {grid.best_score_:.3f} with C={grid.best_params_['clf__C']:.3g}, "
        f"class_weight={grid.best_params_['clf__class_weight']}",
        flush=True,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photographs")
    parser.add_argument("--models", nargs="*", default=None, help="model card names (default: all)")
    parser.add_argument("--n-jobs", type=int, default=None, help="GridSearchCV n_jobs (default: None)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="BLAS threads for the classifiers (default 1: LogisticRegression on a few hundred "
                             "rows is fastest single-threaded; 0 leaves the library default)")
    args = parser.parse_args(argv)
    if not (DATA / "manifest.csv").is_file() or not MODELS.is_dir():
        raise SystemExit(f"needs ../shared beside the project (looked in {SHARED})")
    warnings.simplefilter("ignore", ConvergenceWarning)
    paths, y = load(args.limit)
    cards = sorted(MODELS.glob("*.json"))
    if args.models:
        cards = [c for c in cards if c.stem in args.models]
    print(f"Uses ../shared data and models: {len(paths)} DermNet NZ JPEGs ({y.sum()} atopic dermatitis) "
          f"from {DATA.name}/, models {', '.join(c.stem for c in cards)} from ../shared/models; "
          f"{os.cpu_count()} CPUs")
    for card in cards:
        bench_model(card, paths, y, args)


if __name__ == "__main__":
    main()
