"""A seeded mutation fuzzer: small valid image files with random damage."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._hostile_images import ImageCase, _jpeg, _photo, _save

__all__ = ["mutate_images"]

_FUZZ_SEEDS = ("JPEG", "JPEG progressive", "PNG", "WEBP", "TIFF", "GIF")


def _fuzz_seeds():
    photo = _photo(40, 56, seed=3)
    return {
        "JPEG": _jpeg(photo),
        "JPEG progressive": _jpeg(photo, progressive=True),
        "PNG": _save(photo, "PNG"),
        "WEBP": _save(photo, "WEBP", quality=80),
        "TIFF": _save(photo, "TIFF", compression="tiff_lzw"),
        "GIF": _save(photo, "GIF"),
    }


def _mutate(data, rng):
    data = bytearray(data)
    how = rng.choice(["flip", "truncate", "truncate_eoi", "duplicate", "overwrite", "header_flip"])
    if how == "flip":
        for _ in range(int(rng.integers(1, 9))):
            k = int(rng.integers(0, len(data)))
            data[k] ^= 1 << int(rng.integers(0, 8))
    elif how == "header_flip":
        for _ in range(int(rng.integers(1, 4))):
            k = int(rng.integers(0, min(len(data), 64)))
            data[k] = int(rng.integers(0, 256))
    elif how in ("truncate", "truncate_eoi"):
        del data[int(rng.integers(1, len(data))):]
        if how == "truncate_eoi":
            data += b"\xff\xd9"
    elif how == "duplicate":
        a = int(rng.integers(0, len(data)))
        b = min(len(data), a + int(rng.integers(1, 512)))
        c = int(rng.integers(0, len(data)))
        data[c:c] = data[a:b] * int(rng.integers(1, 4))
    else:
        a = int(rng.integers(0, len(data)))
        data[a:a + int(rng.integers(1, 64))] = rng.bytes(int(rng.integers(1, 64)))
    return how, bytes(data)


def mutate_images(seed, n, folder=None):
    """``n`` seeded mutations of small valid JPEG, PNG, WebP, TIFF and GIF files.

    Each mutation is one of: up to 8 bit flips, up to 3 random bytes in the
    first 64 (the header), a truncation (for ``truncate_eoi``, followed by a
    JPEG end-of-image marker), a duplicated chunk of up to 512 bytes repeated up
    to 3 times, or a run of random bytes written over the data.

    Parameters
    ----------
    seed : int
        The same seed gives the same files.
    n : int
        How many files.
    folder : str or path-like, optional
        Write the files there and give paths; otherwise give bytes.

    Returns
    -------
    cases : list of ImageCase
        ``expected="any"``: decoded or refused with an InvalidImageError, nothing else.

    Examples
    --------
    >>> from dermfeat.testing import mutate_images
    >>> cases = mutate_images(0, 5)
    >>> [case.expected for case in cases]
    ['any', 'any', 'any', 'any', 'any']
    >>> cases[0].source == mutate_images(0, 1)[0].source
    True
    """
    rng = np.random.default_rng(seed)
    seeds = _fuzz_seeds()
    cases = []
    for i in range(n):
        fmt = _FUZZ_SEEDS[i % len(_FUZZ_SEEDS)]
        how, data = _mutate(seeds[fmt], rng)
        kind = f"fuzz_{seed}_{i:05d}_{fmt.split()[0].lower()}_{how}"
        source = data
        if folder is not None:
            path = Path(folder) / f"{kind}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            source = str(path)
        cases.append(ImageCase(kind, f"{fmt} with a random {how.replace('_', ' ')}", "any", source))
    return cases
