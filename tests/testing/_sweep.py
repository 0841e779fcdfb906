"""Run read_image and every image estimator over hostile inputs; print a JSON report.

Run as a child process by test_hostile_images.py, so that a hang is a timeout
and the peak memory is this process's own.
"""

import json
import sys
import tempfile
import warnings

import numpy as np

from dermfeat import InvalidImageError, SkippedImagesWarning
from dermfeat.base import BaseImageTransformer
from dermfeat.io import image_name, read_image
from dermfeat.testing import hostile_image_inputs, mutate_images
from dermfeat.utils import all_image_estimators
from tests.testing._memory import peak_mb


def _instances():
    for name, cls in all_image_estimators():
        params = cls._get_test_params() if hasattr(cls, "_get_test_params") else [{}]
        for k, p in enumerate(params):
            yield f"{name}-{k}", cls(**p)


def _one_line_naming(exc, source, index):
    text = str(exc)
    return "\n" not in text and exc.source == image_name(source, index) and text.startswith(exc.source)


def main(n_fuzz, seed):
    folder = tempfile.mkdtemp()
    cases = hostile_image_inputs(folder) + mutate_images(seed, n_fuzz, folder)
    sources = [c.source for c in cases]
    report = {"kinds": len({c.kind for c in cases if c.expected != "any"}), "fuzzed": n_fuzz, "problems": []}
    problems = report["problems"]
    outcome = {}
    for i, c in enumerate(cases):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                image = read_image(c.source)
            ok = image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            outcome[c.kind] = "ok"
            if not ok or c.expected == "refused":
                problems.append(f"read_image {c.kind}: decoded, expected {c.expected}")
        except InvalidImageError as exc:
            outcome[c.kind] = "refused"
            if c.expected == "ok":
                problems.append(f"read_image {c.kind}: refused ({exc})")
            if not _one_line_naming(exc, c.source, None):
                problems.append(f"read_image {c.kind}: message not one line naming the source: {exc!r}")
        except Exception as exc:  # noqa: BLE001
            problems.append(f"read_image {c.kind}: crashed with {type(exc).__name__}: {exc}")
    report["refused"] = sum(v == "refused" for v in outcome.values())
    for label, est in _instances():
        if isinstance(est, BaseImageTransformer):
            est.set_params(on_error="nan").fit()
            try:
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("always")
                    rows = est.transform(sources)
            except Exception as exc:  # noqa: BLE001
                problems.append(f"{label}: transform crashed with {type(exc).__name__}: {exc}")
                continue
            skipped = [w for w in caught if issubclass(w.category, SkippedImagesWarning)]
            listing = str(skipped[0].message) if skipped else ""
            for i, c in enumerate(cases):
                finite = bool(np.all(np.isfinite(rows[i])))
                if not finite and not np.all(np.isnan(rows[i])):
                    problems.append(f"{label} {c.kind}: partly non-finite row")
                if outcome.get(c.kind) == "refused" and finite:
                    problems.append(f"{label} {c.kind}: features for an image read_image refuses")
                if not finite and image_name(c.source, i) + ":" not in listing:
                    problems.append(f"{label} {c.kind}: NaN row not reported in the warning")
        else:
            est.fit()
            for i, c in enumerate(cases):
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        out = est.transform([c.source])[0]
                    if out.dtype != np.uint8 or out.ndim != 3 or outcome.get(c.kind) == "refused":
                        problems.append(f"{label} {c.kind}: bad output or accepted a refused input")
                except InvalidImageError as exc:
                    if not _one_line_naming(exc, c.source, 0):
                        problems.append(f"{label} {c.kind}: message not one line naming the source: {exc!r}")
                except Exception as exc:  # noqa: BLE001
                    problems.append(f"{label} {c.kind}: crashed with {type(exc).__name__}: {exc}")
    report["estimators"] = sum(1 for _ in _instances())
    report["peak_rss_mb"] = peak_mb()  # this process's own peak (VmHWM), not ru_maxrss: see _memory.py
    print(json.dumps(report))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
