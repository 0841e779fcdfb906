"""A small model fitted and saved for the web demo tests, photos to upload, a real server."""

import contextlib
import io
import socket
import threading
import time
import warnings

import numpy as np
import pytest
from PIL import Image

from dermfeat.datasets import make_lesion_images
from dermfeat.persistence import save_model
from dermfeat.pipeline import make_classifier


def _fit_and_save(folder, path):
    data = make_lesion_images(48, image_size=96, directory=folder / "images", random_state=0)
    pipe = make_classifier("color", "logistic", threshold="macro_f1", pos_label="atopic_dermatitis")
    pipe.fit(list(data.filenames), data.labels)
    final = pipe.steps[-1][1]
    # the metadata 'dermfeat fit --features color --threshold macro_f1' records
    meta = {
        "features": "color", "head": "logistic", "imbalance": "balanced", "threshold_objective": "macro_f1",
        "constraint": None, "pos_label": "atopic_dermatitis", "threshold": final.best_threshold_,
        "n_training_images": len(data.labels),
    }
    return save_model(pipe, path, metadata=meta), data


@pytest.fixture(scope="session")
def saved_model(tmp_path_factory):
    """(path of a saved color/logistic model with a macro-F1 threshold, its training data)."""
    folder = tmp_path_factory.mktemp("serve_model")
    return _fit_and_save(folder, folder / "model.skops")


@pytest.fixture(scope="session")
def photo_dir(tmp_path_factory):
    """Synthetic photographs the model has not seen, as JPEG files."""
    folder = tmp_path_factory.mktemp("serve_photos")
    make_lesion_images(4, image_size=160, quality_variation=0, directory=folder, random_state=7)
    return folder


@pytest.fixture(scope="session")
def photo(photo_dir):
    return sorted(photo_dir.rglob("*.jpg"))[0]


@pytest.fixture(scope="session")
def app(saved_model):
    from dermfeat.serve import create_app

    pytest.importorskip("fastapi")
    return create_app(saved_model[0], max_upload_bytes=256 * 1024, max_pixels=1_000_000)


def test_client(app):
    """FastAPI's TestClient for ``app`` (use it as a context manager)."""
    pytest.importorskip("httpx")
    with warnings.catch_warnings():
        # newer Starlette prefers the httpx2 package and says so on import
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient
    return TestClient(app)


test_client.__test__ = False  # a helper, not a test


@pytest.fixture(scope="session")
def client(app):
    with test_client(app) as client:
        yield client


def encode(image, fmt, **kwargs):
    """An RGB array encoded in memory."""
    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(app, *, propagate_logs=False):
    """uvicorn serving ``app`` on 127.0.0.1 in a background thread; stopped on exit.

    ``propagate_logs=True`` leaves logging alone (uvicorn's loggers then reach
    pytest's ``caplog``) instead of installing uvicorn's own handlers.
    """
    import uvicorn

    port = _free_port()
    options = {"log_config": None, "log_level": "info"} if propagate_logs else {"log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", **options))
    thread = threading.Thread(target=server.run, name="dermfeat-serve-test", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on 127.0.0.1:{port}")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the test server did not stop"
