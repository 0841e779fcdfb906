"""Frozen CNN / ViT embeddings from a pretrained ONNX backbone, through onnxruntime."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from pathlib import Path

import joblib
import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._exceptions import ModelMismatchError
from ..base import BaseImageTransformer
from ..imaging import resize as _resize
from ..base._image_transformer import (
    _compute_chunk,
    _extract_chunk,
    _lookup_chunk,
    _merge_states,
    opencv_single_threaded,
)
from ..utils._files import file_sha256
from ..utils._param_validation import Interval, Options, PathLike, validate_parameters

__all__ = ["OnnxEmbedder"]

#: ImageNet statistics, the default normalisation of most pretrained backbones.
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


_DEFAULT_PROVIDERS = ("CPUExecutionProvider",)

#: With test-time crops, an image whose resized copy would have more pixels than
#: this (48 MB as RGB; e.g. a 256-pixel side with an aspect ratio over 256:1) is
#: not resized whole: each crop is resized from its own source region instead, so
#: that a long thin strip cannot take gigabytes.
_MAX_RESIZED_PIXELS = 1 << 24


def model_sha256(path):
    """SHA-256 of a model file, remembered per process while the file is unchanged.

    The hash is recomputed whenever the file's size, modification time, change
    time or inode changes, so a replaced file is always noticed; an unchanged
    one costs a single ``os.stat``.

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file.

    Returns
    -------
    digest : str
        Hexadecimal SHA-256 of the file's bytes.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.

    Examples
    --------
    >>> import hashlib, os, tempfile
    >>> from dermfeat.features._onnx import model_sha256
    >>> path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    >>> with open(path, "wb") as fh:
    ...     _ = fh.write(b"not really a model")
    >>> model_sha256(path) == hashlib.sha256(b"not really a model").hexdigest()
    True
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"ONNX model file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"the ONNX model path is a directory, not a .onnx file: {path}")
    return file_sha256(path)


# ------------------------------------------------------------------- session cache
#: Process-level cache of inference sessions, keyed by (real path, SHA-256, threads,
#: providers): joblib workers, grid-search folds and clones reuse one session
#: instead of rebuilding it for every chunk or fit.
_SESSIONS = OrderedDict()
_SESSIONS_LOCK = threading.Lock()
_MAX_SESSIONS = 4


class _LoadedModel:
    """An inference session and what ``fit`` needs to know about its graph."""

    def __init__(self, session, path):
        self.session = session
        self.path = path
        self.inputs = [(i.name, list(i.shape), i.type) for i in session.get_inputs()]
        self.outputs = [(o.name, list(o.shape), o.type) for o in session.get_outputs()]
        self._dims = {}
        self._lock = threading.Lock()

    def output_dim(self, input_name, output_name, sample):
        """Width of ``output_name`` for inputs shaped like ``sample`` (runs it once if symbolic)."""
        key = (input_name, output_name, sample.shape[1:])
        if key not in self._dims:
            out = self.session.run([output_name], {input_name: sample})[0]
            with self._lock:
                self._dims[key] = tuple(out.shape[1:])
        return self._dims[key]


def _load_model(path, sha256, n_threads, providers):
    import onnxruntime as ort

    key = (os.path.realpath(path), sha256, int(n_threads), tuple(providers))
    with _SESSIONS_LOCK:
        loaded = _SESSIONS.get(key)
        if loaded is not None:
            _SESSIONS.move_to_end(key)
            return loaded
    options = ort.SessionOptions()
    options.intra_op_num_threads = int(n_threads)
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    # Idle intra-op threads sleep instead of spinning, so that between model calls
    # the threads that decode and resize the next batch get the cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        session = ort.InferenceSession(os.fspath(path), sess_options=options, providers=list(providers))
    except Exception as exc:  # onnxruntime raises its own exception types
        raise ValueError(f"{path}: onnxruntime cannot load this file as an ONNX model ({exc})") from exc
    loaded = _LoadedModel(session, os.fspath(path))
    with _SESSIONS_LOCK:
        _SESSIONS[key] = loaded
        while len(_SESSIONS) > _MAX_SESSIONS:
            _SESSIONS.popitem(last=False)
    return loaded


