"""Int8 versions of ONNX backbones: onnxruntime's quantisation, calibrated on photographs.

:func:`quantize_model` turns any float32 image backbone (with or without a
model card) into an int8 ONNX model plus a card recording how it was made and
how closely its embeddings follow the original's.  The zoo's ``-int8`` models
are built with it from the zoo's float32 models and :func:`default_calibration_images`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from numbers import Integral
from pathlib import Path

import numpy as np

from ..utils._files import atomic_write

__all__ = ["default_calibration_images", "quantize_model"]

METHODS = ("static", "dynamic")
CALIBRATION_METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}
#: How the calibration and validation sets are hashed (recorded in the card).
HASH_RULE = (
    "SHA-256 of the images' content hashes (each the SHA-256 of a file's bytes, or of an array's dtype, shape "
    "and data, as dermfeat's feature cache keys them), sorted and joined by newlines: the order of the images "
    "does not matter"
)
#: Card keys of the float32 model that do not describe the int8 one.
_DROPPED_KEYS = ("file", "sha256", "checks", "builder", "pip_install", "precision", "quantization")


def default_calibration_images(n_images=320, image_size=256):
    """The zoo's default calibration set: synthetic skin photographs, always the same.

    Parameters
    ----------
    n_images : int, default=320
        How many (:func:`quantize_model` holds a fifth of them out to measure
        the agreement with the float32 model).
    image_size : int, default=256
        Side of the square images (the zoo's backbones resize to 256 and crop 224).

    Returns
    -------
    images : ndarray of shape (n_images, image_size, image_size, 3), uint8
        :func:`~dermfeat.datasets.make_lesion_images` with ``random_state=0``.

    Examples
    --------
    >>> from dermfeat.zoo import default_calibration_images
    >>> default_calibration_images(4, image_size=32).shape
    (4, 32, 32, 3)
    """
    from ..datasets import make_lesion_images

    return make_lesion_images(int(n_images), image_size=int(image_size), random_state=0).images


# ----------------------------------------------------------------- the images
def _sha_of(items):
    """The order-independent hash of a set of images (see ``HASH_RULE``), from sorted ``items``."""
    return hashlib.sha256("\n".join(h for h, _, _ in items).encode("ascii")).hexdigest()


def _hashed(images, what):
    """``[(content hash, source, name)]`` sorted by hash, and the set's order-independent hash."""
    from ..base import as_image_list, content_hash
    from ..io import image_name, source_bytes

    try:
        sources = as_image_list(images)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{what}: {exc}") from None
    items = []
    for i, source in enumerate(sources):
        name = image_name(source, i)
        items.append((content_hash(source_bytes(source, name)), i, source, name))
    items = [(h, source, name) for h, _, source, name in sorted(items, key=lambda item: item[:2])]
    return items, _sha_of(items)


def _batches(embedder, items, batch_size):
    """The model's input tensors for ``items``, prepared by the embedder's own code, batch by batch."""
    from ..io import source_bytes

    for start in range(0, len(items), batch_size):
        part = items[start:start + batch_size]
        prepared = [embedder._prepare(embedder._decode(source_bytes(source, name), name)) for _, source, name in part]
        yield embedder._tensor(prepared)


def _calibration_reader(embedder, items, batch_size):
    """An onnxruntime ``CalibrationDataReader`` preparing one batch at a time (bounded memory)."""
    from onnxruntime.quantization import CalibrationDataReader

    starts = list(range(0, len(items), batch_size))

    class Reader(CalibrationDataReader):
        # quantize_static's strided mode calls set_range(k, k + 1) for each batch and collects
        # the statistics of that batch alone, so only one batch of activations is held at a time
        def __init__(self):
            self.todo = iter(())

        def __len__(self):
            return len(starts)

        def set_range(self, start_index, end_index):
            self.todo = iter(starts[start_index:end_index])

        def get_next(self):
            start = next(self.todo, None)
            if start is None:
                return None
            tensor = next(_batches(embedder, items[start:start + batch_size], batch_size))
            return {embedder.input_name_: tensor}

    return Reader()


# ------------------------------------------------------------------ the model
def _raw_card(card):
    """A card's content (once the embedder has checked that it is a readable JSON object)."""
    return dict(card) if isinstance(card, dict) else json.loads(Path(card).read_text(encoding="utf-8"))


def _card_beside(model_path):
    """The card next to a model file (same stem, ``.json``) if it is about that file, else None."""
    path = Path(model_path).with_suffix(".json")
    try:
        card = _raw_card(path)
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return path if isinstance(card, dict) and card.get("file") == Path(model_path).name else None


def _fitted_embedder(model, batch_size, n_threads):
    """A fitted :class:`OnnxEmbedder` for ``model`` (one view per image) and the float32 model's card."""
    from sklearn.base import clone

    from ..features import OnnxEmbedder

    if isinstance(model, (str, os.PathLike)) and not os.fspath(model).endswith(".json"):
        if not Path(model).is_file():
            raise FileNotFoundError(f"ONNX model file not found: {os.fspath(model)} (for a zoo model pass its "
                                    "card: dermfeat.zoo.model_card_path(name))")
        model = _card_beside(model) or OnnxEmbedder(os.fspath(model))
    if isinstance(model, OnnxEmbedder):
        embedder, card = clone(model), model.card
    elif isinstance(model, (dict, str, os.PathLike)):
        embedder, card = OnnxEmbedder.from_card(model), model
    else:
        raise TypeError("model must be a model card (JSON path or dict), an .onnx path or an OnnxEmbedder, "
                        f"got {type(model).__name__}")
    embedder.set_params(tta_flip=False, tta_crops=1, memory=None, n_jobs=None, batch_size=batch_size,
                        n_threads=n_threads, on_error="raise")
    embedder.fit()  # checks the card, the file's SHA-256 and the graph's input and output
    return embedder, _raw_card(card) if card is not None else {}


def _int8_card(embedder, base, name, session):
    """The int8 model's card: the float32 card's description, with the preprocessing actually used."""
    pre = embedder.preprocessing_
    card = {key: value for key, value in base.items() if key not in _DROPPED_KEYS}
    stem = base.get("name") or Path(embedder.model_path_).stem
    card["name"] = name or f"{stem}-int8"
    card["kind"] = f"{base['kind']}; int8-quantised" if base.get("kind") else "int8-quantised ONNX backbone"
    shape = next(list(i.shape) for i in session.get_inputs() if i.name == embedder.input_name_)
    card["input"] = {**(base.get("input") or {"shape": shape}), "name": embedder.input_name_,
                     "layout": pre["layout"], "channels": pre["channel_order"], "dtype": "float32"}
    scale = "x/255" if np.isclose(pre["scale"], 1 / 255, rtol=1e-9, atol=0) else pre["scale"]
    card["preprocessing"] = {"resize_short_side": pre["resize_short_side"], "center_crop": pre["center_crop"],
                             "scale": scale, "mean": list(pre["mean"]), "std": list(pre["std"])}
    outputs = base.get("outputs") or {o.name: list(o.shape) for o in session.get_outputs()}
    # the embedder's output first: read_model_card takes the first listed output as the embedding
    card["outputs"] = {embedder.output_name_: outputs.get(embedder.output_name_, ["batch", embedder.embedding_dim_]),
                       **{k: v for k, v in outputs.items() if k != embedder.output_name_}}
    return card


def _session(path, n_threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = int(n_threads)
    options.log_severity_level = 3
    return ort.InferenceSession(os.fspath(path), sess_options=options, providers=["CPUExecutionProvider"])


def _agreement(embedder, fp32, int8, items, batch_size):
    """Cosine similarity of every ``(batch, features)`` output of the two sessions, per image."""
    names = [o.name for o in fp32.get_outputs() if len(o.shape) == 2]
    cosines = {name: [] for name in names}
    for tensor in _batches(embedder, items, batch_size):
        feeds = {embedder.input_name_: tensor}
        for name, a, b in zip(names, fp32.run(names, feeds), int8.run(names, feeds)):
            a, b = a.astype(np.float64), b.astype(np.float64)
            norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
            cosines[name].append(np.sum(a * b, axis=1) / np.maximum(norms, 1e-300))
    result = {}
    for name, parts in cosines.items():
        values = np.concatenate(parts)
        result[name] = {"cosine_mean": round(float(values.mean()), 5), "cosine_min": round(float(values.min()), 5)}
    return result


def _activation_products(graph):
    """Names of the MatMul/Gemm nodes whose inputs are both computed (e.g. attention products)."""
    constants = {init.name for init in graph.initializer}
    constants |= {out for node in graph.node if node.op_type == "Constant" for out in node.output}
    return {node.name for node in graph.node
            if node.op_type in ("MatMul", "Gemm") and not any(i in constants for i in node.input[:2])}


def _quantize_file(source, target, options, reader):
    """onnxruntime's pre-processing and quantisation of ``source`` into ``target``; the excluded nodes."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_dynamic,
        quantize_static,
    )

    pre = Path(target).with_name("preprocessed.onnx")
    # onnx shape inference and onnxruntime's basic graph optimisations (symbolic shape inference needs sympy)
    quant_pre_process(os.fspath(source), os.fspath(pre), skip_symbolic_shape=True)
    graph = onnx.load(os.fspath(pre), load_external_data=False).graph
    names = {node.name for node in graph.node}
    unknown = sorted(set(options["exclude_nodes"]) - names)
    if unknown:
        raise ValueError(f"{source}: no node named {', '.join(map(repr, unknown))} to exclude")
    excluded = set(options["exclude_nodes"]) | {n.name for n in graph.node if n.op_type in options["exclude_op_types"]}
    if options["skip_activation_products"]:
        excluded |= _activation_products(graph)
    excluded = sorted(excluded)
    common = dict(per_channel=options["per_channel"], weight_type=QuantType.QInt8,
                  op_types_to_quantize=options["op_types"], nodes_to_exclude=excluded)
    # entropy and percentile calibration print their progress with print(): not for the user
    quiet = options["calibrate_method"] != "minmax" and options["method"] == "static"
    with contextlib.redirect_stdout(io.StringIO()) if quiet else contextlib.nullcontext():
        if options["method"] == "static":
            method = getattr(CalibrationMethod, CALIBRATION_METHODS[options["calibrate_method"]])
            quantize_static(os.fspath(pre), os.fspath(target), reader, quant_format=QuantFormat.QDQ,
                            activation_type=QuantType.QUInt8, calibrate_method=method,
                            extra_options={"CalibStridedMinMax": 1}, **common)
        else:
            quantize_dynamic(os.fspath(pre), os.fspath(target), **common)
    return excluded


def _check_options(method, per_channel, calibrate_method, op_types, exclude_op_types, exclude_nodes,
                   skip_activation_products, batch_size):
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    if calibrate_method not in CALIBRATION_METHODS:
        raise ValueError(f"calibrate_method must be one of {', '.join(CALIBRATION_METHODS)}, got {calibrate_method!r}")
    if not isinstance(batch_size, Integral) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    for what, value in (("op_types", op_types), ("exclude_op_types", exclude_op_types),
                        ("exclude_nodes", exclude_nodes)):
        if value is None and what == "op_types":
            continue
        if isinstance(value, str) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"{what} must be a sequence of names, got {value!r}")
    return {"method": method, "per_channel": bool(per_channel), "calibrate_method": calibrate_method,
            "op_types": sorted(set(op_types)) if op_types is not None else None,
            "exclude_op_types": sorted(set(exclude_op_types)), "exclude_nodes": sorted(set(exclude_nodes)),
            "skip_activation_products": bool(skip_activation_products), "batch_size": int(batch_size)}


def _quantize(model, calibration_images, validation_images, options, *, name, n_threads, out=None):
    """Quantise; returns the int8 model's bytes and its card (without ``file`` and ``sha256``)."""
    import joblib
    import onnxruntime

    try:
        import onnx
    except ImportError:
        raise ImportError("quantising a model needs the 'onnx' package: pip install 'dermfeat[onnx]'") from None
    threads = int(n_threads) if n_threads is not None else joblib.cpu_count()
    batch_size = options["batch_size"]
    embedder, base = _fitted_embedder(model, batch_size, threads)
    if out is not None and os.path.realpath(out) == os.path.realpath(embedder.model_path_):
        raise ValueError(f"out must not be the float32 model itself: {out}")
    calibration, calibration_sha = _hashed(calibration_images, "calibration_images")
    static = options["method"] == "static"
    if validation_images is not None:
        validation, validation_sha = _hashed(validation_images, "validation_images")
    else:  # every fifth image, in the order of their hashes, is held out (of calibration, if static)
        if len(calibration) < 2:
            raise ValueError(f"need at least 2 calibration images (a fifth is held out), got {len(calibration)}")
        validation = calibration[4::5] or calibration[-1:]
        held_out = {id(item) for item in validation}
        calibration = [item for item in calibration if id(item) not in held_out]
        calibration_sha, validation_sha = _sha_of(calibration), _sha_of(validation)
    if not calibration or not validation:
        raise ValueError("calibration_images and validation_images must not be empty")

    with tempfile.TemporaryDirectory(prefix="dermfeat-quantize-") as tmp:
        target = Path(tmp) / "int8.onnx"
        reader = _calibration_reader(embedder, calibration, batch_size) if static else None
        excluded = _quantize_file(embedder.model_path_, target, options, reader)
        data = target.read_bytes()
        fp32, int8 = _session(embedder.model_path_, threads), _session(target, threads)
        agreement = _agreement(embedder, fp32, int8, validation, batch_size)
        card = _int8_card(embedder, base, name, fp32)
        del fp32, int8

    record = {
        "tool": "onnxruntime.quantization (quant_pre_process, then quantize_static or quantize_dynamic)",
        "onnxruntime": onnxruntime.__version__, "onnx": onnx.__version__,
        "method": options["method"],
        "format": "QDQ" if static else "QOperator (integer operators, activations quantised at run time)",
        "activations": "uint8, ranges from calibration" if static else "uint8, ranges computed on the fly",
        "weights": "int8, " + ("one scale per output channel" if options["per_channel"] else "one scale per tensor"),
        "per_channel": options["per_channel"],
        "calibration_method": CALIBRATION_METHODS[options["calibrate_method"]] if static else None,
        "op_types": options["op_types"] or "onnxruntime's default",
        "excluded_op_types": options["exclude_op_types"],
        "skip_activation_products": options["skip_activation_products"],
        "excluded_nodes": excluded,
        "source": {"file": Path(embedder.model_path_).name, "sha256": embedder.model_sha256_},
        "preprocessing": "dermfeat.features.OnnxEmbedder, the card's settings, one view per image",
        "image_hash": HASH_RULE,
        "calibration": ({"images": len(calibration), "batch_size": batch_size, "sha256": calibration_sha}
                        if static else None),
        "agreement": {"images": len(validation), "sha256": validation_sha,
                      "measure": "cosine similarity of each (batch, features) output to the float32 model's",
                      "cosine": agreement},
    }
    card.update(precision="int8", quantization=record)
    return data, card


def quantize_model(model, calibration_images, out, *, method="static", per_channel=True,
                   calibrate_method="minmax", op_types=None, exclude_op_types=(), exclude_nodes=(),
                   skip_activation_products=False, validation_images=None, name=None, batch_size=8,
                   n_threads=None):
    """Write an int8 version of an ONNX image backbone, with a card saying how it was made.

    The images are decoded, resized, cropped and normalised by
    :class:`~dermfeat.features.OnnxEmbedder` with the model's own settings, then
    onnxruntime's quantisation tools (``onnxruntime.quantization``) write the
    int8 model.  ``method="static"`` quantises weights and activations (QDQ
    format, uint8 activations, int8 weights), with the activations' ranges
    measured on ``calibration_images``; ``method="dynamic"`` quantises the
    weights ahead and the activations on the fly, so it needs no calibration
    (the held-out images then measure the agreement, the others are not used).  The int8 model's embeddings
    are compared with the float32 model's on held-out images, and the model is
    written with a card that :meth:`~dermfeat.features.OnnxEmbedder.from_card`
    reads: the file's SHA-256 (checked whenever the model is used), the
    preprocessing, and under ``quantization`` the settings, the onnxruntime
    version, the excluded nodes, the hashes of the calibration and validation
    images and the cosine similarity of each output to the float32 model's.

    The same model, images (in any order) and settings give the same bytes
    with the same onnxruntime version on the same kind of processor.

    Parameters
    ----------
    model : str, path-like, dict or OnnxEmbedder
        The float32 model: its card (a JSON file or a dict, as for
        :meth:`~dermfeat.features.OnnxEmbedder.from_card`), the ``.onnx`` file
        (the card of the same stem beside it is used if it describes that
        file, else :class:`~dermfeat.features.OnnxEmbedder`'s defaults), or an
        :class:`~dermfeat.features.OnnxEmbedder` whose preprocessing to use.
        For a zoo model pass ``dermfeat.zoo.model_card_path(name)``.
    calibration_images : images
        Paths, decoded arrays (``H x W x 3`` ``uint8``) or a sequence of either:
        a few hundred photographs like those the model will see.
    out : str or path-like
        The int8 ``.onnx`` file to write; its card is written beside it with the
        suffix ``.json``.  Parent folders are created.
    method : {"static", "dynamic"}, default="static"
        See above.  Static suits CNNs; for transformers compare both.
    per_channel : bool, default=True
        One weight scale per output channel (per tensor if False).
    calibrate_method : {"minmax", "entropy", "percentile"}, default="minmax"
        How static quantisation turns the activations seen into ranges.
    op_types : sequence of str, optional
        Operator types to quantise (default: all that onnxruntime can).
    exclude_op_types : sequence of str, default=()
        Operator types left in float32 (e.g. ``("Softmax",)``).
    exclude_nodes : sequence of str, default=()
        Names of nodes left in float32.
    skip_activation_products : bool, default=False
        Leave in float32 the ``MatMul``/``Gemm`` nodes that multiply two
        computed tensors (a transformer's attention products), quantising only
        those with constant weights.
    validation_images : images, optional
        The images on which the agreement is measured.  Default: every fifth
        of ``calibration_images`` in the order of their content hashes, held
        out of calibration.
    name : str, optional
        The card's ``name`` (default: the float32 card's, or the file's stem,
        followed by ``-int8``).
    batch_size : int, default=8
        Images per model run while calibrating and validating (the activations
        of one batch are held in memory at a time).
    n_threads : int, optional
        onnxruntime threads for validating (default: all cores).

    Returns
    -------
    card_path : pathlib.Path
        The written card: ``OnnxEmbedder.from_card(card_path)`` uses the model.

    Raises
    ------
    FileNotFoundError
        If the model or its card does not exist.
    ModelMismatchError
        If the card's SHA-256 is not the model file's.
    InvalidImageError
        If an image cannot be read (the message names it).
    ValueError
        For invalid settings, too few images, or unknown node names.

    See Also
    --------
    dermfeat.zoo.get_model : ``"efficientnet-lite0-int8"`` and
        ``"dinov2-small-int8"`` are built with this function.

    Examples
    --------
    A tiny model built on the spot stands in for a real backbone here:

    >>> import json, os, tempfile
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import OnnxEmbedder
    >>> from dermfeat.features._onnx_tiny import write_tiny_onnx_model
    >>> from dermfeat.zoo import quantize_model
    >>> images = make_lesion_images(20, image_size=48, random_state=0).images
    >>> card = {"file": write_tiny_onnx_model(), "preprocessing": {"resize_short_side": 40, "center_crop": 32}}
    >>> out = os.path.join(tempfile.mkdtemp(), "tiny_int8.onnx")
    >>> card_path = quantize_model(card, images, out)
    >>> made = json.loads(card_path.read_text())["quantization"]
    >>> made["method"], made["calibration"]["images"], made["agreement"]["images"]
    ('static', 16, 4)
    >>> made["agreement"]["cosine"]["embedding"]["cosine_mean"] > 0.9
    True
    >>> OnnxEmbedder.from_card(card_path).fit_transform(images[:2]).shape
    (2, 8)
    """
    options = _check_options(method, per_channel, calibrate_method, op_types, exclude_op_types, exclude_nodes,
                             skip_activation_products, batch_size)
    out = Path(out)
    if out.suffix.lower() == ".json":
        raise ValueError(f"out is the int8 .onnx file to write (its card goes beside it), got {out}")
    data, card = _quantize(model, calibration_images, validation_images, options, name=name,
                           n_threads=n_threads, out=out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(out, data)
    card_path = out.with_suffix(".json")
    card = {"name": card.pop("name"), "file": out.name, "sha256": hashlib.sha256(data).hexdigest(), **card}
    atomic_write(card_path, (json.dumps(card, indent=2) + "\n").encode("utf-8"))
    return card_path


def build_zoo_int8(fp32_card_path, recipe, *, name):
    """The bytes and card of a zoo ``-int8`` model, from its built float32 model and card.

    ``recipe`` holds :func:`quantize_model`'s settings; the images are
    :func:`default_calibration_images` (and a fifth of them held out).
    """
    recipe = dict(recipe)
    options = _check_options(recipe.pop("method", "static"), recipe.pop("per_channel", True),
                             recipe.pop("calibrate_method", "minmax"), recipe.pop("op_types", None),
                             recipe.pop("exclude_op_types", ()), recipe.pop("exclude_nodes", ()),
                             recipe.pop("skip_activation_products", False), recipe.pop("batch_size", 8))
    data, card = _quantize(fp32_card_path, default_calibration_images(**recipe), None, options, name=name,
                           n_threads=None)
    card["quantization"]["images"] = (f"dermfeat.zoo.default_calibration_images({recipe or ''}): synthetic "
                                      "photographs, make_lesion_images(random_state=0)")
    return data, card


def build_int8_entry(entry, source, cache_dir):
    """The builder of the zoo's ``-int8`` entries: quantise the (built) float32 model ``entry.base``."""
    from ._registry import model_card_path

    data, card = build_zoo_int8(model_card_path(entry.base, cache_dir=cache_dir), entry.recipe, name=entry.name)
    return data, {"quantization": card["quantization"]}
