"""Frozen CNN / ViT embeddings from a pretrained ONNX backbone, through onnxruntime (the estimator).

The model file and its sessions are :mod:`dermfeat.features._onnx_session`, the
model cards :mod:`dermfeat.features._onnx_card`, the resizing and cropping
:mod:`dermfeat.imaging`; their names stay importable from here.
"""

from __future__ import annotations

import os
from numbers import Integral, Real

import joblib
import numpy as np
from sklearn.utils.validation import check_is_fitted

from ..base import BaseImageTransformer
from ..imaging import MAX_RESIZED_PIXELS as _MAX_RESIZED_PIXELS  # noqa: F401 - its old import path
from ..imaging import affine, crop_views, normalise
from ..imaging import resize as _resize  # noqa: F401 - its old import path
from ..utils._param_validation import Interval, Options, PathLike
from ._onnx_card import IMAGENET_MEAN, IMAGENET_STD, _parse_scale, read_model_card, resolve_preprocessing  # noqa: F401
from ._onnx_card import zoo_name as _zoo_name
from ._onnx_session import _SESSIONS, _describe, _LoadedModel, graph_io, model_sha256  # noqa: F401
from ._onnx_session import DEFAULT_PROVIDERS as _DEFAULT_PROVIDERS
from ._onnx_session import _check_sha, _load_model, session_threads
from ._token_pooling import POOLINGS, check_token_output, pool_tokens

