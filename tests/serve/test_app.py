"""The web demo's defences: cross-origin requests, bursts, disconnects, uploads kept in memory."""

import asyncio
import io
import logging
import socket
import struct
import tempfile
import threading
import time
import tracemalloc
from urllib.parse import urlsplit

import numpy as np
import pytest
from PIL import Image

from .conftest import encode, running_server

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

#: What one header-lie upload decodes to when nothing refuses it: 8000 x 6000 RGB.
LIE_BYTES = 8000 * 6000 * 3


def header_lie_jpeg(width=8000, height=6000, seed=0):
    """A ~0.9 kB JPEG of 16 x 16 pixels whose header claims ``width`` x ``height``."""
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(buf, format="JPEG", quality=90)
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _post_many(app, uploads, path="/api/predict"):
    """POST every ``(name, bytes)`` at once (one event loop, like a burst of browsers); the responses."""

    async def burst():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver", timeout=600) as client:
            return await asyncio.gather(*(client.post(path, files={"file": u}) for u in uploads))

    return asyncio.run(burst())


class _Gate:
    """Wraps a predictor's ``predict``: counts callers inside it and holds them until released."""

    def __init__(self, predictor):
        self.predict, self.lock = predictor.predict, threading.Lock()
        self.inside = self.max_inside = self.calls = 0
        self.release = threading.Event()
        predictor.predict = self

    def __call__(self, *args, **kwargs):
        with self.lock:
            self.calls += 1
            self.inside += 1
            self.max_inside = max(self.max_inside, self.inside)
        try:
            assert self.release.wait(60), "the test never released the gate"
            return self.predict(*args, **kwargs)
        finally:
            with self.lock:
                self.inside -= 1

    def wait_inside(self, n, timeout=60):
        deadline = time.monotonic() + timeout
        while self.inside < n:
            assert time.monotonic() < deadline, f"only {self.inside} of {n} requests reached the model"
            time.sleep(0.01)


def _app(saved_model, **options):
    from dermfeat.serve import DemoPredictor, create_app

    predictor = DemoPredictor(saved_model[0])
    return create_app(predictor, **options), predictor


# ------------------------------------------------------------------ cross-origin requests

@pytest.mark.parametrize("headers, why", [
    ({"origin": "https://evil.example"}, "Origin https://evil.example"),
    ({"origin": "http://127.0.0.1:9999"}, "Origin http://127.0.0.1:9999"),  # another local page
    ({"origin": "http://localhost"}, "Origin http://localhost"),  # the host must be the one reached
    ({"origin": "null"}, "Origin null"),  # sandboxed frame, file:// page
    ({"origin": "http://testserver:notaport"}, "Origin"),
    ({"sec-fetch-site": "cross-site"}, "Sec-Fetch-Site is 'cross-site'"),
    ({"sec-fetch-site": "same-site", "origin": "http://testserver"}, "Sec-Fetch-Site is 'same-site'"),
])
def test_cross_origin_posts_are_refused(client, photo, headers, why):
    response = client.post("/api/predict", files={"file": (photo.name, photo.read_bytes())}, headers=headers)
    assert response.status_code == 403, response.text
    body = response.json()
    assert body["error"] == "cross_origin" and why in body["message"]
    assert "own page" in body["message"]
    assert response.headers["x-content-type-options"] == "nosniff"  # the security headers are still there


@pytest.mark.parametrize("headers", [
    {},  # curl, scripts
    {"origin": "http://testserver", "sec-fetch-site": "same-origin"},  # the demo's own page
    {"origin": "http://testserver:80"},
    {"sec-fetch-site": "none"},  # typed by the user
])
def test_same_origin_and_non_browser_posts_are_served(client, photo, headers):
    response = client.post("/api/predict", files={"file": (photo.name, photo.read_bytes())}, headers=headers)
    assert response.status_code == 200, response.text


def test_cross_origin_reads_are_not_refused(client):
    # reading the page or the model card changes nothing; the browser keeps the answer from the other site
    assert client.get("/api/model", headers={"origin": "https://evil.example",
                                             "sec-fetch-site": "cross-site"}).status_code == 200


