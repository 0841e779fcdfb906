"""Reliability of every entry point on hostile inputs: one table of failures and peak memory.

    python benchmarks/bench_reliability.py [--fuzz 2000] [--seed 0] [--quick] [--fuzz-per-params 200]
                                           [--item-timeout 60] [--only TEXT] [--keep]
                                           [--src OLDER_CHECKOUT/src]

What is tried (all generated at run time in a temporary folder, removed at the end):

* every kind of :func:`dermfeat.testing.hostile_image_inputs` (files, special
  files, odd names, uploaded bytes, arrays) and ``--fuzz`` files of
  :func:`dermfeat.testing.mutate_images` (seeded by ``--seed``);
* worst-case *legal* inputs of at most 10 MB: a 60-megapixel JPEG (baseline and
  progressive), PNG (RGBA and 16-bit RGB), TIFF, WebP (still and animated), GIF,
  JPEG 2000, AVIF and HEIC files near their pixel limits (64 megapixels; 30 for
  JPEG 2000, 56.9 for AVIF; a format without an encoder here is left out, and
  the output says so), and files near the web demo's limits (50 megapixels), made from a DermNet NZ photograph of
  ``../shared`` when it is there;
* every file of :func:`dermfeat.testing.write_malicious_models`.

Through every entry point a user has: ``read_image``; every extractor and
preprocessor of :func:`dermfeat.utils.all_image_estimators`, with its defaults
and with each set of its test parameters (these share the defaults' decoding:
they get the hostile kinds and the first ``--fuzz-per-params`` fuzzed files,
and the worst-case inputs go through the defaults only); :class:`~dermfeat.features.OnnxEmbedder` with test-time
augmentation on the tiny model and, when ``../shared/models`` is beside the
project, on the real EfficientNet-Lite0; ``near_duplicate_groups``;
``find_image_files`` and ``load_image_folder`` over a folder of all the hostile
and fuzzed files (two "classes": ``hostile`` and ``fuzz``); ``dermfeat
extract`` (labelled and ``--unlabelled``), ``dermfeat describe`` and ``dermfeat
predict`` (a handcrafted + logistic model) over that folder; the web demo's
``POST /api/predict`` (Starlette's TestClient, a color + logistic model; with
the occlusion heat map, as the page asks, except for fuzzed files); ``load_model`` and ``dermfeat predict`` on each malicious model.

Each entry point runs in a worker process of its own (see
``_reliability_worker.py``), in batches; a batch that does not answer in time
is retried item by item, and an item that alone takes more than
``--item-timeout`` seconds is a hang.  Command lines run as subprocesses under
the same observation.  Columns:

``kinds`` / ``fuzzed`` / ``big``
    hostile kinds (or files, or model files), fuzzed files and worst-case legal
    inputs tried (inputs an entry point cannot take, such as arrays for a
    folder or a pipe for an upload, are not counted);
``refused``
    inputs refused with the documented one-line error (informational);
``crash``
    an exception other than the documented refusal, a dead worker, an HTTP 5xx,
    a traceback, or an exit status other than the documented one;
``hang``
    an item over the per-item timeout (a whole command over its timeout);
``drop``
    an input neither in the output nor reported;
``non-fin``
    features or probabilities that are not finite;
``wrong``
    a valid input refused, an input that must be refused accepted, a malicious
    model refused for the wrong reason, or a message that is not one line;
``code``
    a process started, a file written where nothing should be, a sentinel file
    of a malicious model written, or its probe module imported (Python audit
    hooks in the process, sentinel files afterwards);
``peak MB``
    the highest resident memory of the process (``VmHWM``); worst-case inputs
    are measured one by one in a fresh worker with the high-water mark reset
    before each, so each figure is the process's peak while handling that one
    upload (interpreter and libraries included).

Unless ``--quick``, it also runs ``dermfeat predict`` over 200 copies of a
12-megapixel photo (``bench_predict_memory.py``) and prints its peak memory.
``--quick`` runs 200 fuzzed files, two worst-case inputs and no real model.
The output says which ``../shared`` files were used.  Linux only (``/proc``).
Measured results: ``benchmarks/RESULTS_reliability.md``.
``--src`` runs the entry points from another source tree (say an older
checkout's ``src/``): the columns must then show what that version got wrong,
which checks that they can.
"""

import argparse
import json
import os
import pickle
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SHARED = ROOT.parent / "shared"
WORKER = HERE / "_reliability_worker.py"
sys.path.insert(0, str(HERE))

