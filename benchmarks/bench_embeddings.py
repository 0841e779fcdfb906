"""OnnxEmbedder end to end (JPEG files -> embeddings) vs raw onnxruntime, in one process.

Uses the real photographs in ../shared/data/dermnetnz and the pretrained models in
../shared/models (neither is ever copied into the repository).

    python benchmarks/bench_embeddings.py [--limit N] [--repeats R] [--batch-size B]
                                          [--threads T] [--models efficientnet_lite0 ...]

For each model card in ../shared/models, prints images/s of

* ``OnnxEmbedder.from_card(card).fit().transform(jpeg_paths)``: reading, decoding,
  resizing, normalising and inference, with no feature cache;
* a plain ``onnxruntime.InferenceSession`` (same model, batch size and intra-op
  threads) fed the same images already decoded, resized and normalised into
  float32 tensors: the model alone, the upper bound;

and the ratio of the two (1.0 means image preparation costs nothing).  The two
are measured alternately in the same process, ``--repeats`` times each, and the
best run of each is kept, so that load from other processes on the machine
affects both alike.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort

from dermfeat.features import OnnxEmbedder

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"


def image_paths(limit=None):
    with open(DATA / "manifest.csv", newline="", encoding="utf-8") as fh:
        paths = [str(DATA / row["path"]) for row in csv.DictReader(fh)]
    return paths[:limit] if limit else paths


def raw_tensors(embedder, paths, batch_size):
    """The images decoded, resized and normalised exactly as the embedder does, in batches."""
    views = [embedder._prepare(embedder._decode(Path(p).read_bytes(), p)) for p in paths]
    tensors = [embedder._normalise(np.concatenate(views[i:i + batch_size])) for i in range(0, len(views), batch_size)]
    return [np.ascontiguousarray(t) for t in tensors]


def raw_session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


def time_raw(session, input_name, output_name, tensors):
    start = time.perf_counter()
    for tensor in tensors:
        session.run([output_name], {input_name: tensor})
    return time.perf_counter() - start


def time_embedder(embedder, paths):
    start = time.perf_counter()
    out = embedder.transform(paths)
    elapsed = time.perf_counter() - start
    assert out.shape[0] == len(paths) and np.all(np.isfinite(out))
    return elapsed


def bench_model(card, paths, args):
    threads = args.threads or joblib.cpu_count()
    embedder = OnnxEmbedder.from_card(card, batch_size=args.batch_size, n_threads=threads).fit()
    tensors = raw_tensors(embedder, paths, args.batch_size)
    session = raw_session(embedder.model_path_, threads)
    warm = tensors[0][: min(4, len(tensors[0]))]
    session.run([embedder.output_name_], {embedder.input_name_: warm})
    embedder.transform(paths[: min(8, len(paths))])  # loads the session, warms the caches
    raw_best = emb_best = float("inf")
    for _ in range(args.repeats):
        raw_best = min(raw_best, time_raw(session, embedder.input_name_, embedder.output_name_, tensors))
        emb_best = min(emb_best, time_embedder(embedder, paths))
    n = len(paths)
    raw_ips, emb_ips = n / raw_best, n / emb_best
    name = json.loads(Path(card).read_text())["name"]
    print(
        f"{name:20s} {n:5d} images  batch {args.batch_size}  threads {threads}  "
        f"raw onnxruntime {raw_ips:7.1f} img/s  OnnxEmbedder from JPEG {emb_ips:7.1f} img/s  "
        f"ratio {emb_ips / raw_ips:.3f}",
        flush=True,
    )
    return emb_ips / raw_ips


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photographs")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each (best kept)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    parser.add_argument("--models", nargs="*", default=None, help="model card names (default: all)")
    args = parser.parse_args(argv)
    if not (DATA / "manifest.csv").is_file() or not MODELS.is_dir():
        raise SystemExit(f"needs ../shared beside the project (looked in {SHARED})")
    paths = image_paths(args.limit)
    cards = sorted(MODELS.glob("*.json"))
    if args.models:
        cards = [c for c in cards if c.stem in args.models]
    print(f"Uses ../shared data and models: {len(paths)} DermNet NZ JPEGs from {DATA.name}/, "
          f"models {', '.join(c.stem for c in cards)} from ../shared/models; {os.cpu_count()} CPUs")
    for card in cards:
        bench_model(card, paths, args)


if __name__ == "__main__":
    main()