def test_refused_cross_origin_posts_never_reach_the_model(saved_model, photo):
    from .conftest import test_client

    app, predictor = _app(saved_model)
    gate = _Gate(predictor)
    gate.release.set()
    with test_client(app) as client:
        for _ in range(5):
            r = client.post("/api/predict?heatmap=1", files={"file": ("a.jpg", photo.read_bytes())},
                            headers={"origin": "https://evil.example"})
            assert r.status_code == 403
    assert gate.calls == 0


# ------------------------------------------------------------------ bursts

def test_at_most_max_concurrent_uploads_are_analysed_at_once(saved_model, photo):
    app, predictor = _app(saved_model, max_concurrent=2)
    gate = _Gate(predictor)
    results = {}

    def burst():
        results["responses"] = _post_many(app, [(f"p{i}.jpg", photo.read_bytes()) for i in range(6)])

    thread = threading.Thread(target=burst)
    thread.start()
    gate.wait_inside(2)
    gate.release.set()
    thread.join(120)
    assert [r.status_code for r in results["responses"]] == [200] * 6
    assert gate.max_inside == 2 and gate.calls == 6


def test_beyond_max_queued_uploads_are_answered_503_before_reading(saved_model, photo):
    from .conftest import test_client

    app, predictor = _app(saved_model, max_concurrent=1, max_queued=1)
    gate = _Gate(predictor)
    with test_client(app) as client:
        first = {}
        thread = threading.Thread(target=lambda: first.update(
            r=client.post("/api/predict", files={"file": ("a.jpg", photo.read_bytes())})))
        thread.start()
        gate.wait_inside(1)
        busy = client.post("/api/predict", files={"file": ("b.jpg", photo.read_bytes())})
        gate.release.set()
        thread.join(120)
        assert busy.status_code == 503 and busy.json()["error"] == "busy"
        assert busy.headers["retry-after"] == "2"
        assert first["r"].status_code == 200
        assert client.post("/api/predict", files={"file": ("c.jpg", photo.read_bytes())}).status_code == 200
    assert gate.calls == 2


def test_a_burst_of_header_lies_takes_bounded_memory(saved_model):
    """Whatever the decoder does with them, at most ``max_concurrent`` are decoded at a time."""
    app, _ = _app(saved_model, max_concurrent=1)
    uploads = [(f"lie{i}.jpg", header_lie_jpeg(seed=i)) for i in range(4)]
    tracemalloc.start()
    try:
        responses = _post_many(app, uploads)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 2 * LIE_BYTES, f"{peak / 1e6:.0f} MB traced: more than one header-lie image decoded at a time"
    for r in responses:
        assert r.status_code in (200, 413, 415, 422), r.text


