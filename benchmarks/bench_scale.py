"""Streaming extraction at scale: throughput, bounded memory, 1 vs 2 Dask workers.

    python benchmarks/bench_scale.py [--n-images 20000] [--small 2000] [--dask-images 4000]
                                     [--image-size 64] [--batch-size 512] [--features quality]
                                     [--repeats 3]

1. Writes ``--n-images`` synthetic JPEG photographs (``make_lesion_images`` in
   chunks of 1000, one sub-folder per chunk) to a temporary folder, removed at
   the end; nothing is written inside the repository.
2. Runs :func:`dermfeat.extraction.extract_features` to Parquet over the first
   ``--small`` images and over all of them, each in a fresh child process, and
   prints images/s and the child's peak resident memory (``ru_maxrss``, so
   peaks do not carry over from one measurement to the next) next to its
   memory after the imports.  With memory bounded by the batch size, the peak
   must not grow with the number of images.
3. Runs the same extraction over ``--dask-images`` images on a
   ``dask.distributed.LocalCluster`` (loopback, no dashboard) with 1 and with 2
   single-threaded worker processes, and once locally with ``n_jobs=2``, and
   prints images/s and images per CPU-second (of the workers, for Dask), the
   best of ``--repeats`` interleaved runs per configuration.  The
   cluster is started and its workers warmed up (imports) before the clock
   starts.  Wall-clock speed-ups need idle cores: the load average is printed
   because other processes on the machine take cores from the workers, while
   images per CPU-second hardly depends on the load.  The Dask workers run
   without the ``MALLOC_TRIM_THRESHOLD_=65536`` Dask sets by default for worker
   processes; a last run with it shows what it costs (about 80% more CPU time
   per image here, all of it system time for page faults).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _rss_mb():
    """Peak resident set size of this process so far, in MB (Linux reports KiB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 2**20


def _cpu_seconds():
    """User + system CPU time of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def generate(folder, n, image_size, chunk=1000):
    from dermfeat.datasets import make_lesion_images

    files = []
    for i, start in enumerate(range(0, n, chunk)):
        data = make_lesion_images(min(chunk, n - start), image_size=image_size,
                                  directory=folder / f"chunk_{i:04d}", random_state=i)
        files.extend(str(f) for f in data.filenames)
        del data
    listing = folder / "files.txt"
    listing.write_text("\n".join(files))
    return listing


def _extractor(name, n_jobs=None):
    from dermfeat.pipeline import make_features

    return make_features(name, n_jobs=n_jobs)


def child(args):
    """One measurement in this (fresh) process; prints a JSON line."""
    from dermfeat.extraction import extract_features

    files = Path(args.files).read_text().split("\n")[: args.limit]
    out = Path(args.workdir) / f"features_{args.child}_{args.limit}_{args.workers}_{os.getpid()}.parquet"
    cluster = client = None
    if args.child == "dask":
        import logging

        import dask
        from distributed import Client, LocalCluster

        if args.malloc_trim == "unset":
            # Dask starts worker processes with MALLOC_TRIM_THRESHOLD_=65536, which makes glibc hand
            # freed memory back at once: every image's buffers are then page-faulted in again
            dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
        client.wait_for_workers(args.workers)
        # warm-up: every worker imports dermfeat and the extractor before the clock starts
        extract_features(_extractor(args.features), files[: 2 * args.workers], out.with_suffix(".warm.parquet"),
                         batch_size=1, progress=False, scheduler=client)
    transformer = _extractor(args.features, n_jobs=args.workers if args.child == "local" else None)
    transformer.fit()
    after_imports = _rss_mb()
    cpu_before = _cpu_seconds()
    workers_before = sum(client.run(_cpu_seconds).values()) if client is not None else 0.0
    start = time.perf_counter()
    result = extract_features(transformer, files, out, batch_size=args.batch_size, progress=False,
                              scheduler=client)
    seconds = time.perf_counter() - start
    cpu = _cpu_seconds() - cpu_before
    if client is not None:  # the work is done in the worker processes: count their CPU time
        cpu = sum(client.run(_cpu_seconds).values()) - workers_before
    if client is not None:
        client.close()
        cluster.close()
    print(json.dumps({
        "n": result.n_rows, "seconds": seconds, "cpu_seconds": cpu, "images_per_s": result.n_rows / seconds,
        "rss_after_imports_mb": after_imports, "peak_rss_mb": _rss_mb(), "output_mb": os.path.getsize(out) / 2**20,
    }))


def measure(kind, listing, workdir, limit, args, workers=1, malloc_trim="unset"):
    cmd = [sys.executable, __file__, "--child", kind, "--files", str(listing), "--workdir", str(workdir),
           "--limit", str(limit), "--workers", str(workers), "--batch-size", str(args.batch_size),
           "--features", args.features, "--malloc-trim", malloc_trim]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n-images", type=int, default=20000, help="synthetic images to write (default 20000)")
    parser.add_argument("--small", type=int, default=2000, help="the smaller run (default 2000)")
    parser.add_argument("--dask-images", type=int, default=4000, help="images for the 1 vs 2 workers runs")
    parser.add_argument("--image-size", type=int, default=64, help="side of the images in pixels (default 64)")
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3, help="Dask runs per configuration, best kept (default 3)")
    parser.add_argument("--features", default="quality", help="feature set (a cheap one: quality, skin_tone)")
    parser.add_argument("--child", choices=["local", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--files", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--malloc-trim", default="unset", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args)

    workdir = Path(tempfile.mkdtemp(prefix="dermfeat-bench-scale-"))
    try:
        start = time.perf_counter()
        listing = generate(workdir, args.n_images, args.image_size)
        print(f"wrote {args.n_images} synthetic {args.image_size}-px JPEGs in {time.perf_counter() - start:.0f} s; "
              f"features {args.features!r}, batch size {args.batch_size}, {os.cpu_count()} cores, "
              f"load average {os.getloadavg()[0]:.1f}")
        print()
        print(f"{'run':<34}{'images':>8}{'s':>8}{'images/s':>10}{'images/CPU-s':>14}"
              f"{'RSS after imports':>19}{'peak RSS':>10}")
        rows = []
        for limit in (args.small, args.n_images):
            r = measure("local", listing, workdir, limit, args)
            rows.append(r)
            print(f"{'local, one process':<34}{r['n']:>8}{r['seconds']:>8.1f}{r['images_per_s']:>10.0f}"
                  f"{r['n'] / r['cpu_seconds']:>14.0f}{r['rss_after_imports_mb']:>16.0f} MB{r['peak_rss_mb']:>7.0f} MB")
        growth = rows[1]["peak_rss_mb"] - rows[0]["peak_rss_mb"]
        print(f"peak memory {args.n_images // args.small}x more images: {growth:+.0f} MB "
              f"({rows[1]['peak_rss_mb'] / rows[0]['peak_rss_mb']:.2f}x)")
        print()
        n = min(args.dask_images, args.n_images)
        r = measure("local", listing, workdir, n, args, workers=2)
        # (the CPU time of joblib's worker processes, alive at the end, is not counted: no figure)
        print(f"{'local, n_jobs=2':<34}{r['n']:>8}{r['seconds']:>8.1f}{r['images_per_s']:>10.0f}{'-':>14}")
        configs = ((1, "unset"), (2, "unset"), (2, "default"))
        best = {}
        for _ in range(args.repeats):  # interleaved, best of the repeats: bursts of load hit all alike
            for workers, trim in configs:
                r = measure("dask", listing, workdir, n, args, workers=workers, malloc_trim=trim)
                if (workers, trim) not in best or r["images_per_s"] > best[workers, trim]["images_per_s"]:
                    best[workers, trim] = r
        speeds = {}
        for workers, trim in configs:
            r = best[workers, trim]
            if trim == "unset":
                speeds[workers] = r["images_per_s"]
            label = f"Dask LocalCluster, {workers} worker{'s' if workers > 1 else ''}"
            if trim == "default":
                label = "  same, Dask's MALLOC_TRIM default"
            print(f"{label:<34}{r['n']:>8}{r['seconds']:>8.1f}{r['images_per_s']:>10.0f}"
                  f"{r['n'] / r['cpu_seconds']:>14.0f}{'':>16}   {r['peak_rss_mb']:>7.0f} MB (client)")
        print(f"2 vs 1 Dask workers: {speeds[2] / speeds[1]:.2f}x (load average now {os.getloadavg()[0]:.1f}; "
              "other processes on the machine take cores from the workers)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
