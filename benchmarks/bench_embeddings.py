"""OnnxEmbedder end to end (JPEG files -> embeddings) vs raw onnxruntime, in one process.

Uses the real photographs in ../shared/data/dermnetnz and the pretrained models in
../shared/models (neither is ever copied into the repository); a model named with
``--models`` that has no card there comes from :mod:`dermfeat.zoo` (built once into its
cache), e.g. ``--models efficientnet_lite0 efficientnet_lite2``.

    python benchmarks/bench_embeddings.py [--limit N] [--repeats R] [--batch-size B]
                                          [--threads T] [--models efficientnet_lite0 ...]
                                          [--int8 {yes,no,only}]

For each model card (by default every card in ../shared/models), prints images/s of

* ``OnnxEmbedder.from_card(card).fit().transform(jpeg_paths)``: reading, decoding,
  resizing, normalising and inference, with no feature cache; with the default exact
  decoding, and with ``decode_tolerance=0.1`` (JPEGs decoded at half size when that
  leaves at least 90 % of ``resize_short_side``: the case of the 640 x 480 photographs);
* onnxruntime alone (same model, batch size and intra-op threads) fed the same
  images already decoded, resized and normalised into float32 tensors: the upper
  bound.  Twice: a plain ``InferenceSession`` with default options, and the
  embedder's own session (idle threads sleep rather than spin: on an idle machine
  the two are equally fast, under load from other processes spinning threads lose);

and the ratio of the two (1.0 means image preparation costs nothing).  The two
are measured alternately in the same process, ``--repeats`` times each, and the
best run of each is kept, so that load from other processes on the machine
affects both alike.  The CPU time per image is printed too: it hardly depends on
other processes.  On a machine whose cores the model alone already keeps busy,
``raw CPU / embedder CPU`` is about the ratio that can be reached: the embedder
prepares each batch with all the model's threads, then runs the model, so its
extra CPU per image is the preparation itself.

Then, for the zoo's int8 backbones (``efficientnet-lite0-int8``, ``dinov2-small-int8``,
built into the zoo's cache on first use, which takes a minute or two), onnxruntime alone on
the same prepared tensors with the float32 zoo model they were quantised from and with the
int8 model (plain sessions, same threads and batch size, alternated ``--repeats`` times):
images/s and CPU per image of each, their ratio (best runs, and the median of the per-round
ratios), and the cosine similarity of every embedding output to the float32 one over all
the photographs (mean and lowest).  ``--int8 only`` measures just this, ``--int8 no`` skips it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import time
from pathlib import Path

import joblib
import numpy as np
import onnxruntime as ort

from dermfeat import zoo
from dermfeat.features import OnnxEmbedder

#: float32 zoo model -> its int8 version, and the goal for the int8 / float32 throughput ratio.
INT8 = {"efficientnet-lite0": ("efficientnet-lite0-int8", 1.8), "efficientnet-lite2": ("efficientnet-lite2-int8", 1.8),
        "dinov2-small": ("dinov2-small-int8", 1.5)}
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
DATA = SHARED / "data" / "dermnetnz"
MODELS = SHARED / "models"
DEFAULT, OWN = "default options", "embedder's session"


def image_paths(limit=None):
    with open(DATA / "manifest.csv", newline="", encoding="utf-8") as fh:
        paths = [str(DATA / row["path"]) for row in csv.DictReader(fh)]
    return paths[:limit] if limit else paths


def model_cards(names=None):
    """Cards of ../shared/models (all of them without names); a name with no card there is a zoo model."""
    shared = {card.stem: card for card in sorted(MODELS.glob("*.json"))}
    if not names:
        return list(shared.values())
    return [shared.get(name.replace("-", "_")) or zoo.model_card_path(name) for name in names]


def raw_tensors(embedder, paths, batch_size):
    """The images decoded, resized and normalised exactly as the embedder does, in batches."""
    views = [embedder._prepare(embedder._decode(Path(p).read_bytes(), p)) for p in paths]
    tensors = [embedder._normalise(np.concatenate(views[i:i + batch_size])) for i in range(0, len(views), batch_size)]
    return [np.ascontiguousarray(t) for t in tensors]


def raw_session(model, threads):
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def time_raw(session, input_name, output_name, tensors):
    """Wall and CPU seconds of the model alone on prepared tensors."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for tensor in tensors:
        session.run([output_name], {input_name: tensor})
    return time.perf_counter() - start, cpu_seconds() - cpu


