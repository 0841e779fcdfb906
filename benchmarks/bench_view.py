"""What the model should see: the centre crop, or the whole photograph?

The embedding models' cards resize the shorter side to 256 and keep the centre
224 x 224: on a 640 x 480 photograph about 44 % of the frame is never seen.  This
benchmark scores the same head on four views of the shared photographs
(../shared/data/dermnetnz, backbone from ../shared/models; neither is copied into
the repository):

``centre``  the card's preprocessing (the default);
``crops5``  the mean embedding of the centre and the four corner crops of the
            resized photograph, which together cover all of it (``tta_crops=5``);
``squash``  the whole photograph resized to 224 x 224 (aspect ratio not kept);
``pad``     the whole photograph padded to a square with its mean colour, then
            resized to 224 x 224 (aspect ratio kept).

Protocol: repeated stratified group 5-fold cross-validation with near-duplicate
groups (``near_duplicate_groups``), the head of ``dermfeat fit`` (standardised
features, logistic regression, C=0.1, balanced class weights).  Every view is
scored on the same folds; the paired difference to ``centre`` is reported per
fold (mean, standard deviation, folds won).

    python benchmarks/bench_view.py --repeats 5
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dermfeat.datasets import load_image_folder
from dermfeat.features import OnnxEmbedder
from dermfeat.features._onnx import _resize
from dermfeat.io import read_image
from dermfeat.model_selection import RepeatedStratifiedGroupKFold, near_duplicate_groups

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
POS = "atopic_dermatitis"


def squash(image, side=224):
    return _resize(image, (side, side), "antialias")


def pad(image, side=224):
    h, w = image.shape[:2]
    n = max(h, w)
    out = np.empty((n, n, 3), dtype=np.uint8)
    out[:] = image.reshape(-1, 3).mean(axis=0).astype(np.uint8)
    top, left = (n - h) // 2, (n - w) // 2
    out[top:top + h, left:left + w] = image
    return _resize(out, (side, side), "antialias")


def embeddings(card, files, view):
    if view == "centre":
        embedder = OnnxEmbedder.from_card(card)
    elif view == "crops5":
        embedder = OnnxEmbedder.from_card(card, tta_crops=5)
    else:
        embedder = OnnxEmbedder.from_card(card, resize_short_side=224, center_crop=224)
    if view in ("centre", "crops5"):
        return embedder.fit_transform(files)
    change = squash if view == "squash" else pad
    out = []
    for start in range(0, len(files), 32):
        out.append(embedder.fit_transform([change(read_image(f)) for f in files[start:start + 32]]))
    return np.vstack(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--model", default="efficientnet_lite0.json", help="card in ../shared/models")
    parser.add_argument("--views", default="centre,crops5,squash,pad")
    args = parser.parse_args(argv)
    if not DATA.is_dir() or not (MODELS / args.model).is_file():
        raise SystemExit(f"needs ../shared/data/dermnetnz and ../shared/models/{args.model}")
    data = load_image_folder(DATA)
    files = [str(f) for f in data.filenames]
    y = np.asarray(data.labels) == POS
    print(f"{len(files)} photographs from ../shared/data/dermnetnz ({int(y.sum())} {POS}); "
          f"backbone ../shared/models/{args.model}")
    groups = near_duplicate_groups(files)
    print(f"{len(set(groups))} near-duplicate groups")
    views = args.views.split(",")
    features = {}
    for view in views:
        start = time.perf_counter()
        features[view] = embeddings(MODELS / args.model, files, view)
        print(f"  {view}: embeddings in {time.perf_counter() - start:.0f} s")
    cv = RepeatedStratifiedGroupKFold(n_splits=5, n_repeats=args.repeats, random_state=0)
    scores = {view: {"auc": [], "bacc": []} for view in views}
    for train, test in cv.split(files, y, groups):
        for view in views:
            X = features[view]
            head = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))
            head.fit(X[train], y[train])
            proba = head.predict_proba(X[test])[:, 1]
            scores[view]["auc"].append(roc_auc_score(y[test], proba))
            scores[view]["bacc"].append(balanced_accuracy_score(y[test], proba >= 0.5))
    n = len(scores[views[0]]["auc"])
    print(f"\n{n} folds (5-fold x {args.repeats} repeats, near-duplicate groups); mean ± std over folds")
    print(f"{'view':8s} {'ROC AUC':>15s} {'bal. accuracy':>15s} {'AUC - centre':>22s} {'won':>6s}")
    base = np.asarray(scores["centre"]["auc"]) if "centre" in scores else None
    for view in views:
        auc, bacc = np.asarray(scores[view]["auc"]), np.asarray(scores[view]["bacc"])
        line = f"{view:8s} {auc.mean():8.3f} ± {auc.std():.3f} {bacc.mean():8.3f} ± {bacc.std():.3f}"
        if base is not None and view != "centre":
            d = auc - base
            line += f" {d.mean():+13.3f} ± {d.std():.3f} {int((d > 0).sum()):3d}/{n}"
        print(line)


if __name__ == "__main__":
    main()
