"""The entry points of ``bench_reliability.py``, each run in a worker process of its own.

    python benchmarks/_reliability_worker.py CONTEXT ENTRY         # serve batches of items
    python benchmarks/_reliability_worker.py --cli AUDIT ARGS...   # dermfeat ARGS, observed

The first form builds the entry point ``ENTRY`` (an extractor, the web demo,
``load_model``, ...) from the context that ``bench_reliability.py`` pickled,
prints ``@@ready``, then reads one JSON line per batch from stdin
(``{"items": [indices], "fresh_peak": bool}``) and answers one line, ``@@`` and JSON: per
item ``[index, outcome, detail]`` and the process's peak resident memory
(``VmHWM``; with ``fresh_peak`` the high-water mark is reset first, so the peak
is that batch's).  The parent kills and restarts a worker whose batch does not
answer in time, and then tries the batch's items one by one: a hang is an item
that alone takes longer than the per-item timeout.

The second form runs the command line under the same audit hook and writes
what it saw (processes started, files written) to the file ``AUDIT``.

Outcomes: ``ok``, ``refused`` (the documented refusal, one line naming the
input), ``crash`` (any other exception, or a 5xx answer), ``dropped`` (an input
that is neither in the output nor reported), ``nonfinite``, ``wrong`` (a valid
input refused, an input that must be refused accepted, or a message that is
not one line naming the input), ``code`` (a process started, a file written, a
sentinel file or a probe module imported).
"""

import json
import os
import pickle
import sys
import traceback
import warnings
from pathlib import Path

import numpy as np

#: Python audit events that start another program.
SPAWN_EVENTS = ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                "os.forkpty", "pty.spawn")
_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


class Audit:
    """Records, while armed, every process started and every file opened for writing."""

    def __init__(self, allowed=()):
        self.armed, self.events, self.allowed = False, [], tuple(os.fspath(a) for a in allowed)
        sys.addaudithook(self._hook)

    def _hook(self, event, args):
        if not self.armed:
            return
        if event in SPAWN_EVENTS:
            self.events.append(f"{event} {str(args)[:120]}")
        elif event == "import" and str(args[0]).startswith("_dermfeat_probe"):
            self.events.append(f"import {args[0]}")
        elif event == "open" and isinstance(args[0], (str, bytes)):
            path, mode, flags = args[0], args[1], args[2]
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else bool((flags or 0) & _WRITE_FLAGS)
            path = os.fsdecode(path)
            if writes and "__pycache__" not in path and not path.startswith(self.allowed) and path != os.devnull:
                self.events.append(f"write {path}")

    def take(self):
        events, self.events = self.events, []
        return events


