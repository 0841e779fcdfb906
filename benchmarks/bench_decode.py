"""dermfeat's JPEG decoding vs the straightforward Pillow decode + resize, in one run.

Uses the real photographs in ../shared/data/dermnetnz (never copied into the repo).

    python benchmarks/bench_decode.py [--size 224] [--repeats 3]

Prints images/s for (a) the straightforward full-size Pillow decode
(``np.asarray(Image.open(f).convert("RGB"))``) followed by a resize to the working
size, (b) ``dermfeat.io.read_image(path)`` (full size; JPEGs go through
libjpeg-turbo via simplejpeg, strictly, straight into the array, pixel for pixel
Pillow's result) followed by the same resize, and (c)
``read_image(path, min_side=size)`` (decoded at 1/2, 1/4 or 1/8 scale when that
keeps the shorter side >= size) followed by the same resize, with the speed-ups
(b)/(a) and (c)/(a).  All produce an image whose shorter side is ``size``; the
script also reports how close they are.  OpenCV runs single-threaded, as one
decoding thread would in a pipeline.
"""

import argparse
import io
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from dermfeat.io import read_image

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "dermnetnz"


def resize_short(image, size):
    h, w = image.shape[:2]
    scale = size / min(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def full_decode(data, size):
    return resize_short(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), size)


def dermfeat_decode(data, size):
    return resize_short(read_image(data), size)


def reduced_decode(data, size):
    return resize_short(read_image(data, min_side=size), size)


def timed(func, blobs, size, repeats):
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        out = [func(b, size) for b in blobs]
        best = min(best, time.perf_counter() - start)
    return len(blobs) / best, out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, nargs="+", default=[224, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument(
        "--phone", type=int, default=20,
        help="also time N photographs re-encoded in memory at phone-camera size 4032x3024 (0: skip)",
    )
    args = parser.parse_args()
    cv2.setNumThreads(1)
    paths = sorted(SHARED.rglob("*.jpg"))[: args.limit]
    if not paths:
        raise SystemExit(f"no photographs under {SHARED}: this benchmark needs ../shared beside the project")
    blobs = [p.read_bytes() for p in paths]  # file reading is not what is measured
    print(f"data: ../shared/data/dermnetnz, {len(blobs)} JPEG photographs (bytes held in memory)")
    report(blobs, args.size, args.repeats)
    if args.phone:
        phone = []
        for data in blobs[: args.phone]:
            big = cv2.resize(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), (4032, 3024))
            ok, buf = cv2.imencode(".jpg", big, [cv2.IMWRITE_JPEG_QUALITY, 90])
            phone.append(buf.tobytes())
        print(f"\nthe first {len(phone)} photographs upscaled and re-encoded at 4032x3024 (phone-camera size)")
        report(phone, args.size, args.repeats)


def report(blobs, sizes, repeats):
    for size in sizes:
        ref_rate, ref = timed(full_decode, blobs, size, repeats)
        full_rate, full = timed(dermfeat_decode, blobs, size, repeats)
        new_rate, new = timed(reduced_decode, blobs, size, repeats)
        same = all(np.array_equal(a, b) for a, b in zip(ref, full))
        diff = np.mean([np.abs(a.astype(int) - b).mean() for a, b in zip(ref, new) if a.shape == b.shape])
        print(f"working size {size}px (shorter side)")
        print(f"  images/s Pillow full decode + resize     {ref_rate:8.1f}")
        print(f"  images/s read_image full size + resize   {full_rate:8.1f}   speed-up {full_rate / ref_rate:5.2f}x"
              f"   ({'identical' if same else 'NOT identical'} to Pillow's)")
        print(f"  images/s read_image reduced + resize     {new_rate:8.1f}   speed-up {new_rate / ref_rate:5.2f}x"
              f"   (mean abs pixel difference {diff:.2f} of 255)")


if __name__ == "__main__":
    main()
