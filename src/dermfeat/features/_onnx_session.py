"""ONNX model files and their inference sessions: the SHA-256 check, a session cache, the graph's input and output.

The inference session is created lazily, kept in a small process-level cache
(keyed by model path, SHA-256, thread count and providers) and never pickled,
so that ``clone``, grid-search workers and saved pipelines each reuse one.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

from .._exceptions import ModelMismatchError
from ..utils._files import file_sha256

#: onnxruntime execution providers used unless ``providers`` says otherwise.
DEFAULT_PROVIDERS = ("CPUExecutionProvider",)


def model_sha256(path):
    """SHA-256 of a model file (:func:`~dermfeat.utils._files.file_sha256`), with messages about models.

    Parameters
    ----------
    path : str or path-like
        The ``.onnx`` file.

    Returns
    -------
    digest : str
        Hexadecimal SHA-256 of the file's bytes, remembered per process while the
        file is unchanged.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        If the path is not a file, with a message saying it is the model's.

    Examples
    --------
    >>> from dermfeat.features._onnx_session import model_sha256
    >>> model_sha256("missing.onnx")
    Traceback (most recent call last):
    ...
    FileNotFoundError: ONNX model file not found: missing.onnx
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"ONNX model file not found: {path}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"the ONNX model path is a directory, not a .onnx file: {path}")
    return file_sha256(path)


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


def session_threads(n_threads, n_jobs):
    """onnxruntime intra-op threads: ``n_threads`` when given, else the cores left for this worker.

    The cores are capped by ``OMP_NUM_THREADS``, which joblib sets in its worker
    processes to ``cpu_count // n_workers``, and shared among ``n_jobs`` workers.

    Examples
    --------
    >>> from dermfeat.features._onnx_session import session_threads
    >>> session_threads(3, None)
    3
    """
    if n_threads is not None:
        return int(n_threads)
    import joblib

    cpus = joblib.cpu_count()
    try:
        limit = int(os.environ.get("OMP_NUM_THREADS", "0"))
    except ValueError:
        limit = 0
    if limit > 0:
        cpus = min(cpus, limit)
    if n_jobs is not None and n_jobs != 1:
        cpus //= max(1, joblib.effective_n_jobs(n_jobs))
    return max(1, cpus)


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


def _describe(entries):
    return ", ".join(f"{name} {tuple(shape)}" for name, shape, _ in entries)


def graph_io(loaded, path, settings):
    """The graph input and output to use, the tensor layout and the crop size, checked against the graph.

    Parameters
    ----------
    loaded : _LoadedModel
    path : str
        The model file, for messages.
    settings : dict
        ``input_name``, ``output_name``, ``layout`` and ``center_crop`` when set.

    Returns
    -------
    input_name, output_name, layout : str
    crop : int
        ``center_crop``, else the graph's fixed square input size, else 224.

    Raises
    ------
    ValueError
        For an unknown input or output name (the message lists those that
        exist), or an input that is not a rank-4 float image tensor of the crop size.
    """
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
    return input_name, output_name, layout, crop
