"""The JSON API and the page of the web demo, through FastAPI's TestClient (no server)."""

import base64
import io
import re

import numpy as np
import pytest
from PIL import Image

from .conftest import encode, test_client

pytest.importorskip("fastapi")
pytest.importorskip("httpx")


def _png(data_url):
    assert data_url.startswith("data:image/png;base64,")
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1])))


def test_page_is_self_contained_and_says_not_a_diagnosis(client):
    response = client.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert "Not a diagnosis" in page
    assert 'type="file"' in page and "drop" in page.lower()
    # nothing from the internet: no absolute URL in any src/href, and a CSP that forbids it
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert "http://" not in page and "https://" not in page
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    # the decision rule and its objective are on the page before any upload
    assert "macro-averaged F1" in page and "48 photos" in page
    # without a severity model the page says nothing about severity
    assert "severity" not in re.sub(r"<script>.*?</script>", "", page, flags=re.S).lower()
    # FastAPI's interactive docs load scripts from a CDN: they are switched off
    assert client.get("/docs").status_code == 404
    assert client.get("/openapi.json").status_code == 404


def test_page_describes_the_model_in_plain_words(client):
    page = client.get("/").text
    assert "photos described by colour measurements, weighed by a logistic-regression model" in page
    assert "logistic head" not in page and "color features" not in page
    assert "What it looks at:</b> the whole photo" in page  # colour measurements use all of it
    assert 'class="ramp"' in page and 'id="scalemax"' in page  # the heat map's colour scale


def test_model_info(client, saved_model):
    info = client.get("/api/model").json()
    assert info["classes"] == ["atopic_dermatitis", "eczema"]
    assert info["positive_class"] == "atopic_dermatitis"
    assert info["objective"] == "macro_f1"
    from dermfeat.persistence import load_model

    model, meta = load_model(saved_model[0])
    assert info["threshold"] == pytest.approx(meta["threshold"]) == pytest.approx(model.steps[-1][1].best_threshold_)
    assert info["severity"] is False
    assert info["max_upload_bytes"] == 256 * 1024
    assert client.get("/api/health").json() == {"status": "ok"}


