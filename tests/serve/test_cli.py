"""``dermfeat serve``: options, errors, and what it hands to uvicorn."""

import os

import pytest

from dermfeat.cli import main
from dermfeat.cli._main import build_parser
from dermfeat.cli._serve import is_loopback


def test_defaults_listen_on_localhost():
    args = build_parser().parse_args(["serve", "model.skops"])
    assert (args.host, args.port) == ("127.0.0.1", 8000)
    assert args.max_upload_mb == 20 and args.max_pixels == 64_000_000  # the io limit, one constant
    assert args.severity_model is None


@pytest.mark.parametrize("host, local", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                         ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.5", False),
                                         ("example.org", False)])
def test_is_loopback(host, local):
    assert is_loopback(host) is local


def test_missing_model_is_a_clear_error(tmp_path, capsys):
    assert main(["serve", str(tmp_path / "nope.skops")]) == 1
    err = capsys.readouterr().err
    assert "dermfeat serve: error:" in err and "Traceback" not in err


def test_runs_uvicorn_with_the_app(saved_model, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    assert main(["serve", str(saved_model[0]), "--port", "8765", "--max-upload-mb", "1"]) == 0
    app, kw = calls[0]
    assert kw["host"] == "127.0.0.1" and kw["port"] == 8765
    assert app.state.max_upload_bytes == 1024 * 1024
    out = capsys.readouterr()
    assert "http://127.0.0.1:8765/" in out.out and "warning" not in out.err


def test_warns_when_listening_beyond_this_computer(saved_model, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    assert main(["serve", str(saved_model[0]), "--host", "0.0.0.0"]) == 0
    assert "anyone who can reach this address" in capsys.readouterr().err


def test_burst_limits_are_passed_to_the_app(saved_model, monkeypatch):
    uvicorn = pytest.importorskip("uvicorn")
    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(app))
    assert main(["serve", str(saved_model[0]), "--max-concurrent", "3", "--max-queued", "5"]) == 0
    assert (calls[0].state.max_concurrent, calls[0].state.max_queued) == (3, 5)
    defaults = build_parser().parse_args(["serve", "model.skops"])
    assert (defaults.max_concurrent, defaults.max_queued) == (min(os.cpu_count() or 1, 8), 8)  # one per core


def test_a_bad_model_or_severity_model_is_one_line_naming_it(saved_model, tmp_path, monkeypatch, capsys):
    uvicorn = pytest.importorskip("uvicorn")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    damaged = tmp_path / "damaged.skops"
    data = bytearray(saved_model[0].read_bytes())
    data[:4] = b"XXXX"
    damaged.write_bytes(bytes(data))
    assert main(["serve", str(damaged)]) == 1
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and err.startswith("dermfeat serve: error: ") and "damaged.skops" in err
    # a type classifier is not a severity model: the message says which file is wrong
    assert main(["serve", str(saved_model[0]), "--severity-model", str(saved_model[0])]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"dermfeat serve: error: {saved_model[0]}: cannot read the severity model: ")
    assert "OrdinalClassifier" in err and len(err.splitlines()) == 1
    assert main(["serve", str(saved_model[0]), "--severity-model", str(damaged)]) == 1
    assert "damaged.skops" in capsys.readouterr().err
