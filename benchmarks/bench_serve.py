"""Throughput, latency and memory of the web demo under concurrent uploads, before and after.

    python benchmarks/bench_serve.py [--clients 8] [--requests 200] [--heatmaps 5]
                                     [--base 1a98fd1] [--skip-before]

Fits a small model once (EfficientNet-Lite0 embeddings from ../shared/models, a
logistic head, fitted on 64 DermNet NZ photographs from ../shared/data/dermnetnz;
neither is copied into the repository) and saves it in a temporary folder.  Then,
for each code version, it starts ``dermfeat serve``'s application (``create_app``
under uvicorn, its own defaults) in a subprocess listening on 127.0.0.1 only, and:

1. sends one heat-map request at a time to an otherwise idle server (``--heatmaps``
   of them) and reports their latency: what one user waits for a heat map;
2. sends ``--clients`` concurrent clients x ``--requests`` uploads each of one real
   photograph (keep-alive connections, multipart form, no heat map), and reports
   requests per second, the server's CPU time per request (user + system, all
   threads: what bounds an idle machine's throughput, and much less sensitive to
   other work on a busy one), the latency percentiles and the server's resident memory
   sampled every 100 ms (after the warm-up, at the end and its peak; "flat" means
   the second half of the run peaks no higher than the first half plus 5 %).

Both servers run at the same time but only one is sent work at a time: the heat
maps alternate between them, and the uploads are split into ``--rounds`` rounds
that alternate (before, after, after, before, ...), so that a change in the
machine's other load during the run weighs on both alike.

"before" is the serving code of the base commit (``--base``, the commit this work
started from), exported with ``git archive`` into the temporary folder and run from
there; "after" is this checkout's ``src``.  Same machine, model and photograph, so
their ratio is meaningful even on a busy machine; the absolute figures are not.  Every request has a time-out and the
run stops after ``--max-seconds`` per server; both servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
PHOTO = DATA / "atopic_dermatitis" / "atopic-dermatitis__atopic31.jpg"
#: The commit the serving work started from: "before".
BASE = "1a98fd1"
BOUNDARY = "dermfeatbenchboundary"

SERVER = """
import sys, uvicorn
from dermfeat.serve import create_app
app = create_app(sys.argv[1])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def fit_model(folder):
    """A saved EfficientNet-Lite0 + logistic model, fitted on 64 shared photographs."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from dermfeat.features import OnnxEmbedder
    from dermfeat.persistence import save_model

    files, labels = [], []
    for label in ("atopic_dermatitis", "eczema"):
        chosen = sorted((DATA / label).glob("*.jpg"))[:32]
        files += [str(p) for p in chosen]
        labels += [label] * len(chosen)
    pipe = make_pipeline(OnnxEmbedder.from_card(MODELS / "efficientnet_lite0.json"), StandardScaler(),
                         LogisticRegression(C=0.1, class_weight="balanced", max_iter=5000))
    pipe.fit(files, labels)
    meta = {"features": "efficientnet", "head": "logistic", "pos_label": "atopic_dermatitis",
            "n_training_images": len(files)}
    return save_model(pipe, folder / "model.skops", metadata=meta)


def export_base(commit, folder):
    """``src`` of ``commit`` in ``folder``; None (with the reason) when git or the commit is unavailable."""
    archive = folder / "base.tar"
    try:
        with open(archive, "wb") as fh:
            subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"], stdout=fh, check=True,
                           stderr=subprocess.PIPE, timeout=120)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"cannot export {commit} with git ({exc})"
    with tarfile.open(archive) as tar:
        tar.extractall(folder / "base", filter="data")
    return folder / "base" / "src", None


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return float("nan")
    return float("nan")


class Server:
    """The demo's app for ``model`` under uvicorn in a subprocess, with ``src`` first on the path."""

    def __init__(self, src, model):
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen([sys.executable, "-c", SERVER, str(model), str(self.port)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server did not start: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                status, _ = request(self.port, "GET", "/api/health", timeout=2)
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the server did not answer within 120 s")
            time.sleep(0.2)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


def multipart(data):
    head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode()
    return head + data + f"\r\n--{BOUNDARY}--\r\n".encode()


def request(port, method, path, body=None, conn=None, timeout=120):
    """``(status, seconds)`` of one request (on ``conn`` if given, kept alive)."""
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {} if body is None else {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    start = time.perf_counter()
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read()
    seconds = time.perf_counter() - start
    if own:
        conn.close()
    return response.status, seconds


def cpu_seconds(pid):
    """User + system CPU time of a process so far (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


class Memory:
    """The resident memory of a server process, sampled every 100 ms in a thread."""

    def __init__(self, pid):
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            self.samples.append(rss_mb(self.pid))
            self.stop.wait(0.1)

    def close(self):
        self.stop.set()
        self.thread.join()
        return np.array(self.samples)


def burst(server, body, clients, n_requests, deadline):
    """``clients`` keep-alive connections each sending ``n_requests`` uploads: ``(results, seconds)``."""

    def client(_):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        out = []
        try:
            for _ in range(n_requests):
                if time.monotonic() > deadline:
                    break
                out.append(request(server.port, "POST", "/api/predict", body, conn=conn))
        finally:
            conn.close()
        return out

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        results = [r for part in pool.map(client, range(clients)) for r in part]
    return results, time.perf_counter() - start


def compare(servers, body, args):
    """Heat maps, then the concurrent uploads, in rounds that alternate between the servers.

    Alternating (before, after, after, before, ...) spreads any change in the
    machine's other load over both servers alike.
    """
    names = list(servers)
    heat = {name: [] for name in names}
    for name in names:  # warm-up: sessions, code paths
        request(servers[name].port, "POST", "/api/predict?heatmap=1", body)
        for _ in range(4):
            request(servers[name].port, "POST", "/api/predict", body)
    for i in range(args.heatmaps):
        for name in names if i % 2 == 0 else names[::-1]:
            heat[name].append(request(servers[name].port, "POST", "/api/predict?heatmap=1", body)[1])
    memory = {name: Memory(servers[name].proc.pid) for name in names}
    results = {name: [] for name in names}
    wall, cpu = dict.fromkeys(names, 0.0), dict.fromkeys(names, 0.0)
    per_round = max(1, args.requests // args.rounds)
    deadline = time.monotonic() + args.max_seconds
    for i in range(args.rounds):
        for name in names if i % 2 == 0 else names[::-1]:
            before = cpu_seconds(servers[name].proc.pid)
            part, seconds = burst(servers[name], body, args.clients, per_round, deadline)
            cpu[name] += cpu_seconds(servers[name].proc.pid) - before
            results[name] += part
            wall[name] += seconds
    rss = {name: memory[name].close() for name in names}
    return {name: report(name, results[name], rss[name], wall[name], cpu[name], heat[name]) for name in names}


def report(name, results, rss, wall, cpu, heat):
    statuses = [s for s, _ in results]
    ok = np.array([t for s, t in results if s == 200])
    half = len(rss) // 2
    flat = bool(half) and rss[half:].max() <= 1.05 * rss[:half].max()
    line = {
        "requests": len(results), "ok": int((np.array(statuses) == 200).sum()),
        "rps": len(ok) / wall, "cpu_ms": 1000 * cpu / max(1, len(results)), "p50": np.percentile(ok, 50), "p90": np.percentile(ok, 90),
        "p99": np.percentile(ok, 99), "max": ok.max(),
        "rss_start": rss[0], "rss_end": rss[-1], "rss_peak": rss.max(), "flat": flat,
        "heat_median": float(np.median(heat)), "heat_max": float(np.max(heat)),
    }
    print(f"{name:6s} {line['ok']:5d}/{line['requests']:<5d} {line['rps']:7.2f} req/s  "
          f"{line['cpu_ms']:5.1f} ms CPU/request   "
          f"p50 {line['p50']:.3f} s  p90 {line['p90']:.3f} s  p99 {line['p99']:.3f} s  max {line['max']:.3f} s   "
          f"RSS {line['rss_start']:.0f} -> {line['rss_end']:.0f} MB (peak {line['rss_peak']:.0f}, "
          f"{'flat' if flat else 'GROWING'})   one heat map: median {line['heat_median']:.3f} s "
          f"(max {line['heat_max']:.3f})")
    return line


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=200, help="uploads per client")
    parser.add_argument("--heatmaps", type=int, default=5, help="heat-map requests timed one at a time")
    parser.add_argument("--base", default=BASE, help="commit whose serving code is 'before'")
    parser.add_argument("--skip-before", action="store_true")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds the uploads are split into")
    parser.add_argument("--max-seconds", type=float, default=1800, help="bound on the concurrent uploads, all rounds")
    args = parser.parse_args(argv)
    if not PHOTO.is_file() or not (MODELS / "efficientnet_lite0.onnx").is_file():
        raise SystemExit("needs ../shared/data/dermnetnz and ../shared/models/efficientnet_lite0.onnx")
    print(f"photograph ../shared/data/dermnetnz/{PHOTO.relative_to(DATA)} ({PHOTO.stat().st_size / 1024:.0f} kB); "
          f"model: EfficientNet-Lite0 (../shared/models) + logistic head; {os.cpu_count()} cores; "
          f"{args.clients} clients x {args.requests} uploads; 127.0.0.1 only")
    body = multipart(PHOTO.read_bytes())
    folder = Path(tempfile.mkdtemp(prefix="bench_serve_"))
    try:
        model = fit_model(folder)
        versions = []
        if not args.skip_before:
            src, why = export_base(args.base, folder)
            if src is None:
                print(f"before: skipped: {why}")
            else:
                versions.append((f"before ({args.base})", src))
        versions.append(("after", ROOT / "src"))
        servers = {}
        try:
            for name, src in versions:
                servers[name.split()[0]] = Server(src, model)
            lines = compare(servers, body, args)
        finally:
            for server in servers.values():
                server.stop()
        if "before" in lines:
            b, a = lines["before"], lines["after"]
            print(f"after / before: throughput x{a['rps'] / b['rps']:.2f} (goal >= 1.8), "
                  f"CPU per request x{b['cpu_ms'] / a['cpu_ms']:.2f} less, "
                  f"p99 {b['p99']:.3f} -> {a['p99']:.3f} s (goal <= 1 s), "
                  f"one heat map {b['heat_median']:.3f} -> {a['heat_median']:.3f} s "
                  f"(x{b['heat_median'] / a['heat_median']:.1f} faster; goal <= 1 s), memory {'flat' if a['flat'] else 'GROWING'}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