def _check_sha(path, expected, what):
    actual = model_sha256(path)
    if expected is not None and actual != expected.lower():
        raise ModelMismatchError(
            f"{path}: the model file's SHA-256 is {actual}, but {what} {expected.lower()}. "
            "It is a different model: the features would silently change. Point `model` to the "
            "original file, or refit the embedder (and everything trained on its features)."
        )
    return actual


# ------------------------------------------------------------------------ model cards
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
    >>> from dermfeat.features._onnx import read_model_card
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


def _describe(entries):
    return ", ".join(f"{name} {tuple(shape)}" for name, shape, _ in entries)


def _zoo_name(model):
    """The :mod:`dermfeat.zoo` name ``model`` stands for: not an existing path but a zoo name; else None."""
    if not isinstance(model, str) or os.path.exists(model):
        return None
    from ..zoo._registry import _canonical

    return _canonical(model)


# ------------------------------------------------------------------------- estimator
class OnnxEmbedder(BaseImageTransformer):
    """Embeddings of a frozen pretrained backbone (CNN or ViT) run by onnxruntime.

    Each image is resized so that its shorter side is ``resize_short_side``,
    centre-cropped to ``center_crop`` x ``center_crop``, scaled and normalised
    per channel (``(pixel * scale - mean) / std``, in float32, in one fused
    step) and fed to the ONNX model; the output ``output_name`` (e.g.
    ``embedding``, ``cls_embedding``, ``patch_mean``) is the feature row.

    JPEG files are decoded directly at a reduced scale whenever that keeps the
    shorter side at least ``resize_short_side``; each batch is decoded, resized
    and normalised by as many threads as the model uses, then the model runs on
    it with all of them, so image preparation does not starve the model.

    Settings can come from a model card (``card=`` or :meth:`from_card`):
    parameters left at ``None`` are taken from the card, then from the model's
    own input shape, then from ImageNet defaults.

    Parameters
    ----------
    model : str or path-like, default=None
        The ``.onnx`` file, or the name of a :mod:`dermfeat.zoo` model
        (``"efficientnet-lite0"``, ``"dinov2-small"``) when no such file
        exists: ``fit`` then builds it once into the zoo's cache and takes the
        zoo's model card for the settings left at ``None``.  Required unless
        ``card`` names it.
    card : str, path-like or dict, default=None
        A model card (JSON) giving the file, input name, preprocessing and
        outputs; see :func:`~dermfeat.features._onnx.read_model_card`.
    sha256 : str, default=None
        Expected SHA-256 of the model file; ``fit`` refuses another file with a
        :class:`~dermfeat.ModelMismatchError`.
    input_name : str, default=None
        Graph input to feed (default: the card's, else the model's first input).
    output_name : str, default=None
        Graph output to return (default: the card's first output, else the
        model's first output).  It must be a ``(batch, features)`` tensor.
    resize_short_side : int, default=None
        Shorter side after resizing (aspect ratio kept); default ``center_crop
        * 8 / 7`` rounded (256 for 224).
    center_crop : int, default=None
        Side of the square centre crop; default the model's fixed input size,
        else 224.
    mean, std : tuple of 3 floats, default=None
        Per-channel normalisation, in the model's channel order, applied after
        ``scale``; default ImageNet's.
    scale : float, default=None
        Factor applied to the 0-255 pixel values first; default ``1 / 255``.
    channel_order : {"RGB", "BGR"}, default=None
        Channel order the model expects; default ``"RGB"``.
    layout : {"NCHW", "NHWC"}, default=None
        Tensor layout the model expects; default inferred from its input shape.
    interpolation : {"antialias", "area", "linear", "cubic"}, default="antialias"
        Resizing filter.  ``"antialias"`` approximates the anti-aliased
        bilinear resize of Pillow and torchvision that model cards usually
        assume (a Gaussian pre-filter matched to the scale, then bilinear
        sampling); ``"area"`` averages boxes of pixels (also anti-aliased,
        further from Pillow's result and twice as slow on the shared
        photographs); ``"linear"`` and ``"cubic"`` do not anti-alias.  Images
        smaller than the target are enlarged bilinearly (``"cubic"``: bicubic).
    decode_tolerance : float in [0, 0.5), default=0.0
        JPEG files are decoded directly at 1/2, 1/4 or 1/8 scale when the
        shorter side stays at least ``resize_short_side * (1 - decode_tolerance)``
        (and then enlarged to ``resize_short_side``).  ``0`` never loses detail;
        ``0.1`` lets a 480-pixel photograph decode at half size for a 256 target,
        which cuts its preparation time by more than half, but loses detail:
        on the shared photographs the EfficientNet-Lite0 embeddings then have
        mean cosine similarity 0.990 (lowest 0.958) to the card's reference
        preprocessing, against 0.9993 (lowest 0.998) with exact decoding.
    tta_flip : bool, default=False
        Test-time augmentation: also embed the horizontally flipped image.
    tta_crops : {1, 5}, default=1
        Test-time augmentation: ``5`` embeds the centre and the four corner
        crops of the resized image.  All views (``tta_crops`` x 2 with
        ``tta_flip``) are averaged in embedding space.
    batch_size : int, default=32
        Images per model call (and per task).  With test-time augmentation a
        model call holds at most ``batch_size`` views.
    n_threads : int, default=None
        onnxruntime intra-op threads.  ``None``: all cores, divided by the number
        of workers when ``n_jobs > 1`` and capped by ``OMP_NUM_THREADS``, which
        joblib sets in its worker processes (e.g. under
        ``GridSearchCV(n_jobs=...)``), so that cores are not oversubscribed.
    providers : tuple of str, default=None
        onnxruntime execution providers; default ``("CPUExecutionProvider",)``.
    n_jobs : int, default=None
        Worker processes over chunks of ``batch_size`` images.  One process with
        all cores is usually fastest; use it to spread very large jobs.
    memory : None, str, path-like or joblib.Memory, default=None
        Per-image feature cache folder.  Entries are keyed by the image bytes,
        these parameters and the model file's SHA-256.
    on_error : {"raise", "nan"}, default="raise"
        What to do with unreadable images.

    Attributes
    ----------
    model_path_ : str
        The model file used by ``fit``.
    model_sha256_ : str
        Its SHA-256; ``transform`` refuses a file with another hash.
    input_name_, output_name_ : str
        The graph input fed and the output returned.
    preprocessing_ : dict
        The resolved preprocessing (``resize_short_side``, ``center_crop``,
        ``mean``, ``std``, ``scale``, ``channel_order``, ``layout``).
    embedding_dim_ : int
        Width of the embedding.
    n_features_out_ : int
        Number of output features (``embedding_dim_``).
    feature_names_out_ : ndarray of str
        ``"<output_name>_<i>"``.

    See Also
    --------
    read_model_card : the model-card format.

    Notes
    -----
    The inference session is created lazily, kept in a small process-level
    cache (keyed by model path, SHA-256, thread count and providers) and never
    pickled, so ``clone``, ``GridSearchCV(n_jobs=...)`` and saving a fitted
    pipeline work; a restored embedder re-opens the file on first use and
    raises :class:`~dermfeat.ModelMismatchError` if its hash changed.  Loading
    a saved pipeline never opens the model, so it can be re-pointed with
    ``set_params(model=...)`` before use.

    Examples
    --------
    A tiny model built on the spot stands in for a real backbone here:

    >>> import numpy as np
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import OnnxEmbedder
    >>> from dermfeat.features._onnx_tiny import write_tiny_onnx_model
    >>> images = make_lesion_images(4, image_size=64, random_state=0).images
    >>> embedder = OnnxEmbedder(write_tiny_onnx_model(), resize_short_side=40, center_crop=32)
    >>> features = embedder.fit_transform(images)
    >>> features.shape, features.dtype
    ((4, 8), dtype('float32'))
    >>> embedder.get_feature_names_out()[:2].tolist()
    ['embedding_0', 'embedding_1']

    With a real model and its card (test-time flips averaged):

    >>> embedder = OnnxEmbedder.from_card("models/efficientnet_lite0.json",
    ...                                   tta_flip=True)  # doctest: +SKIP
    """

    _parameter_constraints = {
        **BaseImageTransformer._parameter_constraints,
        "model": [None, PathLike()],
        "card": [None, PathLike(), dict],
        "sha256": [None, str],
        "input_name": [None, str],
        "output_name": [None, str],
        "resize_short_side": [None, Interval(Integral, 1, None)],
        "center_crop": [None, Interval(Integral, 1, None)],
        "mean": [None, tuple, list, np.ndarray],
        "std": [None, tuple, list, np.ndarray],
        "scale": [None, Interval(Real, 0, None, closed="neither")],
        "channel_order": [None, Options("RGB", "BGR")],
        "layout": [None, Options("NCHW", "NHWC")],
        "interpolation": [Options("antialias", "area", "linear", "cubic")],
        "decode_tolerance": [Interval(Real, 0, 0.5, closed="left")],
        "tta_flip": ["boolean"],
        "tta_crops": [Options(1, 5)],
        "batch_size": [Interval(Integral, 1, None)],
        "n_threads": [None, Interval(Integral, 1, None)],
        "providers": [None, tuple, list],
    }
    _cache_version = 1
    #: The model is identified in the cache by its content (``_cache_token``), not its
    #: path: a moved or re-pointed copy of the same file keeps its cache entries.
    _cache_ignored_params = ("model", "sha256")
    _output_dtype = np.float32

    def __init__(
        self,
        model=None,
        *,
        card=None,
        sha256=None,
        input_name=None,
        output_name=None,
        resize_short_side=None,
        center_crop=None,
        mean=None,
        std=None,
        scale=None,
        channel_order=None,
        layout=None,
        interpolation="antialias",
        decode_tolerance=0.0,
        tta_flip=False,
        tta_crops=1,
        batch_size=32,
        n_threads=None,
        providers=None,
        n_jobs=None,
        memory=None,
        on_error="raise",
    ):
        self.model = model
        self.card = card
        self.sha256 = sha256
        self.input_name = input_name
        self.output_name = output_name
        self.resize_short_side = resize_short_side
        self.center_crop = center_crop
        self.mean = mean
        self.std = std
        self.scale = scale
        self.channel_order = channel_order
        self.layout = layout
        self.interpolation = interpolation
        self.decode_tolerance = decode_tolerance
        self.tta_flip = tta_flip
        self.tta_crops = tta_crops
        self.batch_size = batch_size
        self.n_threads = n_threads
        self.providers = providers
        self.n_jobs = n_jobs
        self.memory = memory
        self.on_error = on_error

    # ------------------------------------------------------------ constructors
    @classmethod
    def from_card(cls, card, **params):
        """An embedder configured from a model card, with every setting explicit.

        Parameters
        ----------
        card : str, path-like or dict
            The model card (JSON); its ``file`` is resolved relative to the card.
        **params
            Any other :class:`OnnxEmbedder` parameter; these override the card.

        Returns
        -------
        embedder : OnnxEmbedder
            Unfitted, with ``model``, ``sha256``, ``input_name``,
            ``output_name`` and the preprocessing set from the card.

        Examples
        --------
        >>> from dermfeat.features import OnnxEmbedder
        >>> card = {"file": "backbone.onnx", "input": {"name": "pixels", "layout": "NCHW"},
        ...         "preprocessing": {"resize_short_side": 256, "center_crop": 224},
        ...         "outputs": {"cls_embedding": ["batch", 384], "patch_mean": ["batch", 384]}}
        >>> emb = OnnxEmbedder.from_card(card, output_name="patch_mean", tta_flip=True)
        >>> emb.model, emb.input_name, emb.output_name, emb.center_crop, emb.tta_flip
        ('backbone.onnx', 'pixels', 'patch_mean', 224, True)
        """
        kwargs = read_model_card(card)
        kwargs.update(params)
        return cls(**kwargs)

    @classmethod
    def _get_test_params(cls):
        """Cheap instances for the shared estimator checks (a tiny model built at run time)."""
        from ._onnx_tiny import write_tiny_onnx_model

        return [
            {"model": write_tiny_onnx_model(), "resize_short_side": 40, "center_crop": 32, "batch_size": 3,
             "n_threads": 1},
            {"model": write_tiny_onnx_model(layout="NHWC", image_size=24, seed=1), "resize_short_side": 28,
             "channel_order": "BGR", "tta_flip": True, "tta_crops": 5, "batch_size": 2, "n_threads": 1},
        ]

    # ---------------------------------------------------------------- fitting
    def _settings(self):
        """Card values overridden by explicitly set (non-None) parameters."""
        settings = read_model_card(self.card) if self.card is not None else {}
        zoo_name = _zoo_name(self.model) if self.card is None else None
        if zoo_name is not None:
            from ..zoo import model_card_path

            settings = read_model_card(model_card_path(zoo_name))
        for key in ("model", "sha256", "input_name", "output_name", "resize_short_side", "center_crop",
                    "mean", "std", "scale", "channel_order", "layout"):
            value = getattr(self, key)
            if value is not None:
                settings[key] = value
        return settings

    def _model_file(self):
        if self.model is not None:
            zoo_name = _zoo_name(self.model)
            if zoo_name is not None:
                from ..zoo import get_model

                return os.fspath(get_model(zoo_name))
            return os.fspath(self.model)
        if self.card is not None:
            model = read_model_card(self.card).get("model")
            if model is not None:
                return model
        raise ValueError("OnnxEmbedder needs a model: pass model='backbone.onnx' or card='backbone.json'")

    def fit(self, X=None, y=None):
        """Open the model, check its input and output, and resolve the preprocessing.

        No image is read: the backbone is frozen.

        Parameters
        ----------
        X : images, optional
            Ignored.
        y : array-like, optional
            Ignored.

        Returns
        -------
        self : object

        Raises
        ------
        FileNotFoundError
            If the model (or card) file does not exist.
        ModelMismatchError
            If ``sha256`` (or the card's) differs from the file's hash.
        ValueError
            For an unknown input or output name (the message lists those that
            exist), an input that is not a rank-4 image tensor of the
            preprocessed size, or an output that is not ``(batch, features)``.
        """
        validate_parameters(self)
        settings = self._settings()
        path = self._model_file()
        sha = _check_sha(path, settings.get("sha256"), "the expected SHA-256 (sha256 parameter or card) is")
        loaded = _load_model(path, sha, self._effective_threads(), self._providers())

        input_names = [name for name, _, _ in loaded.inputs]
        input_name = settings.get("input_name") or input_names[0]
        if input_name not in input_names:
            raise ValueError(f"{path}: the model has no input {input_name!r}; its inputs are: {_describe(loaded.inputs)}")
        _, in_shape, in_type = loaded.inputs[input_names.index(input_name)]
        output_names = [name for name, _, _ in loaded.outputs]
        output_name = settings.get("output_name") or output_names[0]
        if output_name not in output_names:
            raise ValueError(
                f"{path}: the model has no output {output_name!r}; its outputs are: {_describe(loaded.outputs)}"
            )
        if len(in_shape) != 4:
            raise ValueError(
                f"{path}: input {input_name!r} has rank {len(in_shape)} (shape {tuple(in_shape)}); OnnxEmbedder "
                "feeds images as rank-4 (batch, channels, height, width) or (batch, height, width, channels) tensors"
            )
        if in_type != "tensor(float)":
            raise ValueError(f"{path}: input {input_name!r} is a {in_type}; OnnxEmbedder feeds float32 tensors")

        layout = settings.get("layout") or ("NHWC" if in_shape[3] == 3 and in_shape[1] != 3 else "NCHW")
        channel_axis, spatial = (1, in_shape[2:4]) if layout == "NCHW" else (3, in_shape[1:3])
        if isinstance(in_shape[channel_axis], int) and in_shape[channel_axis] != 3:
            other = "NHWC" if layout == "NCHW" else "NCHW"
            raise ValueError(
                f"{path}: input {input_name!r} has shape {tuple(in_shape)}, which is not a 3-channel {layout} "
                f"image batch; set layout={other!r} if the channels are on the other axis"
            )
        fixed = [s for s in spatial if isinstance(s, int)]
        crop = settings.get("center_crop") or (fixed[0] if len(fixed) == 2 and fixed[0] == fixed[1] else 224)
        if fixed and any(s != crop for s in fixed):
            raise ValueError(
                f"{path}: input {input_name!r} expects images of size {tuple(spatial)} but center_crop={crop} "
                f"gives {crop}x{crop}; set center_crop to the model's input size"
            )
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

        self.model_path_ = path
        self.model_sha256_ = sha
        self.input_name_ = input_name
        self.output_name_ = output_name
        self.preprocessing_ = {
            "resize_short_side": int(resize), "center_crop": int(crop), "mean": mean, "std": std,
            "scale": scale, "channel_order": channel_order, "layout": layout,
        }
        self._affine = None
        sample = self._normalise(np.zeros((1, crop, crop, 3), dtype=np.uint8))
        try:
            dims = loaded.output_dim(input_name, output_name, sample)
        except Exception as exc:  # onnxruntime's own exception types
            raise ValueError(
                f"{path}: running the model on one {crop}x{crop} {layout} image failed ({exc}); "
                "check center_crop, layout and input_name"
            ) from exc
        if len(dims) != 1:
            raise ValueError(
                f"{path}: output {output_name!r} has shape (batch, {', '.join(map(str, dims))}); OnnxEmbedder "
                "needs a (batch, features) output such as a pooled embedding"
            )
        self.embedding_dim_ = int(dims[0])
        return super().fit(X, y)

    def _feature_names(self):
        return [f"{self.output_name_}_{i}" for i in range(self.embedding_dim_)]

    def _cache_token(self):
        """The model file's SHA-256: another model (or another card) misses the cache."""
        sha = getattr(self, "model_sha256_", None) or model_sha256(self._model_file())
        if self.card is None and _zoo_name(self.model) is None:
            return sha
        resolved = getattr(self, "preprocessing_", None)
        extra = (resolved, getattr(self, "input_name_", None), getattr(self, "output_name_", None))
        return f"{sha}+card:{joblib.hash(extra)}"

    # ------------------------------------------------------------- execution
    def _providers(self):
        return tuple(self.providers) if self.providers is not None else _DEFAULT_PROVIDERS

    def _effective_threads(self):
        """Intra-op threads: explicit, else the cores left for this worker."""
        if self.n_threads is not None:
            return int(self.n_threads)
        cpus = joblib.cpu_count()
        try:  # joblib sets this in its worker processes to cpu_count // n_workers
            limit = int(os.environ.get("OMP_NUM_THREADS", "0"))
        except ValueError:
            limit = 0
        if limit > 0:
            cpus = min(cpus, limit)
        if self.n_jobs is not None and self.n_jobs != 1:
            cpus //= max(1, joblib.effective_n_jobs(self.n_jobs))
        return max(1, cpus)

    def _check_model_file(self):
        check_is_fitted(self, "model_sha256_")
        path = self._model_file()
        _check_sha(path, self.model_sha256_, "this OnnxEmbedder was fitted with a model whose SHA-256 is")
        return path

    def _session(self):
        threads, providers = self._effective_threads(), self._providers()
        key = (self._model_file(), self.model_sha256_, threads, providers)
        cached = self.__dict__.get("_session_entry")
        if cached is not None and cached[0] == key:
            return cached[1]
        path = self._check_model_file()
        session = _load_model(path, self.model_sha256_, threads, providers).session
        self._session_entry = (key, session)
        return session

    def __getstate__(self):
        state = dict(super().__getstate__())
        state.pop("_session_entry", None)  # onnxruntime sessions cannot be pickled
        return state

    def _extract(self, X, on_error):
        self._check_model_file()  # even when every row comes from the cache
        return super()._extract(X, on_error)

    def _decode_target(self):
        """Shorter side the JPEG decoder must reach: ``resize_short_side`` (less the tolerance)."""
        return max(1, int(np.ceil(self.preprocessing_["resize_short_side"] * (1.0 - self.decode_tolerance))))

    def _map_chunks(self, func, sources, names):
        """Prepare each chunk on every core, then run the model on it with every core.

        Preparation (reading, decoding, resizing) and inference alternate rather
        than overlap: a backbone keeps all the cores it is given busy, so
        preparing the next chunk beside it only takes cores from it, and costs
        extra CPU besides (threads competing for the same cores and caches).
        Preparing one chunk with as many threads as the model has, then running
        the model, was measured faster on EfficientNet-Lite0 (see
        ``benchmarks/bench_embeddings.py``).
        """
        base = func.func if isinstance(func, functools.partial) else func
        threads = self._effective_threads()
        if base is not _extract_chunk or self.n_jobs not in (None, 1) or threads < 2:
            return super()._map_chunks(func, sources, names)
        options = dict(func.keywords) if isinstance(func, functools.partial) else {}
        size = int(self.batch_size)
        chunks = [range(start, min(start + size, len(sources))) for start in range(0, len(sources), size)]

        def lookup(part):
            return _lookup_chunk(self, [sources[i] for i in part], [names[i] for i in part], **options)

        # Chunks served entirely from the feature cache are looked up right here:
        # handing them to threads would cost more than the look-ups themselves.
        results, remaining = [], iter(chunks)
        for chunk in remaining:
            state = lookup(chunk)
            if state[2]:  # images to compute: from here on, every thread prepares
                break
            results.append(_compute_chunk(self, state))
        else:
            return results
        pool = ThreadPoolExecutor(max_workers=threads - 1, thread_name_prefix="dermfeat-prepare")

        def spread(work, n):
            """``work(indices)`` over ``threads`` consecutive parts of range(n): this thread takes the first."""
            n_parts = max(1, min(threads, n))
            parts = [range(k * n // n_parts, (k + 1) * n // n_parts) for k in range(n_parts)]
            futures = [pool.submit(work, part) for part in parts[1:]]
            return [work(parts[0])] + [future.result() for future in futures]

        # OpenCV's own pool would only add threads competing for the same cores.
        with opencv_single_threaded():
            try:
                results.append(_compute_chunk(self, state, spread=spread))
                for chunk in remaining:
                    states = spread(lambda part, chunk=chunk: lookup([chunk[i] for i in part]), len(chunk))
                    results.append(_compute_chunk(self, _merge_states(states), spread=spread))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return results

    # --------------------------------------------------------------- compute
    def _prepare(self, image):
        """Resize, crop (and augment): ``(n_views, crop, crop, 3)`` uint8 views of one image."""
        pre = self.preprocessing_
        side, crop = pre["resize_short_side"], pre["center_crop"]
        h, w = image.shape[:2]
        short = min(h, w)
        if self.tta_crops == 1 and short != side:
            # Only the centre crop is needed: resize just the source region it covers,
            # with the same scale factor (about half the work of resizing everything).
            # Offsets follow the usual resize-then-crop geometry, so that the result
            # matches it to within rounding (a small fraction of a pixel).
            nh, nw = int(round(h * side / short)), int(round(w * side / short))
            top = int(round(round((nh - crop) / 2.0) * h / nh))
            left = int(round(round((nw - crop) / 2.0) * w / nw))
            rh, rw = max(1, int(round(crop * h / nh))), max(1, int(round(crop * w / nw)))
            view = _resize(image[top:top + rh, left:left + rw], (crop, crop), self.interpolation)
            views = np.empty((2 if self.tta_flip else 1, crop, crop, 3), dtype=np.uint8)
            views[0] = view
            if self.tta_flip:
                views[1] = view[:, ::-1]
            return views
        nh = max(crop, int(round(h * side / short)))
        nw = max(crop, int(round(w * side / short)))
        top, left = int(round((nh - crop) / 2.0)), int(round((nw - crop) / 2.0))
        boxes = [(top, left)]
        if self.tta_crops == 5:
            boxes += [(0, 0), (0, nw - crop), (nh - crop, 0), (nh - crop, nw - crop)]
        n = len(boxes)
        views = np.empty((n * (2 if self.tta_flip else 1), crop, crop, 3), dtype=np.uint8)
        if nh * nw <= _MAX_RESIZED_PIXELS:
            image = _resize(image, (nw, nh), self.interpolation)
            for i, (t, l) in enumerate(boxes):
                views[i] = image[t:t + crop, l:l + crop]
        else:
            # A long thin image: resize each crop from its own source region rather
            # than the whole image, whose resized copy could take gigabytes.
            rh, rw = max(1, int(round(crop * h / nh))), max(1, int(round(crop * w / nw)))
            for i, (t, l) in enumerate(boxes):
                t, l = min(h - rh, int(round(t * h / nh))), min(w - rw, int(round(l * w / nw)))
                views[i] = _resize(image[t:t + rh, l:l + rw], (crop, crop), self.interpolation)
        if self.tta_flip:
            views[n:] = views[:n, :, ::-1]
        return views

    def _normalise(self, views, out=None):
        """uint8 ``(n, h, w, 3)`` RGB views -> the model's float32 tensor, in one fused pass."""
        pre = self.preprocessing_
        if self._affine is None:
            std = np.asarray(pre["std"], dtype=np.float64)
            gain = (pre["scale"] / std).astype(np.float32)
            shift = (-np.asarray(pre["mean"], dtype=np.float64) / std).astype(np.float32)
            self._affine = (gain, shift)
        gain, shift = self._affine
        source = views[..., ::-1] if pre["channel_order"] == "BGR" else views
        if pre["layout"] == "NCHW":
            if out is None:
                out = np.empty((views.shape[0], 3) + views.shape[1:3], dtype=np.float32)
            np.multiply(source.transpose(0, 3, 1, 2), gain[:, None, None], out=out)
            out += shift[:, None, None]
        else:
            if out is None:
                out = np.empty(views.shape, dtype=np.float32)
            np.multiply(source, gain, out=out)
            out += shift
        return out

    def _tensor(self, items, spread=None):
        """The model's input tensor for prepared images (each ``(n_views, h, w, 3)`` uint8).

        Each image is normalised straight into its rows, with no concatenated
        copy.  ``spread(func, n)``, when given, runs ``func(indices)`` over
        consecutive parts of ``range(n)`` in parallel threads (numpy releases the
        GIL for this work).
        """
        ends = np.cumsum([item.shape[0] for item in items])
        starts = np.concatenate([[0], ends[:-1]])
        h, w = items[0].shape[1:3]
        nchw = self.preprocessing_["layout"] == "NCHW"
        out = np.empty((int(ends[-1]), 3, h, w) if nchw else (int(ends[-1]), h, w, 3), dtype=np.float32)

        def fill(indices):
            for k in indices:
                self._normalise(items[k], out=out[starts[k]:ends[k]])

        if spread is None:
            fill(range(len(items)))
        else:
            spread(fill, len(items))
        return out

    def _compute(self, prepared, spread=None):
        session = self._session()
        n_views = prepared[0].shape[0]
        per_call = max(1, int(self.batch_size) // n_views)  # whole images per model call
        outputs = []
        for start in range(0, len(prepared), per_call):
            tensor = self._tensor(prepared[start:start + per_call], spread)
            outputs.append(session.run([self.output_name_], {self.input_name_: tensor})[0])
        embedding = np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
        embedding = np.asarray(embedding, dtype=np.float32).reshape(len(prepared) * n_views, -1)
        if n_views > 1:
            embedding = embedding.reshape(len(prepared), n_views, -1).mean(axis=1, dtype=np.float32)
        return embedding

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