def test_predict_good_upload(client, photo):
    response = client.post("/api/predict", files={"file": (photo.name, photo.read_bytes(), "image/jpeg")})
    assert response.status_code == 200, response.text
    r = response.json()
    assert r["class"] in ("atopic_dermatitis", "eczema")
    assert r["probability"] == pytest.approx(r["probabilities"][r["class"]])
    assert sum(r["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert r["positive_class"] == "atopic_dermatitis"
    # the class follows the tuned threshold on the positive class's probability
    assert (r["positive_probability"] >= r["threshold"]) == (r["class"] == "atopic_dermatitis")
    assert r["objective"] == "macro_f1" and "macro-averaged F1" in r["decision_rule"]
    assert isinstance(r["quality_warnings"], list)
    assert set(r["quality"]) >= {"blur_laplacian_var", "dark_fraction", "bright_fraction", "cast_strength"}
    assert r["skin_tone"]["category"] in ("very light", "light", "intermediate", "tan", "brown", "dark")
    assert "not a diagnosis" in r["disclaimer"]
    assert "severity" not in r
    assert "heatmap" not in r  # only on request
    assert (r["width"], r["height"]) == (160, 160)


def test_predict_with_heatmap(client, photo):
    r = client.post("/api/predict?heatmap=1", files={"file": (photo.name, photo.read_bytes())}).json()
    overlay = _png(r["heatmap"])
    assert overlay.size == (160, 160)
    assert r["image"].startswith("data:image/jpeg;base64,")
    assert r["heatmap_target"] == r["class"]
    assert r["heatmap_evaluations"] > 10
    assert 0 <= r["heatmap_max_drop"] <= 1


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_predict_png_and_webp(client, saved_model, fmt):
    data = encode(saved_model[1].images[0], fmt)
    r = client.post("/api/predict", files={"file": (f"photo.{fmt.lower()}", data)})
    assert r.status_code == 200, r.text
    assert r.json()["class"] in ("atopic_dermatitis", "eczema")


def test_predict_raw_body(client, photo):
    r = client.post("/api/predict", content=photo.read_bytes(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 200, r.text


def test_heic_upload_when_supported(client, saved_model):
    pillow_heif = pytest.importorskip("pillow_heif")
    buf = io.BytesIO()
    pillow_heif.from_pillow(Image.fromarray(saved_model[1].images[1])).save(buf, quality=90)
    r = client.post("/api/predict", files={"file": ("phone.heic", buf.getvalue())})
    assert r.status_code == 200, r.text


def _error(response, status, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code
    assert "Traceback" not in body["message"] and "File \"" not in body["message"]
    return body["message"]


def test_text_file_renamed_jpg_is_refused(client):
    message = _error(client.post("/api/predict", files={"file": ("notes.jpg", b"Patient notes: itchy rash on elbows.")}),
                     415, "not_an_image")
    assert message.startswith("notes.jpg: not a recognised image format")
    assert "JPEG, PNG, WebP" in message


def test_truncated_jpeg_is_refused(client, photo):
    data = photo.read_bytes()
    message = _error(client.post("/api/predict", files={"file": ("cut.jpg", data[: len(data) // 2])}), 422, "unreadable_image")
    assert "truncated" in message


def test_empty_and_missing_file(client):
    assert "empty" in _error(client.post("/api/predict", files={"file": ("empty.jpg", b"")}), 422, "empty_file")
    # a form without a file part (url-encoded, or multipart with only a text field)
    _error(client.post("/api/predict", data={"comment": "no photo"}), 415, "unsupported_media_type")
    message = _error(client.post("/api/predict", content=b"--xyz\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nhi\r\n--xyz--\r\n",
                                 headers={"content-type": "multipart/form-data; boundary=xyz"}), 422, "no_file")
    assert "'file'" in message
    _error(client.post("/api/predict", content=b"hello", headers={"content-type": "text/plain"}), 415, "unsupported_media_type")
    assert "boundary" in _error(client.post("/api/predict", content=b"x", headers={"content-type": "multipart/form-data"}),
                                400, "bad_request")


def test_too_many_pixels(client):
    big = np.full((1100, 1000, 3), 180, np.uint8)  # 1.1 MP > the 1 MP limit of this app; a tiny PNG
    message = _error(client.post("/api/predict", files={"file": ("big.png", encode(big, "PNG"))}), 413, "too_many_pixels")
    assert "1,100,000 pixels is over the limit of 1,000,000" in message


def test_too_small(client):
    message = _error(client.post("/api/predict", files={"file": ("tiny.png", encode(np.zeros((8, 8, 3)), "PNG"))}),
                     422, "unreadable_image")
    assert "too small" in message


def test_size_limit(client, app):
    limit = app.state.max_upload_bytes
    big = b"\xff\xd8" + bytes(limit + 100)
    message = _error(client.post("/api/predict", files={"file": ("huge.jpg", big)}), 413, "too_large")
    assert "256 kB" in message
    _error(client.post("/api/predict", content=big, headers={"content-type": "image/jpeg"}), 413, "too_large")


class _FakeRequest:
    """What read_body uses of a Starlette request: headers and the body stream."""

    def __init__(self, chunks, headers=None):
        self.headers, self.chunks, self.read = headers or {}, chunks, 0

    async def stream(self):
        for _ in range(self.chunks):
            self.read += 1
            yield bytes(64 * 1024)


def test_read_body_checks_content_length_before_reading():
    import asyncio

    from dermfeat.serve import UploadError
    from dermfeat.serve._app import read_body

    request = _FakeRequest(100, {"content-length": str(100 * 64 * 1024)})
    with pytest.raises(UploadError, match="larger than the limit of 1 MB") as info:
        asyncio.run(read_body(request, 1024 * 1024))
    assert info.value.status == 413 and request.read == 0
    with pytest.raises(UploadError, match="Content-Length"):
        asyncio.run(read_body(_FakeRequest(1, {"content-length": "lots"}), 1024))


def test_read_body_stops_a_stream_at_the_limit():
    import asyncio

    from dermfeat.serve import UploadError
    from dermfeat.serve._app import read_body

    request = _FakeRequest(1000)  # 64 MB without a Content-Length (chunked)
    with pytest.raises(UploadError) as info:
        asyncio.run(read_body(request, 1024 * 1024))
    assert info.value.status == 413
    assert request.read == 17  # 16 chunks fill the 1 MB limit; the 17th passes it and ends the read
    small = _FakeRequest(3)
    assert len(asyncio.run(read_body(small, 1024 * 1024))) == 3 * 64 * 1024


def test_file_just_over_the_limit_inside_the_envelope(client, app):
    limit = app.state.max_upload_bytes
    message = _error(client.post("/api/predict", files={"file": ("x.jpg", bytes(limit + 1))}), 413, "too_large")
    assert message.startswith("x.jpg is")


def test_bad_query_parameter_and_unknown_route(client, photo):
    _error(client.post("/api/predict?heatmap=maybe", files={"file": ("a.jpg", photo.read_bytes())}), 422, "bad_request")
    _error(client.get("/api/nothing"), 404, "http_error")


def test_unknown_host_is_refused(client):
    response = client.get("/", headers={"host": "evil.example:8000"})
    assert response.status_code == 400
    assert client.get("/", headers={"host": "127.0.0.1:8000"}).status_code == 200
    assert client.get("/", headers={"host": "[::1]:8000"}).status_code == 200
    assert client.get("/", headers={"host": "localhost"}).status_code == 200


def test_model_failure_is_a_json_500_without_traceback(saved_model, photo):
    from dermfeat.serve import DemoPredictor, create_app

    predictor = DemoPredictor(saved_model[0])

    def broken(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    predictor.predict = broken
    with test_client(create_app(predictor)) as client:
        message = _error(client.post("/api/predict", files={"file": ("a.jpg", photo.read_bytes())}), 500, "internal_error")
    assert "secret" not in message and "server log" in message
