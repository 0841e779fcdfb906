"""The FastAPI application: the page, the JSON API, upload limits and error responses."""

import logging

from .. import __version__
from .._exceptions import InvalidImageError
from ._page import content_security_policy, render_page
from ._predictor import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, DemoPredictor, error_status

logger = logging.getLogger("dermfeat.serve")

#: Room for the multipart envelope (boundaries, part headers) on top of the file itself.
MULTIPART_OVERHEAD = 64 * 1024

#: Host names accepted by default: the loopback names.  Refusing other ``Host``
#: headers stops a web page from reaching the demo through DNS rebinding.  ``testserver``
#: is the name FastAPI's TestClient sends.
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "testserver")

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
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
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


class _Guard:
    """ASGI middleware: refuse unknown Host headers, add security headers to every response."""

    def __init__(self, app, allowed_hosts, csp):
        self.app = app
        self.allowed = None if allowed_hosts is None or "*" in allowed_hosts else {h.lower() for h in allowed_hosts}
        self.headers = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"no-referrer"),
            (b"x-frame-options", b"DENY"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"cross-origin-resource-policy", b"same-origin"),
            (b"cache-control", b"no-store"),
        ]

    @staticmethod
    def _host(scope):
        for key, value in scope.get("headers", []):
            if key == b"host":
                host = value.decode("latin-1").strip().lower()
                if host.startswith("["):
                    return host[1 : host.find("]")] if "]" in host else host
                return host.split(":")[0]
        return ""

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        if self.allowed is not None and self._host(scope) not in self.allowed:
            from starlette.responses import JSONResponse

            response = JSONResponse({"error": "bad_host", "message": "Unknown Host header."}, status_code=400)
            return await response(scope, receive, send_with_headers)
        return await self.app(scope, receive, send_with_headers)


def create_app(model, *, max_upload_bytes=DEFAULT_MAX_UPLOAD_BYTES, max_pixels=DEFAULT_MAX_PIXELS,
               severity_model=None, allowed_hosts=LOCAL_HOSTS, allow_pickle=False, model_dir=None):
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
        truncated or unreadable, 400 a malformed request.
    ``GET /api/model``
        The decision rule, classes and limits.
    ``GET /api/health``
        ``{"status": "ok"}``.

    Uploads stay in memory: the size limit is checked from ``Content-Length``
    before anything is read and again while the body streams in, and the image
    is decoded only after both checks.  The interactive API docs of FastAPI are
    switched off because they load scripts from the internet.

    Parameters
    ----------
    model : path or fitted classifier
        A model file written by :func:`~dermfeat.persistence.save_model` (e.g.
        by ``dermfeat fit``) or a fitted classifier, or a :class:`DemoPredictor`.
    max_upload_bytes : int, default=DEFAULT_MAX_UPLOAD_BYTES
        Largest accepted file (20 MiB).
    max_pixels : int, default=DEFAULT_MAX_PIXELS
        Largest accepted image (50 megapixels), checked from the header.
    severity_model : path or fitted classifier, optional
        See :class:`DemoPredictor`; without it nothing is said about severity.
    allowed_hosts : sequence of str or None, default=LOCAL_HOSTS
        Accepted ``Host`` header names; ``None`` or ``["*"]`` accepts any (needed
        when serving beyond this computer).
    allow_pickle : bool, default=False
        Allow pickle model files (only your own).
    model_dir : path-like, optional
        Where the embedding model files are, if moved.

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
    if max_upload_bytes < 1 or max_pixels < 1:
        raise ValueError("max_upload_bytes and max_pixels must be positive")
    predictor = model if isinstance(model, DemoPredictor) else DemoPredictor(
        model, severity_model=severity_model, max_pixels=max_pixels, allow_pickle=allow_pickle, model_dir=model_dir)
    predictor.max_pixels = max_pixels
    from ._predictor import NOT_A_DIAGNOSIS

    page = render_page(predictor.info_, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels,
                       heic=bool(_register_heif()), disclaimer=NOT_A_DIAGNOSIS, version=__version__)

    app = FastAPI(title="dermfeat web demo", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.predictor = predictor
    app.state.max_upload_bytes = max_upload_bytes

    def error(status, code, message):
        return JSONResponse({"error": code, "message": message}, status_code=status)

    @app.exception_handler(UploadError)
    async def _upload_error(request, exc):
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
        body = await read_body(request, max_upload_bytes + MULTIPART_OVERHEAD)
        data, name = extract_upload(body, request.headers.get("content-type"), max_upload_bytes)
        del body
        try:
            result = await run_in_threadpool(predictor.predict, data, name=name, heatmap=heatmap)
        except InvalidImageError as exc:
            status, code = error_status(exc)
            return error(status, code, f"{name}: {exc.reason}." + _HINTS.get(code, ""))
        except Exception:  # never a stack trace to the client; the server log has it
            logger.exception("prediction failed for %s", name)
            return error(500, "internal_error", f"{name}: the model failed on this image; see the server log.")
        return JSONResponse(result)

    app.add_middleware(_Guard, allowed_hosts=allowed_hosts, csp=content_security_policy())
    return app