FAILURES = ("crash", "hang", "dropped", "nonfinite", "wrong", "code")
COLUMNS = ("refused", *FAILURES)
MB10 = 10 * 2**20
DEMO = "web demo POST /api/predict"
#: Worst-case inputs at the demo's own limits (50 MP, scaled for JPEG 2000 and AVIF): dominated elsewhere.
FOR_THE_DEMO = {"jpeg_49mp", "png_rgba_49mp", "jpeg2000_23mp", "avif_44mp"}


#: The dermfeat source tree the entry points run from (``--src``).
SRC = [ROOT / "src"]


def _env(extra_path=()):
    paths = [str(SRC[0]), *map(str, extra_path)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1")}


# ------------------------------------------------------------------ worst-case legal inputs
def _base_photo():
    """A real photograph (DermNet NZ, from ../shared) or a synthetic one, and what it is."""
    import cv2

    folder = SHARED / "data" / "dermnetnz" / "atopic_dermatitis"
    sources = sorted(folder.glob("*.jpg")) if folder.is_dir() else []
    if sources:
        image = cv2.cvtColor(cv2.imread(str(sources[0])), cv2.COLOR_BGR2RGB)
        return image, f"../shared/data/dermnetnz/atopic_dermatitis/{sources[0].name}"
    from dermfeat.datasets import make_lesion_images

    return make_lesion_images(1, image_size=512, random_state=0).images[0], "a synthetic photograph (../shared absent)"


def _jpeg_under(image, progressive=False, limit=MB10):
    import cv2

    bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    for quality in (95, 90, 85, 80, 75, 70, 60, 50):
        ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_PROGRESSIVE,
                                             int(progressive)])
        if len(buf) <= limit:
            return buf.tobytes()
    raise RuntimeError("could not make the JPEG small enough")


def big_inputs(folder, photo, quick):
    """Write the worst-case legal inputs; return ``[(kind, path, description)]``."""
    import io

    import cv2
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)

    def smooth(w, h):  # an upscaled photo with fine grain: compresses like a real photograph
        big = cv2.resize(photo, (w, h), interpolation=cv2.INTER_CUBIC)
        return np.clip(big.astype(np.int16) + rng.integers(-2, 3, big.shape, dtype=np.int16), 0, 255).astype(np.uint8)

    def blocky(w, h):  # flat blocks: a huge image in a small file (screenshots, scans)
        return cv2.resize(photo, (w, h), interpolation=cv2.INTER_NEAREST)

    def pil(image, fmt, **kwargs):
        buf = io.BytesIO()
        image.save(buf, fmt, **kwargs)
        return buf.getvalue()

    def jp2(w, h):
        return pil(Image.fromarray(blocky(w, h)), "JPEG2000", quality_mode="rates", quality_layers=[40])

    def avif(w, h):
        return pil(Image.fromarray(blocky(w, h)), "AVIF", quality=60, speed=10)

    specs = [("jpeg_60mp", "9000x6667 JPEG (60 MP, baseline 4:2:0)", lambda: _jpeg_under(smooth(9000, 6667))),
             ("png_rgba_63mp", "7936x7936 RGBA PNG (63 MP, near the 64 MP limit)", lambda: pil(Image.fromarray(
                 np.dstack([blocky(7936, 7936), np.full((7936, 7936), 200, np.uint8)])), "PNG", compress_level=9))]
    if not quick:
        specs += [
            ("jpeg_60mp_progressive", "9000x6667 progressive JPEG (60 MP)",
             lambda: _jpeg_under(smooth(9000, 6667), progressive=True)),
            ("png_rgb16_63mp", "7936x7936 16-bit RGB PNG (63 MP)", lambda: cv2.imencode(
                ".png", blocky(7936, 7936).astype(np.uint16) * 257, [cv2.IMWRITE_PNG_COMPRESSION, 9])[1].tobytes()),
            ("tiff_63mp", "7936x7936 RGB TIFF, deflate (63 MP)",
             lambda: pil(Image.fromarray(blocky(7936, 7936)), "TIFF", compression="tiff_adobe_deflate")),
            ("webp_63mp", "7936x7936 WebP (63 MP)",
             lambda: pil(Image.fromarray(blocky(7936, 7936)), "WEBP", quality=90, method=0)),
            ("webp_animated_63mp", "7936x7936 animated WebP, 2 frames (63 MP)",
             lambda: pil(Image.fromarray(blocky(7936, 7936)), "WEBP", quality=90, method=0, save_all=True,
                         append_images=[Image.fromarray(blocky(7936, 7936)[::-1])])),
            ("gif_63mp", "7936x7936 GIF (63 MP)", lambda: pil(Image.fromarray(blocky(7936, 7936)).quantize(64), "GIF")),
            ("jpeg2000_63mp", "7936x7936 JPEG 2000 (63 MP, over its 30 MP limit)", lambda: jp2(7936, 7936)),
            ("jpeg2000_30mp", "5480x5480 JPEG 2000 (30.0 MP, near its limit)", lambda: jp2(5480, 5480)),
            ("avif_56mp", "7536x7536 AVIF (56.8 MP, near its limit)", lambda: avif(7536, 7536)),
            ("heic_63mp", "7936x7936 HEIC (63 MP, with pillow-heif)", lambda: _heic(blocky(7936, 7936))),
            ("jpeg_49mp", "8160x6120 JPEG (49.9 MP, under the demo's 50 MP limit)",
             lambda: _jpeg_under(smooth(8160, 6120))),
            ("png_rgba_49mp", "8160x6120 RGBA PNG (49.9 MP, under the demo's limit)", lambda: pil(Image.fromarray(
                np.dstack([blocky(8160, 6120), np.full((6120, 8160), 200, np.uint8)])), "PNG", compress_level=9)),
            ("jpeg2000_23mp", "4840x4840 JPEG 2000 (23.4 MP, under the demo's limit for it)", lambda: jp2(4840, 4840)),
            ("avif_44mp", "6660x6660 AVIF (44.4 MP, under the demo's limit for it)", lambda: avif(6660, 6660)),
        ]
    out = []
    for kind, description, make in specs:
        try:
            data = make()
        except Exception as exc:  # noqa: BLE001 - no encoder for this format here
            print(f"  (left out {kind}: cannot be written here: {type(exc).__name__}: {exc})")
            continue
        if len(data) > MB10:
            print(f"  (left out {kind}: {len(data) / 2**20:.1f} MB, over 10 MB)")
            continue
        path = folder / kind
        path.write_bytes(data)
        out.append((kind, str(path), f"{description}, {len(data) / 2**20:.1f} MB"))
    return out