def test_a_burst_of_16_header_lies_is_refused_without_big_images(saved_model):
    from dermfeat.serve import DemoPredictor

    app, predictor = _app(saved_model)  # default limits: 8000 x 6000 is under the 64 MP limit
    big = []
    decode = predictor.decode

    def spy(data, **kwargs):
        image = decode(data, **kwargs)
        if image.size > 10_000_000:
            big.append(image.shape)
            raise RuntimeError("decoded a big image")  # no need to run the model on it
        return image

    predictor.decode = spy
    assert isinstance(predictor, DemoPredictor)
    tracemalloc.start()
    try:
        responses = _post_many(app, [(f"lie{i}.jpg", header_lie_jpeg(seed=i)) for i in range(16)])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert not any("probability" in r.text for r in responses)  # never "eczema p=1.0"
    # each is refused: as a header lie (4xx), or, beyond the queue limit, as "busy" (503)
    codes = [r.status_code for r in responses]
    assert all(c // 100 == 4 or c == 503 for c in codes), [r.text for r in responses]
    assert sum(c // 100 == 4 for c in codes) >= 1
    assert big == [] and peak < 64e6, f"decoded {big}; {peak / 1e6:.0f} MB traced"


# ------------------------------------------------------------------ client disconnects

class _Recorder:
    """ASGI wrapper: what the app raised (uvicorn would log its traceback) and when each request ended."""

    def __init__(self, app):
        self.app, self.raised, self.ended = app, [], threading.Semaphore(0)

    async def __call__(self, scope, receive, send):
        try:
            await self.app(scope, receive, send)
        except BaseException as exc:
            self.raised.append(exc)
            raise
        finally:
            if scope["type"] == "http":
                self.ended.release()


def _raw_request(url, body, length, content_type="image/jpeg"):
    """Send a POST whose headers announce ``length`` bytes and ``body``, then hang up."""
    parts = urlsplit(url)
    head = (f"POST /api/predict HTTP/1.1\r\nHost: {parts.hostname}:{parts.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {length}\r\n\r\n").encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head + body)
        return sock


def _no_traceback(caplog, recorder):
    assert recorder.raised == []
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert logged == [], [r.getMessage() for r in logged]


def test_disconnect_mid_upload_logs_one_line_not_a_traceback(saved_model, photo, caplog):
    app, _ = _app(saved_model)
    recorder = _Recorder(app)
    caplog.set_level(logging.INFO)
    data = photo.read_bytes()
    with running_server(recorder, propagate_logs=True) as url:
        _raw_request(url, data[: len(data) // 3], len(data))  # a third of the photo, then gone
        assert recorder.ended.acquire(timeout=60)
    _no_traceback(caplog, recorder)
    lines = [r.getMessage() for r in caplog.records if r.name == "dermfeat.serve"]
    assert lines == ["POST /api/predict: The client went away before the upload was complete."]


def test_disconnect_while_analysing_logs_no_traceback(saved_model, photo, caplog):
    app, predictor = _app(saved_model)
    gate = _Gate(predictor)
    recorder = _Recorder(app)
    caplog.set_level(logging.INFO)
    data = photo.read_bytes()
    with running_server(recorder, propagate_logs=True) as url:
        _raw_request(url, data, len(data))  # the whole photo, then gone before the answer
        gate.wait_inside(1)
        gate.release.set()
        assert recorder.ended.acquire(timeout=60)
    assert gate.calls == 1
    _no_traceback(caplog, recorder)


# ------------------------------------------------------------------ uploads stay in memory

@pytest.fixture()
def no_temporary_files(monkeypatch):
    """Record (and refuse) every attempt to create a temporary file or to parse a form with spooling."""
    attempts = []

    def refuse(name):
        def refused(*args, **kwargs):
            attempts.append(name)
            raise AssertionError(f"the demo called {name}")
        return refused

    for name in ("SpooledTemporaryFile", "TemporaryFile", "NamedTemporaryFile", "mkstemp", "mkdtemp"):
        monkeypatch.setattr(tempfile, name, refuse(f"tempfile.{name}"))
    from starlette.requests import Request

    monkeypatch.setattr(Request, "form", refuse("Request.form"))
    return attempts


def test_uploads_are_never_written_to_disk(saved_model, no_temporary_files):
    from .conftest import test_client

    app, _ = _app(saved_model, max_upload_bytes=4 * 1024 * 1024)
    rng = np.random.default_rng(0)
    noisy = encode(rng.integers(0, 255, (1000, 1200, 3), dtype=np.uint8), "JPEG", quality=98)
    assert len(noisy) > 1024 * 1024  # above Starlette's 1 MB spooling threshold for form files
    eps = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n"
           b"newpath 0 0 moveto 100 100 lineto stroke\nshowpage\n%%EOF\n")
    with test_client(app) as client:
        assert client.post("/api/predict", files={"file": ("big.jpg", noisy)}).status_code == 200
        assert client.post("/api/predict", content=noisy, headers={"content-type": "image/jpeg"}).status_code == 200
        # PostScript named like a photo: refused, and no decoder wrote it to a temporary file
        assert client.post("/api/predict", files={"file": ("photo.jpg", eps)}).status_code in (415, 422)
    assert no_temporary_files == []
