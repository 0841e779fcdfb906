"""Group near-duplicate photographs so that cross-validation never splits them."""

from __future__ import annotations

import warnings
from numbers import Integral, Real

import cv2
import imagehash
import joblib
import numpy as np
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from sklearn.utils import Bunch

from .._exceptions import InvalidImageError, SkippedImagesWarning
from ..base import as_image_list, content_hash
from ..io import image_name, read_image, source_bytes
from ..utils._param_validation import Interval, Options, validate_arguments

_ORB_SIDE = 320  # longer side of the image used for keypoints
#: ORB needs this many pixels on the shorter side (patch size plus its image
#: pyramid); narrower images, such as strips, get no keypoints and no crop links.
_ORB_MIN_SIDE = 64
_HIST_BINS = (12, 6, 6)  # HSV histogram for candidate search


def _to_uint64(bits):
    """Pack 64 boolean hash bits into one unsigned integer."""
    return np.packbits(bits.astype(np.uint8)).view(">u8")[0].astype(np.uint64)


def _signature(image, match_crops):
    """Hashes (pHash, dHash), and for crop matching an HSV histogram and ORB keypoints."""
    pil = Image.fromarray(image)
    hashes = np.array(
        [_to_uint64(imagehash.phash(pil, hash_size=8).hash), _to_uint64(imagehash.dhash(pil, hash_size=8).hash)],
        dtype=np.uint64,
    )
    if not match_crops:
        return hashes, None, None, None
    h, w = image.shape[:2]
    scale = _ORB_SIDE / max(h, w)
    small = cv2.resize(image, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    hist = cv2.calcHist([hsv], [0, 1, 2], None, list(_HIST_BINS), [0, 180, 0, 256, 0, 256]).ravel()
    hist = np.sqrt(hist / max(hist.sum(), 1.0)).astype(np.float32)
    area = float(small.shape[0] * small.shape[1])
    if min(small.shape[:2]) < _ORB_MIN_SIDE:
        return hashes, hist, (np.empty((0, 2), np.float32), None, area), None
    orb = cv2.ORB_create(nfeatures=500)
    keypoints, descriptors = orb.detectAndCompute(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY), None)
    points = np.float32([k.pt for k in keypoints]).reshape(-1, 2)
    return hashes, hist, (points, descriptors, area), None


def _describe(exc):
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc).strip() else ''}".rstrip(": ")


def _hash_one(source, name, match_crops):
    """``(digest, hashes, hist, keypoints, read_error, signature_error)`` of one image.

    A file that cannot be read gives ``read_error`` (an :class:`InvalidImageError`);
    a readable image whose hashes or keypoints fail gives ``signature_error`` (a
    reason) but keeps its content digest, so byte-identical copies still link.
    """
    try:
        content = source_bytes(source, name)
        digest = content_hash(content)
        image = read_image(content, min_side=240 if match_crops else 128, name=name)
    except InvalidImageError as exc:
        return None, None, None, None, exc, None
    except Exception as exc:  # any decoder failure is this image's problem, not the run's
        return None, None, None, None, InvalidImageError(name, f"cannot be read ({_describe(exc)})"), None
    try:
        hashes, hist, keypoints, _ = _signature(image, match_crops)
    except Exception as exc:
        return digest, None, None, None, None, f"hashing or keypoints failed ({_describe(exc)})"
    return digest, hashes, hist, keypoints, None, None


def _geometric_inliers(a, b, min_spread):
    """Inliers of a RANSAC similarity transform between the ORB keypoints of two images.

    Only inliers spread over at least ``min_spread`` of the first image's area count:
    a shared watermark or logo matches in a small corner and is not a duplicate.
    """
    (pa, da, area_a), (pb, db, _) = a, b
    if da is None or db is None or len(da) < 8 or len(db) < 8:
        return 0
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    good = [m[0] for m in matcher.knnMatch(da, db, k=2) if len(m) == 2 and m[0].distance < 0.75 * m[1].distance]
    if len(good) < 8:
        return 0
    src = pa[[m.queryIdx for m in good]]
    dst = pb[[m.trainIdx for m in good]]
    _, inliers = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=4.0)
    if inliers is None:
        return 0
    inliers = inliers.ravel().astype(bool)
    if inliers.sum() < 4:
        return 0
    spread = cv2.contourArea(cv2.convexHull(src[inliers])) / area_a
    return int(inliers.sum()) if spread >= min_spread else 0


def _verify_pairs(pairs, keypoints, min_spread):
    """Inlier count, or the failure's description, of each pair's geometric check."""
    out = []
    for i, j in pairs:
        try:
            out.append((_geometric_inliers(keypoints[i], keypoints[j], min_spread), None))
        except Exception as exc:  # one odd pair must not stop the grouping
            out.append((0, _describe(exc)))
    return out


def _popcount(x):
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    as_bytes = x.view(np.uint8).reshape(*x.shape, 8)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[as_bytes].sum(axis=-1)


