"""The FastAPI application: the page, the JSON API, upload limits and error responses."""

import logging
import os
import threading

from .. import __version__
from .._exceptions import InvalidImageError
from ._guard import LOCAL_HOSTS, Guard
from ._page import content_security_policy, render_page
from ._predictor import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DemoPredictor, error_status

logger = logging.getLogger("dermfeat.serve")

#: Room for the multipart envelope (boundaries, part headers) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024

#: Uploads accepted at the same time, the waiting ones included (each holds its
#: bytes in memory); beyond it the demo answers 503 at once, before reading the body.
DEFAULT_MAX_QUEUED = 8

#: Uploads decoded and analysed at the same time, each on one core: as many as
#: the machine has cores (at most :data:`DEFAULT_MAX_QUEUED`); the others wait
#: their turn.  Together with :data:`DEFAULT_MAX_QUEUED` and the upload and pixel
#: limits this bounds the memory a burst of uploads can take.
DEFAULT_MAX_CONCURRENT = max(1, min(os.cpu_count() or 1, DEFAULT_MAX_QUEUED))

_HINTS = {
    "not_an_image": " Upload a photograph as JPEG, PNG, WebP or HEIC.",
    "unreadable_image": " The file may be truncated or damaged; export it again.",
    "too_many_pixels": " Resize the photo (a few megapixels is plenty) and try again.",
}


class UploadError(Exception):
    """A request the demo refuses: answered as JSON ``{"error", "message"}`` with a 4xx status."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = int(status), code, message


def _mb(n):
    return f"{n / 1024 / 1024:.0f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} kB"


async def read_body(request, limit):
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` bytes.

    ``Content-Length`` is checked first (nothing is read); a body without one
    (chunked) is streamed and abandoned once it passes the limit.  The body is
    kept in memory, never spooled to disk.
    """
    too_large = UploadError(413, "too_large", f"The upload is larger than the limit of {_mb(limit)}.")
    length = request.headers.get("content-length")
    if length is not None:
        try:
            declared = int(length)
        except ValueError:
            raise UploadError(400, "bad_request", "The Content-Length header is not a number.") from None
        if declared > limit:
            raise too_large
    from starlette.requests import ClientDisconnect

    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise too_large
    except ClientDisconnect:
        raise UploadError(499, "client_disconnected", "The client went away before the upload was complete.") from None
    return bytes(body)


def _multipart_parts(body, content_type):
    """Every part of a multipart body as ``(headers, data)``, parsed in memory."""
    try:
        from python_multipart.multipart import MultipartParser, parse_options_header
    except ImportError:  # python-multipart < 0.0.13
        from multipart.multipart import MultipartParser, parse_options_header

    _, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if not boundary:
        raise UploadError(400, "bad_request", "The multipart upload has no boundary.")
    parts, state = [], {"field": bytearray(), "value": bytearray(), "headers": {}, "data": bytearray()}

    def on_part_begin():
        state["headers"], state["data"] = {}, bytearray()

    def on_header_field(data, start, end):
        state["field"] += data[start:end]

    def on_header_value(data, start, end):
        state["value"] += data[start:end]

    def on_header_end():
        state["headers"][bytes(state["field"]).lower()] = bytes(state["value"])
        state["field"], state["value"] = bytearray(), bytearray()

    def on_part_data(data, start, end):
        state["data"] += data[start:end]

    def on_part_end():
        parts.append((state["headers"], bytes(state["data"])))

    callbacks = {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_part_data": on_part_data, "on_part_end": on_part_end,
    }
    try:
        parser = MultipartParser(boundary, callbacks)
        parser.write(body)
        parser.finalize()
    except Exception:  # any parse error of the envelope is the client's
        raise UploadError(400, "bad_request", "The upload is not a valid multipart form.") from None
    return parts, parse_options_header


