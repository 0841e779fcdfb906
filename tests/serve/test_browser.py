"""The page in a real headless browser, against a real uvicorn server on 127.0.0.1.

Upload a photo (file picker and drag and drop): the class, probability, threshold and
heat map appear.  Upload a text file renamed ``.jpg``: the error message appears.
A model written by ``dermfeat fit --validate`` shows its cross-validated figures beside
the decision; one without says it was not validated.  Screenshots are written under the
test's tmp dir; with ``DERMFEAT_UPDATE_SCREENSHOTS=1`` they are also copied to
``docs/_static/serve_*.png``: the prediction of the ``--validate`` model and the error state
of the synthetic data, or both states with the model ``DERMFEAT_SCREENSHOT_MODEL`` and photo
``DERMFEAT_SCREENSHOT_IMAGE`` when both are set (e.g. a model fitted on DermNet NZ with
``--validate``).

Playwright drives the system Chromium (``/usr/bin/chromium``, or
``DERMFEAT_CHROMIUM``); it never downloads a browser.
"""

import base64
import io
import os
from pathlib import Path

import pytest
from PIL import Image

from .conftest import encode, running_server

CHROMIUM = Path(os.environ.get("DERMFEAT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DOCS_STATIC = Path(__file__).resolve().parents[2] / "docs" / "_static"
UPDATE = os.environ.get("DERMFEAT_UPDATE_SCREENSHOTS") == "1"
REAL_MODEL = os.environ.get("DERMFEAT_SCREENSHOT_MODEL")
REAL_IMAGE = os.environ.get("DERMFEAT_SCREENSHOT_IMAGE")
MAX_SCREENSHOT_BYTES = 300_000

pytest.importorskip("uvicorn")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install playwright; it is in the dev extra)")
    if not CHROMIUM.is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run does it on CI)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _open(browser, url):
    """A page that may only talk to ``url``; every other request is aborted and recorded."""
    page = browser.new_page(viewport={"width": 960, "height": 860})
    outside, problems = [], []

    def route(r):
        if r.request.url.startswith(url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" and "status of 4" not in msg.text else None)
    page.goto(url)
    return page, outside, problems


def _wait_for_result(page):
    page.wait_for_selector("#result:not([hidden])", timeout=60_000)
    page.wait_for_function(
        "() => { const i = document.getElementById('heatmap'); return i.complete && i.naturalWidth > 0; }", timeout=10_000)


def _drive(browser, app, photo, bad_file, folder):
    """Upload a photo, then a bad file; check the page and screenshot both states."""
    with running_server(app) as url:
        page, outside, problems = _open(browser, url)
        assert "Not a diagnosis" in page.inner_text("header")
        page.set_input_files("#file", str(photo))
        _wait_for_result(page)
        decision = page.inner_text("#decision")
        assert decision in ("atopic dermatitis", "eczema")
        assert page.inner_text("#probability").startswith("probability ") and "%" in page.inner_text("#probability")
        text = page.inner_text("body")
        assert "threshold" in page.inner_text("#barlabel")
        assert "Decision rule:" in text and "macro-averaged F1" in text
        assert "Occlusion heat map for " + decision in text
        assert "Skin-tone group:" in text
        assert page.inner_text("#validation").startswith(("Validated on ", "Not validated: "))
        assert text.count("Not a diagnosis") == 2
        assert "severity" not in text.lower()
        page.screenshot(path=str(folder / "serve_prediction.png"), full_page=True)

        bad_file.write_bytes(b"Patient notes: itchy rash on both elbows since March.\n")
        page.set_input_files("#file", str(bad_file))
        page.wait_for_selector("#error:not([hidden])", timeout=30_000)
        message = page.inner_text("#error")
        assert message.startswith(f"{bad_file.name}: not a recognised image format"), message
        assert "Traceback" not in message
        assert page.is_hidden("#result")
        page.screenshot(path=str(folder / "serve_error.png"), full_page=True)
        page.close()
    assert outside == [], f"the page tried to reach beyond the demo: {outside}"
    assert problems == [], problems
    return folder / "serve_prediction.png", folder / "serve_error.png"


def _copy_for_docs(shot):
    """Copy a screenshot to docs/_static, reduced to 256 colours if needed to stay < 300 kB."""
    target = DOCS_STATIC / shot.name
    image = Image.open(shot).convert("RGB")
    for colours in (None, 256, 128, 64):
        buf = io.BytesIO()
        (image if colours is None else image.quantize(colors=colours, dither=Image.Dither.NONE)).save(
            buf, format="PNG", optimize=True)
        if buf.tell() < MAX_SCREENSHOT_BYTES:
            break
    assert buf.tell() < MAX_SCREENSHOT_BYTES, f"{shot.name}: {buf.tell()} bytes even at 64 colours"
    target.write_bytes(buf.getvalue())


def test_upload_in_a_real_browser(browser, app, photo, tmp_path):
    folder = tmp_path / "screenshots"
    folder.mkdir()
    shots = _drive(browser, app, photo, tmp_path / "notes.jpg", folder)
    for shot in shots:
        assert Image.open(shot).size[0] >= 900
    if UPDATE and not (REAL_MODEL and REAL_IMAGE):
        _copy_for_docs(shots[1])  # the prediction shown in the docs is that of a validated model (below)


def test_drag_and_drop_and_client_side_size_limit(browser, app, saved_model):
    png = encode(saved_model[1].images[2], "PNG")
    with running_server(app) as url:
        page, outside, problems = _open(browser, url)
        data = page.evaluate_handle(
            """(b64) => { const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
                          const dt = new DataTransfer();
                          dt.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
                          return dt; }""",
            base64.b64encode(png).decode("ascii"))
        page.dispatch_event("#drop", "drop", {"dataTransfer": data})
        _wait_for_result(page)
        assert page.inner_text("#decision") in ("atopic dermatitis", "eczema")

        # over the 256 kB limit of this app: refused in the page before uploading
        page.set_input_files("#file", files=[{"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": bytes(300 * 1024)}])
        page.wait_for_selector("#error:not([hidden])", timeout=10_000)
        assert "the limit is 256 kB" in page.inner_text("#error")
        page.close()
    assert outside == [] and problems == []


@pytest.mark.skipif(not (UPDATE and REAL_MODEL and REAL_IMAGE),
                    reason="docs screenshot of a real prediction: set DERMFEAT_UPDATE_SCREENSHOTS=1, "
                           "DERMFEAT_SCREENSHOT_MODEL and DERMFEAT_SCREENSHOT_IMAGE")
def test_docs_screenshots_of_a_real_prediction(browser, tmp_path):
    from dermfeat.serve import create_app

    folder = tmp_path / "screenshots"
    folder.mkdir()
    for shot in _drive(browser, create_app(REAL_MODEL), Path(REAL_IMAGE), tmp_path / "notes.jpg", folder):
        _copy_for_docs(shot)


class _Statuses:
    """ASGI wrapper recording ``(method, path, status)`` of every response."""

    def __init__(self, app):
        self.app, self.seen = app, []

    async def __call__(self, scope, receive, send):
        async def record(message):
            if message["type"] == "http.response.start":
                self.seen.append((scope["method"], scope["path"], message["status"]))
            await send(message)

        await self.app(scope, receive, record if scope["type"] == "http" else send)


def _other_site(target):
    """A page on another origin that POSTs a photo to ``target`` when opened (what a hostile page would do)."""
    from starlette.applications import Starlette
    from starlette.responses import HTMLResponse
    from starlette.routing import Route

    page = f"""<!doctype html><title>loading</title><script>
      const data = new FormData();
      data.append("file", new Blob([new Uint8Array([255, 216, 255, 224])], {{type: "image/jpeg"}}), "x.jpg");
      fetch("{target}api/predict?heatmap=1", {{method: "POST", body: data, mode: "no-cors"}})
        .then(() => {{ document.title = "sent"; }}, (e) => {{ document.title = "failed: " + e; }});
    </script>"""
    return Starlette(routes=[Route("/", lambda request: HTMLResponse(page))])


def test_a_page_from_another_origin_cannot_use_the_demo(browser, saved_model):
    from dermfeat.serve import create_app

    app = create_app(saved_model[0])
    calls = []
    predict = app.state.predictor.predict
    app.state.predictor.predict = lambda *a, **kw: calls.append(1) or predict(*a, **kw)
    demo = _Statuses(app)
    with running_server(demo) as url, running_server(_other_site(url)) as other:
        page = browser.new_page()
        page.goto(other)
        page.wait_for_function("() => document.title !== 'loading'", timeout=30_000)
        page.close()  # the fetch ends either way: the demo's Cross-Origin-Resource-Policy hides its answer
    assert demo.seen == [("POST", "/api/predict", 403)]
    assert calls == []


@pytest.fixture(scope="module")
def validated_model(tmp_path_factory):
    """A model written by ``dermfeat fit --validate`` on 48 synthetic photographs."""
    from dermfeat.cli import main
    from dermfeat.datasets import make_lesion_images

    folder = tmp_path_factory.mktemp("validated")
    make_lesion_images(48, image_size=96, directory=folder / "images", random_state=0)
    path = folder / "validated.skops"
    code = main(["fit", str(folder / "images"), "-o", str(path), "--features", "color", "--threshold", "macro_f1",
                 "--validate", "--folds", "3", "--repeats", "1"])
    assert code == 0
    return path


def test_validated_model_shows_its_figures_beside_the_decision(browser, validated_model, photo, tmp_path):
    import re

    from dermfeat.serve import create_app

    app = create_app(validated_model, max_upload_bytes=256 * 1024, max_pixels=1_000_000)
    with running_server(app) as url:
        page, outside, problems = _open(browser, url)
        assert "validated on 48 photographs (stratified group 3-fold" in page.inner_text("#model")
        page.set_input_files("#file", str(photo))
        _wait_for_result(page)
        line = page.inner_text("#validation")
        assert re.match(r"Validated on 48 photographs: sensitivity \d\.\d\d ± \d\.\d\d, "
                        r"specificity \d\.\d\d ± \d\.\d\d \(mean ± std over the test folds", line), line
        shot = tmp_path / "serve_prediction.png"
        page.screenshot(path=str(shot), full_page=True)
        page.close()
    assert outside == [] and problems == []
    if UPDATE and not (REAL_MODEL and REAL_IMAGE):
        _copy_for_docs(shot)


def test_model_without_validation_says_so(browser, app, photo):
    with running_server(app) as url:
        page, outside, problems = _open(browser, url)
        assert "not validated" in page.inner_text("#model")
        page.set_input_files("#file", str(photo))
        _wait_for_result(page)
        assert page.inner_text("#validation").startswith("Not validated: no cross-validated figures")
        page.close()
    assert outside == [] and problems == []