def _heic(image):
    import io

    from PIL import Image
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "HEIF", quality=60)
    return buf.getvalue()


# ------------------------------------------------------------------ workers
class Worker:
    """One worker process serving an entry point (see ``_reliability_worker.py``)."""

    def __init__(self, context, entry, timeout, log):
        self.log = log
        start = log.tell()
        self.proc = subprocess.Popen([sys.executable, str(WORKER), context, entry], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=log, env=_env(), cwd=ROOT, text=True)
        if self._read(timeout) != "ready":
            self.kill()
            log.flush()
            with open(log.name) as fh:
                fh.seek(start)
                last = [line.strip() for line in fh.read().splitlines() if line.strip()][-1:] or ["no message"]
            raise RuntimeError(f"the worker for {entry} did not start: {last[0][:200]}")

    def _read(self, timeout):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                return None
            line = self.proc.stdout.readline()
            if not line:
                return None  # died
            if line.startswith("@@"):
                return line[2:].strip()

    def ask(self, items, timeout, fresh=False):
        try:
            self.proc.stdin.write(json.dumps({"items": items, "fresh_peak": fresh}) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return None
        answer = self._read(timeout)
        return None if answer is None else json.loads(answer)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self.proc.returncode


def run_worker_entry(context, entry, indices, *, chunk, item_timeout, per_item, fresh_each=False, log):
    """``({index: (outcome, detail)}, peaks)`` of one entry point over ``indices``.

    ``peaks[i]`` is the peak of the batch of ``i``; with ``fresh_each`` it is a pair,
    the peak and the process's resident memory just before the item.
    """
    results, peaks, bases = {}, {}, {}
    try:
        worker = Worker(context, entry, 600, log)
    except RuntimeError as exc:  # the entry point cannot even be set up (e.g. with --src of an old version)
        return {i: ("crash", str(exc)) for i in indices}, {i: (float("nan"),) * 2 if fresh_each else float("nan")
                                                            for i in indices}
    queue = [list(indices[k:k + chunk]) for k in range(0, len(indices), chunk)]
    try:
        while queue:
            batch = queue.pop(0)
            answer = worker.ask(batch, item_timeout + per_item * len(batch), fresh=fresh_each)
            if answer is None:
                alive = worker.proc.poll() is None
                code = worker.kill()
                if len(batch) > 1:
                    queue[0:0] = [[i] for i in batch]
                elif alive:
                    results[batch[0]] = ("hang", f"no answer in {item_timeout + per_item:.0f} s")
                else:
                    results[batch[0]] = ("crash", f"worker died (exit status {code})")
                worker = Worker(context, entry, 600, log)
                continue
            got = {i: (outcome, detail) for i, outcome, detail in answer["results"]}
            if len(batch) > 1 and any(o in ("crash", "code") for o, _ in got.values()):
                queue[0:0] = [[i] for i in batch]  # find which item it was
                continue
            results.update(got)
            for i in batch:
                peaks[i] = answer["peak_mb"]
                bases[i] = answer["base_mb"]
    finally:
        worker.kill()
    if fresh_each:
        peaks = {i: (peaks[i], bases[i]) for i in peaks}
    return results, peaks


# ------------------------------------------------------------------ command lines
def run_cli(args, timeout, *, allowed=(), extra_path=()):
    """Run ``dermfeat ARGS`` observed; return a dict with code, stdout, stderr, peak_mb, seconds, events."""
    import psutil

    with tempfile.TemporaryDirectory() as tmp:
        audit = Path(tmp) / "audit.json"
        env = _env(extra_path)
        env["RELIABILITY_ALLOWED_WRITES"] = os.pathsep.join(map(str, allowed))
        with open(Path(tmp) / "out", "w+b") as out, open(Path(tmp) / "err", "w+b") as err:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, str(WORKER), "--cli", str(audit), *args], stdout=out,
                                     stderr=err, env=env, cwd=ROOT)
            peak, children, done = [0.0], [0], threading.Event()

            def sample():
                proc = psutil.Process(child.pid)
                while not done.is_set():
                    try:
                        with open(f"/proc/{child.pid}/status") as fh:
                            own = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:")) / 1024
                        kids = proc.children(recursive=True)
                        others = sum(p.memory_info().rss for p in kids) / 2**20
                        peak[0], children[0] = max(peak[0], own + others), max(children[0], len(kids))
                    except (OSError, StopIteration, psutil.Error):
                        pass
                    done.wait(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                code = child.wait(timeout)
                hung = False
            except subprocess.TimeoutExpired:
                child.kill()
                code, hung = child.wait(), True
            done.set()
            sampler.join()
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode("utf-8", "replace")
            stderr = err.read().decode("utf-8", "replace")
        events = json.loads(audit.read_text()) if audit.exists() else []
    return {"code": code, "hung": hung, "stdout": stdout, "stderr": stderr, "peak_mb": peak[0],
            "seconds": time.perf_counter() - start, "events": events, "children": children[0]}


def shown(path):
    """A file name as the command line prints it (bytes that are not UTF-8 as ``\\xNN``)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _whole_run_failure(run, what):
    if run["hung"]:
        return "hang", f"{what} did not finish in time"
    if "Traceback" in run["stderr"]:
        return "crash", "traceback: " + run["stderr"][-300:].replace("\n", " | ")
    if run["events"]:
        return "code", "; ".join(run["events"])[:300]
    return None


def cli_extract(files, root, tmp, unlabelled, timeout):
    from dermfeat.extraction import read_features

    out_dir = Path(tempfile.mkdtemp(dir=tmp, prefix="extract_"))
    output = out_dir / "features.parquet"
    args = ["extract", str(root), "-o", str(output), "--features", "handcrafted", "--no-progress"]
    run = run_cli(args + (["--unlabelled"] if unlabelled else []), timeout, allowed=[out_dir])
    failure = _whole_run_failure(run, "extract")
    if failure is None and run["code"] != 0:
        failure = ("crash", f"exit status {run['code']}: {run['stderr'][-300:]}")
    results = {}
    if failure is None:
        data = read_features(output)
        rows = {shown(f): np.all(np.isfinite(x)) for f, x in zip(data.filenames, data.X)}
        errors = {shown(f): reason for f, reason in data.errors}
        for i, path in enumerate(files):
            name = shown(path)
            if name in rows:
                results[i] = ("ok", "") if rows[name] else ("nonfinite", "non-finite features")
            elif name in errors:
                results[i] = ("refused", errors[name][:200])
            else:
                results[i] = ("dropped", "neither in the features nor in errors.csv")
    else:
        results = {i: failure for i in range(len(files))}
    shutil.rmtree(out_dir, ignore_errors=True)
    return results, run


def cli_describe(files, root, timeout):
    run = run_cli(["describe", str(root), "--json"], timeout)
    failure = _whole_run_failure(run, "describe")
    if failure is None and run["code"] != 0:
        failure = ("crash", f"exit status {run['code']}: {run['stderr'][-300:]}")
    if failure is not None:
        return {i: failure for i in range(len(files))}, run
    summary = json.loads(run["stdout"])
    skipped = {shown(p): r for p, r in summary["skipped"]}
    n_ok = len(files) - sum(shown(f) in skipped for f in files)
    results = {i: ("refused", skipped[shown(f)][:200]) if shown(f) in skipped else ("ok", "")
               for i, f in enumerate(files)}
    if summary["n_images"] != n_ok:  # the readable ones are counted, not listed
        missing = n_ok - summary["n_images"]
        for i in [i for i, r in results.items() if r[0] == "ok"][:max(missing, 0)]:
            results[i] = ("dropped", "not counted as readable and not in skipped")
    return results, run


def cli_predict(model, files, timeout):
    import csv
    import io

    run = run_cli(["predict", str(model), *files], timeout)
    failure = _whole_run_failure(run, "predict")
    rows = {}
    for row in csv.DictReader(io.StringIO(run["stdout"])):
        rows.setdefault(row["file"], row)
    results = {}
    for i, path in enumerate(files):
        row = rows.get(shown(path))
        if row is None:
            results[i] = failure or ("dropped", "no row")
        elif row["error"]:
            results[i] = ("refused", row["error"][:200]) if "\n" not in row["error"] else ("wrong", row["error"])
        elif not np.isfinite(float(row["probability"])):
            results[i] = ("nonfinite", f"probability {row['probability']}")
        else:
            results[i] = ("ok", "")
    if failure is None and run["code"] != 0:
        for i in results:
            results[i] = ("crash", f"exit status {run['code']} although images were predicted")
    elif failure is not None and failure[0] != "hang":
        results = {i: failure for i in results}
    return results, run


def cli_predict_models(models, photo, models_folder, timeout):
    results, peak = {}, 0.0
    for i, model in enumerate(models):
        run = run_cli(["predict", str(model.path), str(photo)], timeout, extra_path=[models_folder])
        peak = max(peak, run["peak_mb"])
        lines = run["stderr"].strip().splitlines()
        if model.sentinel is not None and Path(model.sentinel).exists():
            results[i] = ("code", f"sentinel {Path(model.sentinel).name} written")
        elif run["events"]:
            results[i] = ("code", "; ".join(run["events"])[:300])
        elif run["hung"]:
            results[i] = ("hang", "predict did not finish")
        elif "Traceback" in run["stderr"] or run["code"] in (0, 2) or run["code"] < 0:
            results[i] = ("crash", f"exit status {run['code']}: {run['stderr'][-300:]}")
        elif len(lines) != 1 or str(model.path) not in lines[0] or model.message not in lines[0] or run["stdout"]:
            results[i] = ("wrong", f"stderr {run['stderr'][-300:]!r}")
        else:
            results[i] = ("refused", lines[0][:200])
    return results, peak


def hostile_settings_model(model, out, cache):
    """``model`` edited as an attacker would: a cache folder and 64 workers in every extractor."""
    from dermfeat.testing._malicious_models import _json, _nodes, _read_skops, _write_skops

    schema, entries = _read_skops(model)
    for node in _nodes(schema):
        state = node.get("content", {}).get("content") if node.get("__loader__") == "ObjectNode" else None
        if isinstance(state, dict) and "memory" in state and "n_jobs" in state:
            state.update(memory=_json(str(cache)), n_jobs=_json(64))
            if "verbose" in state:
                state["verbose"] = _json(10)
    return _write_skops(out, schema, entries)


def cli_predict_settings(model, images, cache, timeout):
    """``dermfeat predict`` with a model whose settings are hostile: they must be reset, with one warning."""
    import csv
    import io

    run = run_cli(["predict", str(model), *images], timeout)
    lines = list(csv.reader(io.StringIO(run["stdout"])))
    if run["events"] or cache.exists():
        result = ("code", "; ".join(run["events"])[:300] or f"{cache} created")
    elif run["hung"]:
        result = ("hang", "predict did not finish")
    elif run["code"] != 0 or "Traceback" in run["stderr"]:
        result = ("crash", f"exit status {run['code']}: {run['stderr'][-300:]}")
    elif "settings stored in the model file were reset" not in run["stderr"] or len(lines) != len(images) + 1:
        result = ("wrong", f"stdout lines {len(lines)}, stderr {run['stderr'][-300:]!r}")
    elif run["children"] > 0:
        result = ("wrong", f"{run['children']} worker processes started")
    else:
        result = ("ok", "")
    return {0: result}, run


# ------------------------------------------------------------------ the run
class Table:
    def __init__(self):
        self.rows, self.t0 = [], time.perf_counter()

    def begin(self):
        self.t0 = time.perf_counter()

    def add(self, name, results, groups, peak):
        counts = Counter(outcome for outcome, _ in results.values() if outcome != "skip")
        tried = Counter(groups[i] for i, (outcome, _) in results.items() if outcome != "skip")
        self.rows.append((name, tried, counts, peak, time.perf_counter() - self.t0))
        bad = sorted((i, o, d) for i, (o, d) in results.items() if o in FAILURES)
        return bad

    def print(self):
        head = f"{'entry point':<46}{'kinds':>6}{'fuzzed':>7}{'big':>4}{'refused':>8}" + "".join(
            f"{c:>8}" for c in ("crash", "hang", "drop", "non-fin", "wrong", "code")) + f"{'peak MB':>9}{'s':>6}"
        print(head)
        print("-" * len(head))
        for name, tried, counts, peak, seconds in self.rows:
            print(f"{name[:45]:<46}{tried['hostile']:>6}{tried['fuzz']:>7}{tried['big']:>4}{counts['refused']:>8}"
                  + "".join(f"{counts[c]:>8}" for c in FAILURES) + f"{peak:>9,.0f}{seconds:>6.0f}")
        totals = Counter()
        for _, _, counts, _, _ in self.rows:
            totals.update({c: counts[c] for c in FAILURES})
        print("-" * len(head))
        print(f"{'total failures':<79}" + "".join(f"{totals[c]:>8}" for c in FAILURES))
        return totals


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz", type=int, default=None, help="fuzzed files (default 2000; 200 with --quick)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fuzzer (default 0)")
    parser.add_argument("--quick", action="store_true", help="200 fuzzed files, 2 worst-case inputs, no real model, "
                        "no 12 MP predict run")
    parser.add_argument("--fuzz-per-params", type=int, default=200, help="fuzzed files through each extra "
                        "configuration of test parameters (default 200; the defaults and every other entry point "
                        "get all of them)")
    parser.add_argument("--item-timeout", type=float, default=60.0, help="seconds one item may take (default 60)")
    parser.add_argument("--only", default=None, help="run only entry points whose name contains this text")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (its path is printed)")
    parser.add_argument("--src", default=None, help="run the entry points from another dermfeat source tree (an "
                        "older checkout's src/), to check that this benchmark notices what it should")
    args = parser.parse_args()
    if args.src:
        SRC[0] = Path(args.src).resolve()
        print(f"entry points run from {SRC[0]}")
    n_fuzz = args.fuzz if args.fuzz is not None else (200 if args.quick else 2000)
    started = time.perf_counter()

    from dermfeat.testing import hostile_image_inputs, mutate_images, write_malicious_models

    import _reliability_worker as W
    from bench_predict_memory import fit_model

    tmp = Path(tempfile.mkdtemp(prefix="dermfeat_bench_reliability_"))
    log = open(tmp / "workers.log", "w")
    used = []
    try:
        root = tmp / "data"
        print(f"inputs: {tmp if args.keep else 'a temporary folder'}")
        cases = hostile_image_inputs(root / "hostile")
        groups = ["hostile"] * len(cases)
        fuzz = mutate_images(args.seed, n_fuzz, root / "fuzz")
        cases += fuzz
        groups += ["fuzz"] * len(fuzz)
        photo, origin = _base_photo()
        used.append(origin + " (content of the worst-case inputs)" if origin.startswith("../") else None)
        big = big_inputs(tmp / "big", photo, args.quick)
        from dermfeat.testing import ImageCase

        cases += [ImageCase(kind, description, "any", path) for kind, path, description in big]
        groups += ["big"] * len(big)
        files = sorted(os.fsdecode(os.path.join(d, f)) for d, _, fs in os.walk(os.fsencode(root)) for f in fs)
        file_groups = ["fuzz" if os.sep + "fuzz" + os.sep in f else "hostile" for f in files]
        print(f"  {len({c.kind for c, g in zip(cases, groups) if g == 'hostile'})} hostile kinds, {n_fuzz} fuzzed "
              f"files (seed {args.seed}), {len(big)} worst-case legal inputs, {len(files)} files in the folder")
        for kind, _, description in big:
            print(f"    {kind}: {description}")
        models_folder = tmp / "models"
        models = write_malicious_models(models_folder)
        print(f"  {len(models)} malicious model files")
        predict_model, demo_model = tmp / "predict.skops", tmp / "demo.skops"
        fit_model(predict_model, "handcrafted")
        fit_model(demo_model, "color")
        shared_models = SHARED / "models"
        use_real = not args.quick and (shared_models / "efficientnet_lite0.onnx").is_file()
        if use_real:
            used.append("../shared/models/efficientnet_lite0.onnx and efficientnet_lite0.json (EfficientNet-Lite0)")
        context = {"cases": cases, "groups": groups, "root": str(root), "files": files, "demo_model": str(demo_model),
                   "models": models, "models_folder": str(models_folder),
                   "shared_models": str(shared_models) if use_real else None}
        context_path = tmp / "context.pickle"
        context_path.write_bytes(pickle.dumps(context))

        table, failures, big_peaks = Table(), [], defaultdict(dict)
        suite = [i for i, g in enumerate(groups) if g != "big"]
        bigs = [i for i, g in enumerate(groups) if g == "big"]

        def wanted(label):
            if args.only and args.only not in label:
                return False
            table.begin()
            return True

        def record(label, results, item_groups, peak, names, note=""):
            failures.extend((label, names[i], o, d) for i, o, d in table.add(label, results, item_groups, peak))
            print(f"  {label}: {table.rows[-1][-1]:.0f} s{note}", flush=True)

        for entry in ["read_image", *W.image_estimators(context), "near_duplicate_groups", DEMO]:
            if not wanted(entry):
                continue
            slow = "EfficientNet" in entry or entry == DEMO
            chunk = 256 if entry == "near_duplicate_groups" else (16 if slow else 64)
            items = suite
            if "test params" in entry:  # the decoding is the defaults'; the features differ: fewer fuzzed files
                fuzzed = [i for i in suite if groups[i] == "fuzz"]
                items = [i for i in suite if groups[i] != "fuzz"] + fuzzed[:args.fuzz_per_params]
            results, peaks = run_worker_entry(str(context_path), entry, items, chunk=chunk,
                                              item_timeout=args.item_timeout, per_item=8.0 if entry == DEMO else 1.0,
                                              log=log)
            suite_seconds = time.perf_counter() - table.t0
            # worst-case inputs measure memory: through the configurations users run (defaults, the real
            # model), not through test parameters
            mine = [i for i in bigs if "test params" not in entry
                    and (entry in ("read_image", DEMO) or cases[i].kind not in FOR_THE_DEMO)]
            big_results, big_peak = run_worker_entry(str(context_path), entry, mine, chunk=1, fresh_each=True,
                                                     item_timeout=args.item_timeout * 3, per_item=0, log=log)
            results.update(big_results)
            for i in mine:
                peak_i, base_i = big_peak.get(i, (float("nan"), float("nan")))
                big_peaks[cases[i].kind][entry] = (peak_i, big_results[i][0], peak_i - base_i)
            peak = max([*peaks.values(), *(p for p, _ in big_peak.values())], default=float("nan"))
            record(entry, results, groups, peak, [c.kind for c in cases], f" ({suite_seconds:.0f} s without the "
                   "worst-case inputs)" if mine else "")

        folder_timeout = 120 + 0.5 * len(files)
        for entry in ("find_image_files", "load_image_folder"):
            if wanted(entry):
                results, peaks = run_worker_entry(str(context_path), entry, list(range(len(files))),
                                                  chunk=len(files), item_timeout=folder_timeout, per_item=0, log=log)
                record(f"{entry} (folder)", results, file_groups, max(peaks.values(), default=0), files)
        for label, call in (
            ("dermfeat extract (folder)", lambda: cli_extract(files, root, tmp, False, folder_timeout)),
            ("dermfeat extract --unlabelled", lambda: cli_extract(files, root, tmp, True, folder_timeout)),
            ("dermfeat describe", lambda: cli_describe(files, root, folder_timeout)),
            ("dermfeat predict (every file)", lambda: cli_predict(predict_model, files, folder_timeout)),
        ):
            if wanted(label):
                results, run = call()
                record(label, results, file_groups, run["peak_mb"], files)

        model_groups, model_names = ["hostile"] * len(models), [m.name for m in models]
        if wanted("load_model (malicious models)"):
            results, peaks = run_worker_entry(str(context_path), "load_model", list(range(len(models))), chunk=64,
                                              item_timeout=args.item_timeout, per_item=2.0, log=log)
            record("load_model (malicious models)", results, model_groups, max(peaks.values()), model_names)
        if wanted("dermfeat predict (malicious models)"):
            valid = next(c.source for c in cases if c.kind == "jpeg_baseline")
            results, peak = cli_predict_models(models, valid, models_folder, args.item_timeout * 2)
            record("dermfeat predict (malicious models)", results, model_groups, peak, model_names)
        if wanted("dermfeat predict (hostile settings)"):
            cache = tmp / "attacker_named_cache"
            settings = hostile_settings_model(predict_model, tmp / "hostile_settings.skops", cache)
            valid = [c.source for c in cases if c.expected == "ok" and c.kind.startswith(("jpeg_", "png_"))
                     and isinstance(c.source, str)][:16]
            results, run = cli_predict_settings(settings, valid, cache, args.item_timeout * 4)
            record("dermfeat predict (hostile settings)", results, ["hostile"], run["peak_mb"],
                   ["cache folder, 64 workers"])
        log.flush()

        print()
        totals = table.print()
        if bigs and big_peaks:
            print("\nworst-case legal inputs (<= 10 MB), one by one in a fresh worker per entry point: peak MB of the "
                  "process while handling it\n(+ what it added to the memory the process held before it)")
            overall = (0.0, "", "", 0.0)

            def shown_peak(v):
                return f"{v[0]:,.0f} (+{v[2]:,.0f})"

            for kind, per_entry in big_peaks.items():
                name, worst = max(per_entry.items(), key=lambda kv: -1 if np.isnan(kv[1][0]) else kv[1][0])
                demo, read = per_entry.get(DEMO), per_entry.get("read_image")
                text = f"  {kind:<24} worst {shown_peak(worst):>14} in {name} ({worst[1]})"
                text += f"; read_image {shown_peak(read)}" if read else ""
                text += f"; demo {shown_peak(demo)} ({demo[1]})" if demo else ""
                print(text)
                if worst[0] > overall[0]:
                    overall = (worst[0], kind, name, worst[2])
            largest = max(v[2] for per in big_peaks.values() for v in per.values() if not np.isnan(v[2]))
            print(f"  max: {overall[0]:,.0f} MB ({overall[1]} in {overall[2]}, +{overall[3]:,.0f}); largest addition "
                  f"+{largest:,.0f} MB; goal < 1,024 MB: {'met' if overall[0] < 1024 else 'NOT met'}")
        if failures:
            print("\nfailures:")
            for entry, what, outcome, detail in failures[:60]:
                print(f"  {entry} | {what} | {outcome}: {detail}")
            if len(failures) > 60:
                print(f"  ... and {len(failures) - 60} more")
        kinds = len({c.kind for c, g in zip(cases, groups) if g == "hostile"})
        worst = max((v[0] for per in big_peaks.values() for v in per.values() if not np.isnan(v[0])), default=0)
        goal = kinds >= 60 and len(models) >= 10 and n_fuzz >= 2000 and not any(totals.values()) and worst < 1024
        print(f"\ngoal (0 failures, >= 60 kinds, >= 10 malicious models, >= 2,000 fuzzed files, no upload of "
              f"<= 10 MB over 1,024 MB): {'met' if goal else 'NOT met'} ({kinds} kinds, {len(models)} models, "
              f"{n_fuzz} fuzzed, {worst:,.0f} MB)")

        if not args.quick and not args.only:
            from bench_predict_memory import make_photo, run_predict

            photos = tmp / "photos"
            photos.mkdir()
            what = make_photo(photos / "photo.jpg")
            copies = []
            for k in range(200):
                copies.append(photos / f"copy_{k:03d}.jpg")
                shutil.copyfile(photos / "photo.jpg", copies[-1])
            rss, seconds, n_rows, n_errors = run_predict(predict_model, copies)
            print(f"\ndermfeat predict over 200 copies of a 12 MP photo ({what}): peak {rss:,.0f} MB, "
                  f"{seconds:.0f} s, {n_rows} rows, {n_errors} errors; goal < 1,024 MB: "
                  f"{'met' if rss < 1024 else 'NOT met'}")
            if "DermNet" in what:
                used.append("../shared/data/dermnetnz (the 12 MP photo)")
        used = [u for u in used if u]
        print("\n../shared files used: " + ("; ".join(used) if used else "none (../shared is not beside the project)"))
        import resource

        cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                  for f in ("ru_utime", "ru_stime"))
        print(f"run time: {time.perf_counter() - started:.0f} s wall, {cpu:.0f} s CPU (workers included; "
              f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f})")
    finally:
        log.close()
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