def time_embedder(embedder, paths):
    """Wall and CPU seconds of the embedder from the JPEG files."""
    start, cpu = time.perf_counter(), cpu_seconds()
    out = embedder.transform(paths)
    elapsed, used = time.perf_counter() - start, cpu_seconds() - cpu
    assert out.shape[0] == len(paths) and np.all(np.isfinite(out))
    return elapsed, used


def bench_model(card, paths, args):
    threads = args.threads or joblib.cpu_count()
    embedder = OnnxEmbedder.from_card(card, batch_size=args.batch_size, n_threads=threads).fit()
    tensors = raw_tensors(embedder, paths, args.batch_size)
    inputs, output = embedder.input_name_, embedder.output_name_
    # two baselines: onnxruntime with its default options, and the very session the
    # embedder uses (whose idle threads sleep instead of spinning)
    baselines = {DEFAULT: raw_session(embedder.model_path_, threads), OWN: None}
    baselines[DEFAULT].run([output], {inputs: tensors[0][:4]})
    embedder.transform(paths[: min(8, len(paths))])  # loads the session, warms the caches
    baselines[OWN] = embedder._session()
    variants = [embedder] + [
        OnnxEmbedder.from_card(card, batch_size=args.batch_size, n_threads=threads, decode_tolerance=t).fit()
        for t in args.decode_tolerance if t
    ]
    for variant in variants[1:]:
        variant.transform(paths[: min(8, len(paths))])
    raw_runs = {label: [] for label in baselines}
    emb_runs = [[] for _ in variants]
    for _ in range(args.repeats):  # alternate, so that load from other processes hits all alike
        for label, session in baselines.items():
            raw_runs[label].append(time_raw(session, inputs, output, tensors))
        for runs, variant in zip(emb_runs, variants):
            runs.append(time_embedder(variant, paths))
    n = len(paths)
    name = json.loads(Path(card).read_text())["name"]
    lines = [
        f"{name} ({output}, {n} images, batch {args.batch_size}, {threads} threads, best of {args.repeats}; "
        f"'median' is the median over the {args.repeats} rounds of each round's own ratio):"
    ]
    best = {}
    for label, runs in raw_runs.items():
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        best[label] = n / wall
        lines.append(f"  raw onnxruntime, {label:19s} {n / wall:7.1f} img/s  {cpu / n * 1e3:6.2f} ms CPU/img")
    ratios = []
    for runs, variant in zip(emb_runs, variants):
        wall, cpu = min(w for w, _ in runs), min(c for _, c in runs)
        label = "exact decode" if not variant.decode_tolerance else f"decode_tolerance={variant.decode_tolerance}"
        ratio = {key: n / wall / ips for key, ips in best.items()}
        median = {key: float(np.median([r[0] / e[0] for r, e in zip(raw_runs[key], runs)])) for key in best}
        ratios.append(ratio[DEFAULT])
        lines.append(
            f"  OnnxEmbedder from JPEG, {label:19s} {n / wall:7.1f} img/s  {cpu / n * 1e3:6.2f} ms CPU/img\n"
            f"      ratio vs default options {ratio[DEFAULT]:.3f} (median {median[DEFAULT]:.3f}), "
            f"vs the embedder's session {ratio[OWN]:.3f} (median {median[OWN]:.3f})"
        )
    print("\n".join(lines), flush=True)
    return ratios


def time_outputs(session, input_name, tensors):
    """Wall and CPU seconds of the model alone, and every output of every batch."""
    start, cpu = time.perf_counter(), cpu_seconds()
    outputs = [session.run(None, {input_name: tensor}) for tensor in tensors]
    return time.perf_counter() - start, cpu_seconds() - cpu, outputs


def cosines(a, b):
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


