"""``dermfeat explain MODEL IMAGE -o heat.png``: occlusion heat map of one prediction."""

from __future__ import annotations

import cv2
import numpy as np

from ._errors import CommandError, describe
from ._options import existing_folder


def add_parser(subparsers):
    parser = subparsers.add_parser("explain", help="occlusion heat map of one prediction")
    parser.add_argument("model", help="model file written by 'dermfeat fit'")
    parser.add_argument("image", help="image file")
    parser.add_argument("-o", "--output", default="heatmap.png", help="PNG to write: the photo beside its heat-map overlay")
    parser.add_argument("--target", default=None, help="class to explain (default: the predicted class)")
    parser.add_argument("--patch", type=float, default=0.2, help="patch side as a fraction of the shorter side")
    parser.add_argument("--model-dir", default=None, type=existing_folder,
                        help="where the embedding model files are, if moved (must exist)")
    parser.add_argument("--allow-pickle", action="store_true", help="allow a pickle model file (only your own)")
    parser.set_defaults(run=run)


def run(args):
    from ..explain import occlusion_sensitivity
    from ._options import load_saved_model

    model, _ = load_saved_model(args.model, allow_pickle=args.allow_pickle, model_dir=args.model_dir)
    result = occlusion_sensitivity(model, args.image, target=args.target, patch_size=args.patch)
    overlay = result.overlay(colorbar=True)  # the colour scale under the heat map
    photo = np.vstack([result.image, np.full((overlay.shape[0] - result.image.shape[0],) + result.image.shape[1:], 255,
                                             np.uint8)])
    side = np.hstack([photo, np.full((overlay.shape[0], 8, 3), 255, np.uint8), overlay])
    try:
        ok = cv2.imwrite(args.output, cv2.cvtColor(side, cv2.COLOR_RGB2BGR))
    except cv2.error as exc:  # e.g. an extension OpenCV has no writer for
        raise CommandError(f"could not write {args.output}: {describe(exc)[0].removeprefix('unexpected ')}") from exc
    if not ok:
        raise CommandError(f"could not write {args.output} (does its folder exist?)")
    print(f"{args.image}: {result.target} p={result.base_probability:.3f}; peak at row {result.peak[0]}, "
          f"column {result.peak[1]}; {result.n_evaluations} evaluations; wrote {args.output}")
    return 0