def extract_upload(body, content_type, max_upload_bytes):
    """The uploaded file's bytes and a safe display name.

    A multipart form with a ``file`` field (or any file part), or the raw body
    sent with an ``image/*`` or ``application/octet-stream`` Content-Type.
    """
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        parts, parse_options_header = _multipart_parts(body, content_type)
        chosen = None
        for headers, data in parts:
            _, disp = parse_options_header(headers.get(b"content-disposition", b""))
            if disp.get(b"name") == b"file" or (chosen is None and b"filename" in disp):
                chosen = (disp.get(b"filename", b"upload"), data)
                if disp.get(b"name") == b"file":
                    break
        if chosen is None:
            raise UploadError(422, "no_file", "No file in the upload: send the photo as the multipart field 'file'.")
        raw_name, data = chosen
    elif ctype.startswith("image/") or ctype == "application/octet-stream":
        raw_name, data = b"upload", body
    else:
        raise UploadError(
            415, "unsupported_media_type",
            "Send the photo as multipart/form-data (field 'file') or as the request body with an image Content-Type.",
        )
    name = raw_name.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1].strip() or "upload"
    name = "".join(ch for ch in name if ch.isprintable())[:80] or "upload"
    if len(data) > max_upload_bytes:
        raise UploadError(413, "too_large", f"{name} is {len(data) / 1024 / 1024:.1f} MB; the limit is {_mb(max_upload_bytes)}.")
    if not data:
        raise UploadError(422, "empty_file", f"{name} is empty (0 bytes).")
    return data, name