def bench_int8(fp32_name, paths, args):
    """Raw onnxruntime, float32 zoo model vs its int8 version, on the same tensors; embedding cosine."""
    int8_name, goal = INT8[fp32_name]
    threads = args.threads or joblib.cpu_count()
    start = time.perf_counter()
    fp32_card, int8_card = zoo.model_card_path(fp32_name), zoo.model_card_path(int8_name)
    built = time.perf_counter() - start
    embedder = OnnxEmbedder.from_card(fp32_card, batch_size=args.batch_size, n_threads=threads).fit()
    tensors = raw_tensors(embedder, paths, args.batch_size)
    made = json.loads(int8_card.read_text())["quantization"]
    sessions = {"float32": raw_session(embedder.model_path_, threads),
                "int8": raw_session(int8_card.with_name(json.loads(int8_card.read_text())["file"]), threads)}
    names = [o.name for o in sessions["float32"].get_outputs()]
    for session in sessions.values():  # warm up
        session.run(None, {embedder.input_name_: tensors[0][:4]})
    runs, outputs = {key: [] for key in sessions}, {}
    for _ in range(args.repeats):  # alternate, so that load from other processes hits both alike
        for key, session in sessions.items():
            wall, cpu, out = time_outputs(session, embedder.input_name_, tensors)
            runs[key].append((wall, cpu))
            outputs.setdefault(key, out)
    n = len(paths)
    lines = [f"{fp32_name} float32 vs {int8_name} ({made['method']} int8, {made['onnxruntime']} onnxruntime), "
             f"raw onnxruntime on the same {n} prepared images, batch {args.batch_size}, {threads} threads, "
             f"best of {args.repeats} (cache ready in {built:.1f} s):"]
    for key, key_runs in runs.items():
        wall, cpu = min(w for w, _ in key_runs), min(c for _, c in key_runs)
        lines.append(f"  {key:8s} {n / wall:7.1f} img/s  {cpu / n * 1e3:6.2f} ms CPU/img")
    best = min(w for w, _ in runs["float32"]) / min(w for w, _ in runs["int8"])
    median = float(np.median([f[0] / i[0] for f, i in zip(runs["float32"], runs["int8"])]))
    cpu = min(c for _, c in runs["float32"]) / min(c for _, c in runs["int8"])
    lines.append(f"  int8 / float32 throughput {best:.2f}x (median of rounds {median:.2f}x, CPU per image "
                 f"{cpu:.2f}x less); goal >= {goal}x: {'met' if best >= goal else 'NOT met'}")
    for k, name in enumerate(names):
        a = np.concatenate([batch[k] for batch in outputs["float32"]])
        if a.ndim != 2:
            continue
        c = cosines(a, np.concatenate([batch[k] for batch in outputs["int8"]]))
        lines.append(f"  cosine to float32, {name:14s} mean {c.mean():.4f}  min {c.min():.4f}  "
                     f"1st percentile {np.percentile(c, 1):.4f}; goal mean >= 0.98: "
                     f"{'met' if c.mean() >= 0.98 else 'NOT met'}")
    print("\n".join(lines), flush=True)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="use only the first N photographs")
    parser.add_argument("--repeats", type=int, default=2, help="timed runs of each (best kept)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: all cores)")
    parser.add_argument("--models", nargs="*", default=None,
                        help="model card names in ../shared/models, or dermfeat.zoo names (default: every shared card)")
    parser.add_argument("--int8", choices=("yes", "no", "only"), default="yes",
                        help="also compare the zoo's int8 backbones with their float32 models (default yes)")
    parser.add_argument("--decode-tolerance", nargs="*", type=float, default=[0.0, 0.1],
                        help="OnnxEmbedder decode_tolerance values to measure (default: 0 and 0.1)")
    args = parser.parse_args(argv)
    if not (DATA / "manifest.csv").is_file() or not MODELS.is_dir():
        raise SystemExit(f"needs ../shared beside the project (looked in {SHARED})")
    paths = image_paths(args.limit)
    cards = model_cards(args.models)
    where = ", ".join(f"{c.stem} ({'../shared/models' if c.parent == MODELS else 'dermfeat.zoo'})" for c in cards)
    print(f"Uses ../shared data: {len(paths)} DermNet NZ JPEGs from {DATA.name}/; models {where}; "
          f"{os.cpu_count()} CPUs")
    if args.int8 != "only":
        for card in cards:
            bench_model(card, paths, args)
    if args.int8 != "no":
        print(f"Load average before the int8 comparison: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        for name in INT8:
            if args.models and not any(m.replace("_", "-").startswith(name.split("-")[0]) for m in args.models):
                continue
            try:
                bench_int8(name, paths, args)
            except zoo.ZooModelUnavailable as exc:
                print(f"{name}: int8 comparison skipped: {exc}")


if __name__ == "__main__":
    main()