def _release_free_memory():
    """Give memory freed by earlier items back to the system, so the next item starts from what is live."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass


def peak_mb(fresh=False):
    """The high-water mark of this process's resident memory (Linux ``VmHWM``), in MB.

    With ``fresh``, memory freed earlier is first given back to the system and
    the mark reset to the current resident size (``/proc/self/clear_refs``),
    which is returned: the next reading is the peak from now on.
    """
    if fresh:
        _release_free_memory()
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ------------------------------------------------------------------ classification
def _one_line(message, name=None):
    return "\n" not in message and (name is None or message.startswith(name))


def _vs_expected(case, outcome, detail):
    if outcome == "ok" and case.expected == "refused":
        return "wrong", "accepted an input that must be refused"
    if outcome == "refused" and case.expected == "ok":
        return "wrong", f"refused a valid input: {detail}"
    return outcome, detail


def _crash(exc):
    return "crash", f"{type(exc).__name__}: {str(exc)[:200]}"


# ------------------------------------------------------------------ image entry points
def _instances():
    """Each class with its defaults (what a user runs), then with each set of its test parameters.

    :class:`~dermfeat.features.OnnxEmbedder` needs a model: its realistic
    configurations are the rows of :func:`_embedders`.
    """
    from dermfeat.utils import all_image_estimators

    for name, cls in all_image_estimators():
        if name != "OnnxEmbedder":
            yield f"{name}()", cls
        params = cls._get_test_params() if hasattr(cls, "_get_test_params") else []
        for k, p in enumerate(p for p in params if p):
            yield f"{name}, test params {k}", (lambda cls=cls, p=p: cls(**p))


def _embedders(context):
    from dermfeat.features import OnnxEmbedder
    from dermfeat.features._onnx_tiny import write_tiny_onnx_model

    out = {"OnnxEmbedder tiny, TTA 5 crops + flip": lambda: OnnxEmbedder(
        write_tiny_onnx_model(), resize_short_side=256, center_crop=224, tta_crops=5, tta_flip=True, n_threads=1)}
    if context.get("shared_models"):
        from dermfeat.pipeline import make_features

        out["OnnxEmbedder EfficientNet-Lite0, TTA"] = lambda: make_features(
            "efficientnet", model_dir=context["shared_models"], tta=True)
    return out


def image_estimators(context):
    """``{label: factory}`` of every extractor and preprocessor the benchmark runs."""
    return {**dict(_instances()), **_embedders(context)}


def _read_image_runner(context):
    from dermfeat import InvalidImageError
    from dermfeat.io import image_name, read_image

    def run(items):
        out = []
        for i, case in items:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    image = read_image(case.source)
                good = image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size
                out.append((i, *_vs_expected(case, "ok", "")) if good else (i, "wrong", f"bad array {image.shape}"))
            except InvalidImageError as exc:
                if not _one_line(str(exc), image_name(case.source)):
                    out.append((i, "wrong", f"message not one line naming the input: {exc!r}"[:300]))
                else:
                    out.append((i, *_vs_expected(case, "refused", str(exc)[:200])))
            except Exception as exc:  # noqa: BLE001
                out.append((i, *_crash(exc)))
        return out

    return run


def _transformer_runner(estimator):
    estimator.set_params(on_error="nan")

    def run(items):
        sources = [case.source for _, case in items]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            features, errors = estimator.transform_with_errors(sources)
        reported = {index: (name, reason) for index, name, reason in errors}
        out = []
        if features.shape[0] != len(items):
            return [(i, "dropped", f"{features.shape[0]} rows for {len(items)} inputs") for i, _ in items]
        for j, (i, case) in enumerate(items):
            row = features[j]
            if j in reported:
                name, reason = reported[j]
                if not _one_line(reason) or not _one_line(name):
                    out.append((i, "wrong", f"report not one line: {name!r} {reason!r}"[:300]))
                elif not np.all(np.isnan(row)):
                    out.append((i, "wrong", "reported as bad but has features"))
                else:
                    out.append((i, *_vs_expected(case, "refused", reason[:200])))
            elif np.all(np.isfinite(row)):
                out.append((i, *_vs_expected(case, "ok", "")))
            elif np.all(np.isnan(row)):
                out.append((i, "dropped", "NaN row without a report"))
            else:
                out.append((i, "nonfinite", f"{int(np.sum(~np.isfinite(row)))} non-finite values"))
        return out

    return run


def _preprocessor_runner(estimator):
    from dermfeat import InvalidImageError
    from dermfeat.io import image_name

    def run(items):
        out = []
        for i, case in items:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = estimator.transform([case.source])
                if len(result) != 1:
                    out.append((i, "dropped", f"{len(result)} images for 1 input"))
                    continue
                image = result[0]
                good = image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.size
                out.append((i, *_vs_expected(case, "ok", "")) if good else (i, "wrong", f"bad image {image.shape}"))
            except InvalidImageError as exc:
                if not _one_line(str(exc), image_name(case.source, 0)):
                    out.append((i, "wrong", f"message not one line naming the input: {exc!r}"[:300]))
                else:
                    out.append((i, *_vs_expected(case, "refused", str(exc)[:200])))
            except Exception as exc:  # noqa: BLE001
                out.append((i, *_crash(exc)))
        return out

    return run


def _estimator_runner(factory):
    from dermfeat.base import BaseImageTransformer

    estimator = factory()
    estimator.fit()
    if isinstance(estimator, BaseImageTransformer) or hasattr(estimator, "transform_with_errors"):
        return _transformer_runner(estimator)
    return _preprocessor_runner(estimator)


def _near_duplicates_runner(context):
    from dermfeat.model_selection import near_duplicate_groups

    def run(items):
        sources = [case.source for _, case in items]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            groups, details = near_duplicate_groups(sources, on_error="singleton", return_details=True)
        if len(groups) != len(items):
            return [(i, "dropped", f"{len(groups)} groups for {len(items)} inputs") for i, _ in items]
        errors = {index: reason for index, _, reason in details.errors}
        out = []
        for j, (i, case) in enumerate(items):
            if j in errors:
                if not _one_line(errors[j]):
                    out.append((i, "wrong", f"reason not one line: {errors[j]!r}"[:300]))
                else:
                    out.append((i, *_vs_expected(case, "refused", errors[j][:200])))
            else:
                out.append((i, *_vs_expected(case, "ok", "")))
        return out

    return run


def _demo_runner(context):
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

    from dermfeat.serve import create_app

    client = TestClient(create_app(context["demo_model"]))
    limit = 32 * 2**20
    groups = context["groups"]

    def run(items):
        out = []
        for i, case in items:
            data = case.source
            if isinstance(data, str):
                try:
                    if not os.path.isfile(data) or os.path.getsize(data) > limit:
                        out.append((i, "skip", "not an uploadable file"))
                        continue
                    data = Path(data).read_bytes()
                except (OSError, ValueError):
                    out.append((i, "skip", "not an uploadable file"))
                    continue
            elif not isinstance(data, bytes):
                out.append((i, "skip", "not bytes"))
                continue
            try:
                # with the heat map, as the page asks, except for fuzzed files (80 more model runs each)
                heatmap = "0" if groups[i] == "fuzz" else "1"
                response = client.post(f"/api/predict?heatmap={heatmap}",
                                       files={"file": (f"{case.kind}.bin", data, "application/octet-stream")})
            except Exception as exc:  # noqa: BLE001
                out.append((i, *_crash(exc)))
                continue
            if response.status_code >= 500:
                out.append((i, "crash", f"HTTP {response.status_code}: {response.text[:200]}"))
            elif response.status_code == 200:
                p = response.json().get("probability")
                if not isinstance(p, (int, float)) or not np.isfinite(p):
                    out.append((i, "nonfinite", f"probability {p!r}"))
                else:
                    out.append((i, *_vs_expected(case, "ok", "")))
            else:
                message = response.json().get("message", "")
                small = "too small" in message
                outcome, detail = ("refused", message[:200]) if small else _vs_expected(case, "refused", message[:200])
                out.append((i, outcome, detail))
        return out

    return run


# ------------------------------------------------------------------ folders
def _folder_runner(context, which):
    from dermfeat.datasets import find_image_files, load_image_folder

    root, files = context["root"], context["files"]

    def run(items):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if which == "find_image_files":
                found, skipped = find_image_files(root)
            else:
                data = load_image_folder(root, on_error="skip")
                found, skipped = list(data.filenames), list(data.skipped)
        found, skipped = {os.fsdecode(p) for p in found}, {os.fsdecode(p): r for p, r in skipped}
        out = []
        for i, case in items:
            path = files[i]
            if path in found:
                out.append((i, "ok", ""))
            elif path in skipped:
                reason = skipped[path]
                out.append((i, "refused", reason[:200]) if _one_line(reason) else (i, "wrong", repr(reason)[:300]))
            else:
                out.append((i, "dropped", "neither loaded nor in skipped"))
        return out

    return run


# ------------------------------------------------------------------ model files
def _load_model_runner(context):
    from dermfeat import InvalidModelError
    from dermfeat.persistence import load_model

    sys.path.insert(0, context["models_folder"])  # the import attacks are live

    def run(items):
        out = []
        for i, model in items:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    load_model(model.path)
                out.append((i, "wrong", "loaded"))
            except InvalidModelError as exc:
                message = str(exc)
                if exc.kind != model.kind or model.message not in message or not _one_line(message, str(model.path)):
                    out.append((i, "wrong", f"expected {model.kind} {model.message!r}, got {exc.kind}: {message}"[:300]))
                else:
                    out.append((i, "refused", message[:200]))
            except Exception as exc:  # noqa: BLE001
                out.append((i, *_crash(exc)))
            if model.sentinel is not None and Path(model.sentinel).exists():
                out[-1] = (i, "code", f"sentinel {Path(model.sentinel).name} written")
        return out

    return run


def runner(context, entry):
    """The function that handles a batch of ``(index, item)`` for the entry point ``entry``."""
    if entry == "read_image":
        return _read_image_runner(context)
    if entry == "near_duplicate_groups":
        return _near_duplicates_runner(context)
    if entry == "web demo POST /api/predict":
        return _demo_runner(context)
    if entry in ("find_image_files", "load_image_folder"):
        return _folder_runner(context, entry)
    if entry == "load_model":
        return _load_model_runner(context)
    return _estimator_runner(image_estimators(context)[entry])


def items_of(context, entry):
    """The items an entry point takes: image cases, folder files or model files."""
    if entry in ("find_image_files", "load_image_folder"):
        return [None] * len(context["files"])
    if entry == "load_model":
        return context["models"]
    return context["cases"]


def serve(context_path, entry):
    with open(context_path, "rb") as fh:
        context = pickle.load(fh)  # noqa: S301 - written by bench_reliability.py in this run
    items = items_of(context, entry)
    run = runner(context, entry)
    audit = Audit(allowed=context.get("allowed_writes", ()))
    print("@@ready", flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        batch = [(i, items[i]) for i in request["items"]]
        base = peak_mb(fresh=True) if request.get("fresh_peak") else float("nan")
        audit.armed = True
        try:
            results = run(batch)
        except Exception as exc:  # noqa: BLE001 - the parent retries the items one by one
            results = [(i, *_crash(exc)) for i, _ in batch]
            if len(batch) == 1:
                results[0] = (results[0][0], results[0][1], results[0][2] + " | " + traceback.format_exc(-2)[-300:])
        finally:
            audit.armed = False
        events = audit.take()
        if events:  # something ran or wrote: blame every item of the batch (the parent narrows it down)
            results = [(i, "code", "; ".join(events)[:300]) for i, *_ in results]
        print("@@" + json.dumps({"results": results, "peak_mb": peak_mb(), "base_mb": base}), flush=True)


def cli(audit_path, args):
    """Run ``dermfeat ARGS`` with the audit hook armed; write what it saw to ``audit_path``."""
    allowed = [p for p in os.environ.get("RELIABILITY_ALLOWED_WRITES", "").split(os.pathsep) if p]
    audit = Audit(allowed=[*allowed, audit_path])
    audit.armed = True
    from dermfeat.cli import main

    try:
        code = main(args)
    finally:
        audit.armed = False
        Path(audit_path).write_text(json.dumps(audit.take()))
    sys.exit(code)


if __name__ == "__main__":
    if sys.argv[1] == "--cli":
        cli(sys.argv[2], sys.argv[3:])
    else:
        serve(sys.argv[1], sys.argv[2])
