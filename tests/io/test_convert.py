"""Pixel conversions to RGB uint8: the same values whatever the strip size, in bounded memory."""

import tracemalloc

import numpy as np

from dermfeat.io._convert import composite_on_white


def _whole(rgba):
    """The compositing formula on the whole array at once (what strips must reproduce bit for bit)."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    rgb = rgba[..., :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def test_compositing_in_strips_is_bit_identical():
    rgba = np.random.default_rng(0).integers(0, 256, (700, 900, 4), dtype=np.uint8)
    np.testing.assert_array_equal(composite_on_white(rgba), _whole(rgba))


def test_compositing_a_large_image_holds_little_besides_input_and_output():
    # a 63-megapixel RGBA PNG took 200 MB of float32 temporaries on top of its pixels
    rgba = np.full((4096, 4096, 4), 180, np.uint8)
    rgba[..., 3] = np.arange(4096, dtype=np.uint32)[None, :] % 256
    tracemalloc.start()
    try:
        out = composite_on_white(rgba)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (4096, 4096, 3)
    assert peak - out.nbytes < 16 * 2**20