def create_app(model, *, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES, max_pixels=DEFAULT_MAX_PIXELS,
               severity_model=None, allowed_hosts=LOCAL_HOSTS, allow_pickle=False, model_dir=None,
               max_concurrent=DEFAULT_MAX_CONCURRENT, max_queued=DEFAULT_MAX_QUEUED):
    """Build the web demo for a fitted model (a FastAPI application).

    Routes:

    ``GET /``
        The page: drop or choose a photo; it shows the decision, the
        probability, the threshold and what it was tuned for, the occlusion heat
        map, image-quality warnings, the skin-tone group and that the result is
        not a diagnosis.
    ``POST /api/predict[?heatmap=1]``
        The photo as the multipart field ``file`` (or as the raw body with an
        image Content-Type).  Returns the JSON of
        :meth:`DemoPredictor.predict`.  Errors are JSON ``{"error", "message"}``:
        413 over ``max_upload_bytes`` or ``max_pixels``, 415 not an image, 422
        truncated or unreadable, 400 a malformed request, 403 a request from
        another site's page, 503 (with ``Retry-After``) when ``max_queued``
        uploads are already being handled.
    ``GET /api/model``
        The decision rule, classes and limits.
    ``GET /api/health``
        ``{"status": "ok"}``.

    Uploads stay in memory (the multipart form is parsed in memory, never
    spooled to a temporary file): the size limit is checked from
    ``Content-Length`` before anything is read and again while the body streams
    in, and the image is decoded only after both checks.  At most
    ``max_concurrent`` uploads are decoded and analysed at a time and at most
    ``max_queued`` are held at all, so a burst of uploads takes bounded memory
    and CPU.  Requests that would change something and come from another site's
    page (``Sec-Fetch-Site`` other than ``same-origin``, or an ``Origin`` that is
    not this server) are refused: a web page the user visits cannot make the
    demo work for it.  Clients without these headers (curl, scripts) are served.
    A client that disconnects mid-upload is logged in one line.  The interactive
    API docs of FastAPI are switched off because they load scripts from the
    internet.

    Parameters
    ----------
    model : path or fitted classifier
        A model file written by :func:`~dermfeat.persistence.save_model` (e.g.
        by ``dermfeat fit``) or a fitted classifier, or a :class:`DemoPredictor`.
    max_upload_bytes : int, default=DEFAULT_MAX_UPLOAD_BYTES
        Largest accepted file (20 MiB).
    max_pixels : int, default=DEFAULT_MAX_PIXELS
        Largest accepted image (64 megapixels, the io limit), checked from the header.
    severity_model : path or fitted classifier, optional
        See :class:`DemoPredictor`; without it nothing is said about severity.
    allowed_hosts : sequence of str or None, default=LOCAL_HOSTS
        Accepted ``Host`` header names; ``None`` or ``["*"]`` accepts any (needed
        when serving beyond this computer).
    allow_pickle : bool, default=False
        Allow pickle model files (only your own).
    model_dir : path-like, optional
        Where the embedding model files are, if moved.
    max_concurrent : int, default=DEFAULT_MAX_CONCURRENT
        Uploads decoded and analysed at the same time, side by side (the number
        of cores, at most 8).
    max_queued : int, default=DEFAULT_MAX_QUEUED
        Uploads held at the same time, waiting ones included (8); more are
        answered 503 before their body is read.

    Returns
    -------
    app : fastapi.FastAPI
        Serve it with ``uvicorn.run(app, host="127.0.0.1", port=8000)``.

    Raises
    ------
    ImportError
        If FastAPI is not installed (``pip install "dermfeat[serve]"``).

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> from dermfeat.serve import create_app
    >>> app = create_app("model.skops")  # doctest: +SKIP
    >>> with open("photo.jpg", "rb") as fh:  # doctest: +SKIP
    ...     response = TestClient(app).post("/api/predict", files={"file": fh})
    >>> response.json()["class"]  # doctest: +SKIP
    'atopic_dermatitis'
    """
    try:
        from fastapi import FastAPI, Request
        from fastapi.concurrency import run_in_threadpool
        from fastapi.exceptions import RequestValidationError
        from fastapi.responses import HTMLResponse, JSONResponse
        from starlette.exceptions import HTTPException
    except ImportError as exc:
        raise ImportError(
            f"the web demo needs FastAPI, uvicorn and python-multipart: pip install \"dermfeat[serve]\" ({exc})"
        ) from None

    from ..io._read import _register_heif

    max_upload_bytes, max_pixels = int(max_upload_bytes), int(max_pixels)
    max_concurrent, max_queued = int(max_concurrent), int(max_queued)
    if min(max_upload_bytes, max_pixels, max_concurrent, max_queued) < 1:
        raise ValueError("max_upload_bytes, max_pixels, max_concurrent and max_queued must be positive")
    predictor = model if isinstance(model, DemoPredictor) else DemoPredictor(
        model, severity_model=severity_model, max_pixels=max_pixels, allow_pickle=allow_pickle, model_dir=model_dir)
    predictor.max_pixels = max_pixels
    from ._predictor import NOT_A_DIAGNOSIS

    page = render_page(predictor.info_, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels,
                       heic=bool(_register_heif()), disclaimer=NOT_A_DIAGNOSIS, version=__version__)

    app = FastAPI(title="dermfeat web demo", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.predictor = predictor
    app.state.max_upload_bytes = max_upload_bytes
    app.state.max_concurrent, app.state.max_queued = max_concurrent, max_queued
    app.state.in_flight = 0  # uploads being read, waiting or analysed (changed on the event loop only)
    slots = threading.BoundedSemaphore(max_concurrent)

    def analyse(data, name, heatmap):
        with slots:  # taken in the worker thread: the event loop never waits on it
            return predictor.predict(data, name=name, heatmap=heatmap)

    def error(status, code, message):
        return JSONResponse({"error": code, "message": message}, status_code=status)

    @app.exception_handler(UploadError)
    async def _upload_error(request, exc):
        if exc.code == "client_disconnected":  # nobody to answer; one line in the log, no traceback
            logger.info("%s %s: %s", request.method, request.url.path, exc.message)
        return error(exc.status, exc.code, exc.message)

    @app.exception_handler(HTTPException)
    async def _http_error(request, exc):
        return error(exc.status_code, "http_error", str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request, exc):
        fields = ", ".join(str(e.get("loc", ["?"])[-1]) for e in exc.errors())
        return error(422, "bad_request", f"Invalid request parameter: {fields}.")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index():
        return HTMLResponse(page)

    @app.get("/api/health")
    async def health():
        return {"status": "ok"}

    @app.get("/api/model")
    async def model_info():
        return {**predictor.info_, "max_upload_bytes": max_upload_bytes, "max_pixels": max_pixels,
                "disclaimer": NOT_A_DIAGNOSIS}

    @app.post("/api/predict")
    async def predict(request: Request, heatmap: bool = False):
        if app.state.in_flight >= max_queued:
            response = error(503, "busy", f"The demo is busy with {max_queued} other photos; try again in a moment.")
            response.headers["retry-after"] = "2"
            return response
        app.state.in_flight += 1
        try:
            body = await read_body(request, max_upload_bytes + MULTIPART_OVERHEAD)
            data, name = extract_upload(body, request.headers.get("content-type"), max_upload_bytes)
            del body
            try:
                result = await run_in_threadpool(analyse, data, name, heatmap)
            except InvalidImageError as exc:
                status, code = error_status(exc)
                return error(status, code, f"{name}: {exc.reason}." + _HINTS.get(code, ""))
            except Exception:  # never a stack trace to the client; the server log has it
                logger.exception("prediction failed for %s", name)
                return error(500, "internal_error", f"{name}: the model failed on this image; see the server log.")
            return JSONResponse(result)
        finally:
            app.state.in_flight -= 1

    app.add_middleware(Guard, allowed_hosts=allowed_hosts, csp=content_security_policy())
    return app