__all__ = ["OnnxEmbedder"]


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
        model's first output).  It must be a ``(batch, features)`` tensor (see ``pooling``).
    pooling : {None, "mean", "gem", "lesion"}, default=None
        For a ``(batch, tokens, features)`` output (``patch_tokens`` of zoo ``"dinov2-small-tokens"``):
        mean, signed GeM ``cbrt(mean(x**3))`` or mean inside the lesion, per view before TTA
        averaging (:mod:`~dermfeat.features._token_pooling`); ``None``: the output as is.
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
    view : {"crop", "whole", "pad"}, default="crop"
        What the model sees.  ``"crop"``: the card's resize and centre crop (on
        a 4:3 photograph about 44 % of the frame is never seen).  ``"whole"``:
        the whole photograph resized to ``center_crop`` x ``center_crop``, its
        aspect ratio not kept.  ``"pad"``: the whole photograph resized so that
        its longer side is ``center_crop``, centred on a square of its mean
        colour.  The whole views allow ``tta_crops=1`` only (``tta_flip`` works
        with all three).
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
        "pooling": [None, Options(*POOLINGS)],
        "resize_short_side": [None, Interval(Integral, 1, None)],
        "center_crop": [None, Interval(Integral, 1, None)],
        "mean": [None, tuple, list, np.ndarray],
        "std": [None, tuple, list, np.ndarray],
        "scale": [None, Interval(Real, 0, None, closed="neither")],
        "channel_order": [None, Options("RGB", "BGR")],
        "layout": [None, Options("NCHW", "NHWC")],
        "interpolation": [Options("antialias", "area", "linear", "cubic")],
        "view": [Options("crop", "whole", "pad")],
        "decode_tolerance": [Interval(Real, 0, 0.5, closed="left")],
        "tta_flip": ["boolean"],
        "tta_crops": [Options(1, 5)],
        "batch_size": [Interval(Integral, 1, None)],
        "n_threads": [None, Interval(Integral, 1, None)],
        "providers": [None, tuple, list],
    }
    _cache_version = 1
    _strategy = "prepare_then_infer"
    #: The model is identified in the cache by its content (``_cache_token``), not its
    #: path: a moved or re-pointed copy of the same file keeps its cache entries.
    _cache_ignored_params = ("model", "sha256")
    #: Options added after the first release, at the value that gives the earlier features: left out of
    #: the cache key then (see :func:`~dermfeat.base.feature_state`), so existing caches stay valid.
    _cache_added_params = {"view": "crop", "pooling": None}
    _output_dtype = np.float32

    def __init__(
        self,
        model=None,
        *,
        card=None,
        sha256=None,
        input_name=None,
        output_name=None,
        pooling=None,
        resize_short_side=None,
        center_crop=None,
        mean=None,
        std=None,
        scale=None,
        channel_order=None,
        layout=None,
        interpolation="antialias",
        view="crop",
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
        self.pooling = pooling
        self.resize_short_side = resize_short_side
        self.center_crop = center_crop
        self.mean = mean
        self.std = std
        self.scale = scale
        self.channel_order = channel_order
        self.layout = layout
        self.interpolation = interpolation
        self.view = view
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
        from ._onnx_tiny import tiny_embedder_test_params

        return tiny_embedder_test_params()

    # ---------------------------------------------------------------- fitting
    def _settings(self):
        """Card values overridden by explicitly set (non-None) parameters."""
        settings = read_model_card(self.card) if self.card is not None else {}
        zoo_name = _zoo_name(self.model) if self.card is None else None
        if zoo_name is not None:
            from ..zoo._registry import model_card_path

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
                from ..zoo._registry import get_model

                return os.fspath(get_model(zoo_name))
            return os.fspath(self.model)
        if self.card is not None:
            model = read_model_card(self.card).get("model")
            if model is not None:
                return model
        raise ValueError("OnnxEmbedder needs a model: pass model='backbone.onnx' or card='backbone.json'")

    def _fit(self, X, y):
        """Open the model, check its input and output, and resolve the preprocessing.

        No image is read: the backbone is frozen.  ``fit`` raises
        ``FileNotFoundError`` if the model (or card) file does not exist,
        :class:`~dermfeat.ModelMismatchError` if ``sha256`` (or the card's)
        differs from the file's hash, and ``ValueError`` for an unknown input or
        output name (the message lists those that exist), an input that is not a
        rank-4 image tensor of the preprocessed size, or an output that is not
        ``(batch, features)``.
        """
        if self.view != "crop" and self.tta_crops != 1:
            raise ValueError(f"view={self.view!r} shows the whole photograph: tta_crops must be 1, "
                             f"got {self.tta_crops} (the corner crops need view='crop')")
        settings = self._settings()
        path = self._model_file()
        sha = _check_sha(path, settings.get("sha256"), "the expected SHA-256 (sha256 parameter or card) is")
        loaded = _load_model(path, sha, self._effective_threads(), self._providers())
        input_name, output_name, layout, crop = graph_io(loaded, path, settings)
        self.model_path_ = path
        self.model_sha256_ = sha
        self.input_name_ = input_name
        self.output_name_ = output_name
        self.preprocessing_ = resolve_preprocessing(settings, crop, layout)
        self._affine = None
        sample = self._normalise(np.zeros((1, crop, crop, 3), dtype=np.uint8))
        try:
            dims = loaded.output_dim(input_name, output_name, sample)
        except Exception as exc:  # onnxruntime's own exception types
            raise ValueError(
                f"{path}: running the model on one {crop}x{crop} {layout} image failed ({exc}); "
                "check center_crop, layout and input_name"
            ) from exc
        check_token_output(path, output_name, dims, self.pooling)
        self.embedding_dim_ = int(dims[-1])

    def _feature_names(self):
        prefix = self.output_name_ if self.pooling is None else f"{self.output_name_}_{self.pooling}"
        return [f"{prefix}_{i}" for i in range(self.embedding_dim_)]

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
        """Intra-op threads: explicit, else the cores left for this worker (:func:`session_threads`)."""
        return session_threads(self.n_threads, self.n_jobs)

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

    def _n_prepare_threads(self):
        """Threads that prepare each chunk before the model runs on it (one per intra-op thread)."""
        if self.n_jobs not in (None, 1):
            return 1
        return self._effective_threads()

    # --------------------------------------------------------------- compute
    def _prepare(self, image):
        """Resize, crop (and augment): ``(n_views, crop, crop, 3)`` uint8 views of one image."""
        pre = self.preprocessing_
        return crop_views(image, pre["resize_short_side"], pre["center_crop"], self.interpolation,
                          self.tta_crops, self.tta_flip, self.view)

    def _normalise(self, views, out=None):
        """uint8 ``(n, h, w, 3)`` RGB views -> the model's float32 tensor, in one fused pass."""
        pre = self.preprocessing_
        if self._affine is None:
            self._affine = affine(pre["scale"], pre["mean"], pre["std"])
        return normalise(views, *self._affine, pre["channel_order"], pre["layout"], out=out)

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
            output = session.run([self.output_name_], {self.input_name_: tensor})[0]
            outputs.append(pool_tokens(output, self.pooling, prepared[start:start + per_call]))  # per view
        embedding = np.concatenate(outputs) if len(outputs) > 1 else outputs[0]
        embedding = np.asarray(embedding, dtype=np.float32).reshape(len(prepared) * n_views, -1)
        if n_views > 1:
            embedding = embedding.reshape(len(prepared), n_views, -1).mean(axis=1, dtype=np.float32)
        return embedding

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = False
        return tags
