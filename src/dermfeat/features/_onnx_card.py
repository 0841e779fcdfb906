"""Model cards: the JSON that describes an ONNX backbone's file, input, preprocessing and outputs.

:func:`read_model_card` turns a card into :class:`~dermfeat.features.OnnxEmbedder`
parameters; :func:`resolve_preprocessing` fills what neither the card nor the
parameters set (ImageNet statistics, ``x/255``, RGB); :func:`zoo_name` tells a
:mod:`dermfeat.zoo` name from a file path.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

#: ImageNet statistics, the default normalisation of most pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _parse_scale(value, where):
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    text = str(value).replace(" ", "")
    if text == "x":
        return 1.0
    if text.startswith("x/"):
        try:
            return 1.0 / float(text[2:])
        except ValueError:
            pass
    raise ValueError(f"{where}: cannot read preprocessing scale {value!r}; expected 'x', 'x/255' or a number")


def read_model_card(card):
    """Read a model card (JSON) into :class:`OnnxEmbedder` parameters.

    The card format is the one of the project's shared models::

        {"file": "efficientnet_lite0.onnx", "sha256": "...",
         "input": {"name": "input", "layout": "NCHW", "channels": "RGB", ...},
         "preprocessing": {"resize_short_side": 256, "center_crop": 224, "scale": "x/255",
                           "mean": [...], "std": [...]},
         "outputs": {"embedding": ["batch", 1280], "logits": ["batch", 1000]}}

    The first listed output is taken as the embedding; ``file`` is resolved
    relative to the card's folder.

    Parameters
    ----------
    card : str, path-like or dict
        Path of the JSON file, or its parsed content.

    Returns
    -------
    params : dict
        Keys among ``model``, ``sha256``, ``input_name``, ``output_name``,
        ``resize_short_side``, ``center_crop``, ``mean``, ``std``, ``scale``,
        ``channel_order`` and ``layout``.

    Examples
    --------
    >>> from dermfeat.features._onnx_card import read_model_card
    >>> params = read_model_card({"file": "m.onnx", "outputs": {"cls_embedding": ["batch", 384]},
    ...                           "preprocessing": {"center_crop": 224, "scale": "x/255"}})
    >>> params["output_name"], params["center_crop"], round(params["scale"] * 255, 6)
    ('cls_embedding', 224, 1.0)
    """
    if isinstance(card, dict):
        data, base, where = card, None, "model card"
    else:
        path = Path(card)
        where = os.fspath(path)
        if not path.is_file():
            raise FileNotFoundError(f"model card not found: {path}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a valid JSON model card ({exc})") from None
        base = path.parent
    if not isinstance(data, dict):
        raise ValueError(f"{where}: a model card must be a JSON object")
    inp = data.get("input") or {}
    pre = data.get("preprocessing") or {}
    outputs = data.get("outputs") or {}
    params = {}
    if data.get("file"):
        params["model"] = os.fspath(base / data["file"]) if base is not None else str(data["file"])
    if data.get("sha256"):
        params["sha256"] = str(data["sha256"]).lower()
    if inp.get("name"):
        params["input_name"] = str(inp["name"])
    if outputs:
        params["output_name"] = str(next(iter(outputs)))
    for key in ("resize_short_side", "center_crop"):
        if pre.get(key) is not None:
            params[key] = int(pre[key])
    for key in ("mean", "std"):
        if pre.get(key) is not None:
            params[key] = tuple(float(v) for v in pre[key])
    if pre.get("scale") is not None:
        params["scale"] = _parse_scale(pre["scale"], where)
    if inp.get("channels"):
        params["channel_order"] = str(inp["channels"]).upper()
    if inp.get("layout"):
        params["layout"] = str(inp["layout"]).upper()
    return params


def resolve_preprocessing(settings, crop, layout):
    """The complete preprocessing: ``settings`` (card and parameters) with the defaults filled in.

    Parameters
    ----------
    settings : dict
        ``resize_short_side``, ``mean``, ``std``, ``scale``, ``channel_order`` when set.
    crop : int
        The centre-crop size (see :func:`~dermfeat.features._onnx_session.graph_io`).
    layout : str
        The tensor layout.

    Returns
    -------
    preprocessing : dict
        ``resize_short_side``, ``center_crop``, ``mean``, ``std``, ``scale``,
        ``channel_order`` and ``layout``.
    """
    resize = settings.get("resize_short_side") or int(round(crop * 8 / 7))
    if resize < crop:
        raise ValueError(f"resize_short_side={resize} is smaller than center_crop={crop}")
    mean = tuple(float(v) for v in np.ravel(settings.get("mean", IMAGENET_MEAN)))
    std = tuple(float(v) for v in np.ravel(settings.get("std", IMAGENET_STD)))
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need 3 values (one per channel), got {len(mean)} and {len(std)}")
    if not all(np.isfinite(mean)) or not all(np.isfinite(std)) or min(std) <= 0:
        raise ValueError(f"std must be positive and mean finite, got mean={mean}, std={std}")
    scale = float(settings.get("scale") or 1.0 / 255.0)
    channel_order = settings.get("channel_order") or "RGB"
    if channel_order not in ("RGB", "BGR") or layout not in ("NCHW", "NHWC"):
        raise ValueError(f"unsupported channel order {channel_order!r} or layout {layout!r} (from the card)")
    return {
        "resize_short_side": int(resize), "center_crop": int(crop), "mean": mean, "std": std,
        "scale": scale, "channel_order": channel_order, "layout": layout,
    }


def zoo_name(model):
    """The :mod:`dermfeat.zoo` name ``model`` stands for: not an existing path but a zoo name; else None."""
    if not isinstance(model, str) or os.path.exists(model):
        return None
    from ..zoo._entries import _canonical

    return _canonical(model)
