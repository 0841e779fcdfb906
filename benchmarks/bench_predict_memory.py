"""Peak memory of ``dermfeat predict`` over many 12-megapixel phone photos.

    python benchmarks/bench_predict_memory.py [--copies 200] [--features handcrafted]
                                              [--batch-size N] [--all-at-once 10,20]

Fits a small model (``--features``, logistic head) on synthetic photographs, writes
one 4000 x 3000 JPEG (a DermNet NZ photograph from ../shared/data/dermnetnz
upscaled, with fine sensor-like noise so that it compresses like a real phone
photo; a synthetic photograph when ../shared is absent: the output says which) and
copies it ``--copies`` times into a temporary folder.  Then it runs
``dermfeat predict MODEL FOLDER/*.jpg`` in a subprocess and prints its peak resident
memory, the time, and the rows written.  The peak is the kernel's high-water mark of
the process (``VmHWM`` in ``/proc/PID/status``, read every 10 ms while it runs: it
only grows, so the last reading is the peak up to 10 ms before the end), with any
child processes' RSS added as sampled.  (``ru_maxrss`` from ``wait4`` is not used:
it keeps the high-water mark of the forked copy of this script from before ``exec``.)

``--all-at-once 10,20`` also measures the behaviour before streaming (every photo
decoded before the first prediction: ``--batch-size`` equal to the number of
photos) on 10 and 20 copies and extrapolates it linearly to ``--copies``; the
extrapolated figure is labelled as such.  Nothing is written outside the
temporary folder, which is removed at the end.
"""

import argparse
import csv
import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DERMNET = ROOT.parent / "shared" / "data" / "dermnetnz"


def make_photo(path, width=4000, height=3000, seed=0):
    """Write a 12 MP JPEG; return a sentence saying what it is."""
    rng = np.random.default_rng(seed)
    sources = sorted((DERMNET / "atopic_dermatitis").glob("*.jpg")) if DERMNET.is_dir() else []
    if sources:
        small = cv2.cvtColor(cv2.imread(str(sources[0])), cv2.COLOR_BGR2RGB)
        origin = f"the DermNet NZ photograph ../shared/data/dermnetnz/atopic_dermatitis/{sources[0].name} " \
                 f"({small.shape[1]}x{small.shape[0]}) upscaled"
    else:
        from dermfeat.datasets import make_lesion_images

        small = make_lesion_images(1, image_size=512, random_state=seed).images[0]
        origin = "a synthetic photograph (make_lesion_images, ../shared absent) upscaled"
    big = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.int16)
    big += rng.normal(0, 6, size=big.shape).astype(np.int16)  # sensor-like grain: realistic file size
    big = np.clip(big, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(big, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
    assert ok
    path.write_bytes(buf.tobytes())
    return f"{width}x{height} JPEG of {len(buf) / 1e6:.1f} MB: {origin} with fine noise"


def fit_model(path, features):
    from dermfeat.datasets import make_lesion_images
    from dermfeat.persistence import save_model
    from dermfeat.pipeline import make_classifier

    data = make_lesion_images(40, image_size=128, random_state=0)
    pipe = make_classifier(features, "logistic", pos_label="atopic_dermatitis").fit(data.images, data.labels)
    save_model(pipe, path, metadata={"features": features, "pos_label": "atopic_dermatitis"})


def _peak_mb(pid):
    """The kernel's high-water mark of the process's resident memory (Linux), in MB."""
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/PID/status")


def run_predict(model, files, batch_size=None):
    """Run ``dermfeat predict`` in a child; return (peak RSS MB, seconds, rows, errors)."""
    import psutil

    cmd = [sys.executable, "-m", "dermfeat", "predict", str(model), *map(str, files)]
    if batch_size is not None:
        cmd += ["--batch-size", str(batch_size)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        proc, peak, done = psutil.Process(child.pid), [0.0], threading.Event()

        def sample():
            while not done.is_set():
                try:
                    own = _peak_mb(child.pid)
                    others = sum(p.memory_info().rss for p in proc.children(recursive=True)) / 1024 / 1024
                    peak[0] = max(peak[0], own + others)
                except (OSError, RuntimeError, psutil.Error):  # the process is ending
                    pass
                done.wait(0.01)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        child.wait()
        done.set()
        sampler.join()
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise SystemExit(f"dermfeat predict failed ({child.returncode}):\n{stderr}")
    rows = list(csv.DictReader(io.StringIO(stdout)))
    errors = sum(1 for r in rows if r["error"])
    return peak[0], seconds, len(rows), errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=200)
    parser.add_argument("--features", default="handcrafted")
    parser.add_argument("--batch-size", type=int, default=None, help="passed to dermfeat predict (default: its own)")
    parser.add_argument("--all-at-once", default="10,20",
                        help="copy counts for the all-at-once (pre-streaming) figure; '' to skip")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="dermfeat_bench_mem_"))
    try:
        model = tmp / "model.skops"
        fit_model(model, args.features)
        photo = tmp / "photo.jpg"
        what = make_photo(photo)
        folder = tmp / "photos"
        folder.mkdir()
        files = []
        for i in range(args.copies):
            files.append(folder / f"photo_{i:04d}.jpg")
            shutil.copyfile(photo, files[-1])
        print(f"photo: {what}")
        print(f"model: {args.features} + logistic, fitted on 40 synthetic photographs")
        print(f"dermfeat predict over {args.copies} copies (streaming, batch size "
              f"{args.batch_size or 'default'}):")
        rss, seconds, rows, errors = run_predict(model, files, args.batch_size)
        print(f"  peak RSS {rss:,.0f} MB; {seconds:.1f} s; {rows} rows, {errors} errors; "
              f"goal < 1,024 MB: {'met' if rss < 1024 else 'NOT met'}")
        counts = [int(c) for c in args.all_at_once.split(",") if c.strip()]
        if counts:
            measured = []
            print("all at once (every photo decoded before the first prediction, as before streaming; "
                  "--batch-size = number of photos):")
            for n in counts:
                rss_n, seconds_n, _, _ = run_predict(model, files[:n], batch_size=n)
                measured.append((n, rss_n))
                print(f"  {n} copies: peak RSS {rss_n:,.0f} MB; {seconds_n:.1f} s")
            if len(measured) >= 2:
                (n1, r1), (n2, r2) = measured[0], measured[-1]
                slope = (r2 - r1) / (n2 - n1)
                print(f"  EXTRAPOLATED (linear, not measured) to {args.copies} copies: "
                      f"{r2 + slope * (args.copies - n2):,.0f} MB ({slope:.1f} MB per photo)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