_CONSTRAINTS = {
    "threshold": [Interval(Integral, 0, 64)],
    "match_crops": ["boolean"],
    "n_candidates": [Interval(Integral, 1, None)],
    "min_inliers": [Interval(Integral, 4, None)],
    "min_spread": [Interval(Real, 0, 1)],
    "on_error": [Options("raise", "singleton")],
    "n_jobs": [None, Integral],
}


def near_duplicate_groups(
    images,
    *,
    threshold=12,
    match_crops=True,
    n_candidates=10,
    min_inliers=20,
    min_spread=0.08,
    return_details=False,
    on_error="raise",
    n_jobs=None,
):
    """Group labels that keep near-duplicate photographs together.

    Real photo collections hold the same photograph more than once: byte-identical
    copies filed under two topics, re-encodes, re-crops and zooms, and consecutive
    photos of one lesion.  If such copies fall on both sides of a cross-validation
    split, the scores are optimistic.  Three kinds of link are made:

    ``identical``
        Files with identical content (SHA-256 of the bytes, or of the array).
    ``near``
        Perceptual hashes of the whole photographs are close: the Hamming distances
        of the 64-bit pHash (DCT) **and** of the 64-bit dHash (gradients) are both
        ``<= threshold``.  This finds re-encodes, resizes, colour edits and
        watermark changes.
    ``crop``
        Perceptual hashes are not crop-invariant, so with ``match_crops`` each
        photograph's ``n_candidates`` most similar others by HSV colour histogram
        (crop-tolerant) are verified geometrically: ORB keypoints matched with
        Lowe's ratio test, a RANSAC similarity transform, and at least
        ``min_inliers`` inliers spread over at least ``min_spread`` of the image
        (a shared watermark in one corner does not count).  This finds re-crops,
        zooms and consecutive photos of one lesion.

    The group labels are the connected components of these links, for
    :class:`~sklearn.model_selection.StratifiedGroupKFold` or
    :class:`~sklearn.model_selection.GroupKFold`.

    Each image is decoded once at a reduced JPEG scale.  Cost: hashing and
    keypoints are linear in the number of images; the hash comparison is a
    vectorised O(n^2) over 64-bit words; geometric checks are
    ``n * n_candidates`` at most.  About 5 s for 600 photographs on one core.

    Parameters
    ----------
    images : path, array or sequence of them
        The photographs (any input :func:`dermfeat.base.as_image_list` accepts).
    threshold : int, default=12
        Largest Hamming distance (of 64 bits) of both hashes for a ``near`` link.
        On DermNet NZ photographs, distances up to 12 were re-encodes, watermark
        changes and consecutive photos of one lesion; beyond it, different
        photographs began to appear.
    match_crops : bool, default=True
        Look for re-crops and zooms geometrically (slower; ``False`` uses the
        hashes only).
    n_candidates : int, default=10
        Candidates per photograph for the geometric check.
    min_inliers : int, default=20
        RANSAC inliers needed for a ``crop`` link.
    min_spread : float, default=0.08
        Fraction of the image area the inliers' convex hull must cover.
    return_details : bool, default=False
        Also return a :class:`~sklearn.utils.Bunch` with ``pairs`` (``(i, j, kind,
        score)`` per link: score is the larger hash distance for ``near``, the
        inlier count for ``crop``), ``n_groups``, ``group_sizes``,
        ``n_images_in_shared_groups`` and ``errors`` (``(index, name, reason)`` of
        every image that could not be read or compared).
    on_error : {"raise", "singleton"}, default="raise"
        For unreadable images: raise :class:`~dermfeat.InvalidImageError`, or give
        each its own group and warn with the list (:class:`~dermfeat.SkippedImagesWarning`).
        Readable images whose comparison fails (hashing or keypoints, or one
        geometric check) never stop the run: they are linked only to
        byte-identical copies of themselves (or by the checks that did succeed)
        and named in a :class:`~dermfeat.SkippedImagesWarning`.  Images too
        narrow for keypoints (strips, a few pixels) are compared by their hashes.
    n_jobs : int, optional
        Parallel decoding, hashing and verification.

    Returns
    -------
    groups : ndarray of shape (n_images,), dtype int
        Group labels ``0 .. n_groups - 1``, numbered in order of first appearance.
    details : Bunch
        Only with ``return_details=True``.

    Examples
    --------
    Two unrelated photographs (shipped with scikit-learn) and a re-crop of the first:

    >>> from sklearn.datasets import load_sample_image
    >>> from dermfeat.model_selection import near_duplicate_groups
    >>> china, flower = load_sample_image("china.jpg"), load_sample_image("flower.jpg")
    >>> images = [china, flower, china[40:400, 100:560]]
    >>> groups, details = near_duplicate_groups(images, return_details=True)
    >>> groups
    array([0, 1, 0])
    >>> details.pairs[0][:3]
    (0, 2, 'crop')
    """
    validate_arguments(
        "near_duplicate_groups",
        _CONSTRAINTS,
        {
            "threshold": threshold,
            "match_crops": match_crops,
            "n_candidates": n_candidates,
            "min_inliers": min_inliers,
            "min_spread": min_spread,
            "on_error": on_error,
            "n_jobs": n_jobs,
        },
    )
    sources = as_image_list(images)
    names = [image_name(s, i) for i, s in enumerate(sources)]
    n = len(sources)
    results = joblib.Parallel(n_jobs=n_jobs)(
        joblib.delayed(_hash_one)(s, nm, match_crops) for s, nm in zip(sources, names)
    )
    errors, unmatched = [], []
    for i, (_, _, _, _, read_error, signature_error) in enumerate(results):
        if read_error is not None:
            if on_error == "raise":
                raise read_error
            errors.append((i, names[i], read_error.reason))
        elif signature_error is not None:
            unmatched.append((i, names[i], signature_error))
    # byte-identical content links whatever else failed; hashes and keypoints only where computed
    readable = [i for i, r in enumerate(results) if r[4] is None]
    index = np.array([i for i in readable if results[i][5] is None], dtype=np.int64)
    links = {}

    def link(i, j, kind, score):
        key = (min(i, j), max(i, j))
        if key[0] != key[1] and key not in links:
            links[key] = (key[0], key[1], kind, score)

    by_digest = {}
    for i in readable:
        by_digest.setdefault(results[i][0], []).append(int(i))
    for members in by_digest.values():
        for j in members[1:]:
            link(members[0], j, "identical", 0)

    m = len(index)
    if m > 1:
        hashes = np.stack([results[i][1] for i in index])  # (m, 2) uint64
        for start in range(0, m, 256):
            block = hashes[start : start + 256]
            dp = _popcount(block[:, None, 0] ^ hashes[None, :, 0])
            dd = _popcount(block[:, None, 1] ^ hashes[None, :, 1])
            for a, b in zip(*np.nonzero((dp <= threshold) & (dd <= threshold))):
                link(int(index[start + a]), int(index[b]), "near", int(max(dp[a, b], dd[a, b])))

    if match_crops and m > 1:
        hists = np.stack([results[i][2] for i in index])
        k = min(n_candidates, m - 1)
        candidates = set()
        for start in range(0, m, 256):
            sim = hists[start : start + 256] @ hists.T
            sim[np.arange(sim.shape[0]), np.arange(start, start + sim.shape[0])] = -np.inf
            top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
            for a, row in enumerate(top):
                for b in row:
                    pair = (min(start + a, int(b)), max(start + a, int(b)))
                    if (int(index[pair[0]]), int(index[pair[1]])) not in links:
                        candidates.add(pair)
        candidates = sorted(candidates)
        keypoints = [results[i][3] for i in index]
        n_tasks = max(1, min(len(candidates), 8 * (joblib.effective_n_jobs(n_jobs))))
        chunks = [candidates[t::n_tasks] for t in range(n_tasks)]
        scores = joblib.Parallel(n_jobs=n_jobs)(
            joblib.delayed(_verify_pairs)(chunk, keypoints, min_spread) for chunk in chunks
        )
        for chunk, chunk_scores in zip(chunks, scores):
            for (a, b), (inliers, failure) in zip(chunk, chunk_scores):
                i, j = int(index[a]), int(index[b])
                if failure is not None:
                    unmatched.append((i, names[i], f"crop check against {names[j]} failed ({failure})"))
                elif inliers >= min_inliers:
                    link(i, j, "crop", inliers)

    if errors:
        warnings.warn(
            f"{len(errors)} images could not be read and were given their own groups: "
            + "; ".join(f"{nm}: {reason}" for _, nm, reason in errors),
            SkippedImagesWarning,
            stacklevel=2,
        )
    if unmatched:
        warnings.warn(
            f"{len(unmatched)} near-duplicate comparisons failed; those images are linked only to "
            "byte-identical copies (usually their own groups): "
            + "; ".join(f"{nm}: {reason}" for _, nm, reason in unmatched),
            SkippedImagesWarning,
            stacklevel=2,
        )
        errors = sorted(errors + unmatched)

    pairs = sorted(links.values())
    graph = coo_matrix(
        (np.ones(len(pairs)), ([p[0] for p in pairs], [p[1] for p in pairs])), shape=(n, n)
    )
    _, labels = connected_components(graph, directed=False)
    # renumber in order of first appearance, so labels do not depend on internals
    _, first = np.unique(labels, return_index=True)
    groups = np.argsort(np.argsort(first))[labels].astype(np.int64)
    if not return_details:
        return groups
    sizes = np.bincount(groups, minlength=1) if n else np.zeros(0, np.int64)
    details = Bunch(
        pairs=pairs,
        n_groups=int(len(sizes)),
        group_sizes=sizes,
        n_images_in_shared_groups=int(sizes[sizes > 1].sum()),
        errors=errors,
    )
    return groups, details
