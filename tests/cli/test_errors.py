"""Every error of the command line is one line on stderr with a non-zero exit code."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import cv2
import numpy as np
import pytest

import dermfeat.cli._describe as describe_command
from dermfeat import InvalidImageError
from dermfeat._exceptions import ModelMismatchError
from dermfeat.cli import main
from dermfeat.cli._errors import CommandError, describe, one_line, reading

SRC = Path(__file__).resolve().parents[2] / "src"


def _opencv_error():
    try:
        cv2.resize(np.zeros((0, 0, 3), np.uint8), (4, 4))
    except cv2.error as exc:
        return exc
    raise AssertionError("OpenCV resized an empty image")  # pragma: no cover


def _fail_with(monkeypatch, exc):
    def run(args):
        raise exc

    monkeypatch.setattr(describe_command, "run", run)


def _one_error_line(err):
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("dermfeat describe: error: ")
    assert "Traceback" not in err
    return lines[0].removeprefix("dermfeat describe: error: ")


@pytest.mark.parametrize("exc, expected", [
    (InvalidImageError("a.jpg", "truncated or corrupt image data"), "a.jpg: truncated or corrupt image data"),
    (ModelMismatchError("m.onnx: SHA-256 abc differs"), "m.onnx: SHA-256 abc differs"),
    (FileNotFoundError(2, "No such file or directory", "photos"), "photos: No such file or directory"),
    (PermissionError(13, "Permission denied", "model.skops"), "model.skops: Permission denied"),
    (ValueError("the data have no column 'site' for groups"), "the data have no column 'site' for groups"),
    (zipfile.BadZipFile("File is not a zip file"), "not a valid zip archive (File is not a zip file)"),
    (ImportError('needs the serve extra: pip install "dermfeat[serve]"'), 'needs the serve extra'),
    (MemoryError(), "out of memory"),
    (CommandError("model.skops: cannot read the model: bad"), "model.skops: cannot read the model: bad"),
])
def test_user_errors_are_one_line_without_hint(monkeypatch, capsys, exc, expected):
    _fail_with(monkeypatch, exc)
    assert main(["describe", "anything"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(expected)
    assert "--traceback" not in line


@pytest.mark.parametrize("exc, expected", [
    (KeyError("estimator"), "unexpected KeyError: 'estimator'"),
    (RuntimeError("boom\nsecond line"), "unexpected RuntimeError: boom second line"),
    (TypeError("unsupported operand"), "unexpected TypeError: unsupported operand"),
    (_opencv_error(), "unexpected OpenCV error: (-215:Assertion failed)"),
])
def test_unexpected_errors_are_one_line_with_hint(monkeypatch, capsys, exc, expected):
    _fail_with(monkeypatch, exc)
    assert main(["describe", "anything"]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert line.startswith(expected)
    assert line.endswith("(run with --traceback (or DERMFEAT_TRACEBACK=1) to see where it happened)")
    assert "OpenCV(" not in line and ".cpp" not in line  # OpenCV's source location is dropped


def test_keyboard_interrupt_exits_130(monkeypatch, capsys):
    _fail_with(monkeypatch, KeyboardInterrupt())
    assert main(["describe", "anything"]) == 130
    assert capsys.readouterr().err == "dermfeat describe: interrupted\n"


def test_broken_pipe_is_quiet(monkeypatch, capsys):
    _fail_with(monkeypatch, BrokenPipeError(32, "Broken pipe"))
    assert main(["describe", "anything"]) == 141
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("argv", [["--traceback", "describe", "x"], ["describe", "x", "--traceback"]])
def test_traceback_option_before_or_after_the_command(monkeypatch, capsys, argv):
    _fail_with(monkeypatch, RuntimeError("boom"))
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):") and "RuntimeError: boom" in err
    assert err.splitlines()[-1] == "dermfeat describe: error: unexpected RuntimeError: boom"


def test_traceback_environment_variable(monkeypatch, capsys):
    _fail_with(monkeypatch, RuntimeError("boom"))
    monkeypatch.setenv("DERMFEAT_TRACEBACK", "1")
    assert main(["describe", "x"]) == 1
    assert "Traceback" in capsys.readouterr().err
    monkeypatch.setenv("DERMFEAT_TRACEBACK", "0")
    assert main(["describe", "x"]) == 1
    assert "Traceback" not in capsys.readouterr().err


def test_warnings_are_one_line_in_a_real_process(model_file, lesion_folder, tmp_path):
    from dermfeat.persistence import load_model, save_model

    pickled = save_model(load_model(model_file)[0], tmp_path / "model.pkl", format="pickle")
    image = next((lesion_folder / "eczema").glob("*.jpg"))
    result = _cli("predict", pickled, image, "--allow-pickle")
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"dermfeat predict: warning: loading pickle {pickled}: only do this for files you trust"]


def test_one_line_and_long_messages():
    assert one_line("a\n  b\tc ") == "a b c"
    assert len(one_line("x" * 5000)) == 1000


def test_describe_os_error_without_file_name():
    assert describe(OSError("disk full")) == ("disk full", True)


def test_reading_names_the_file_once():
    with pytest.raises(CommandError, match=r"^m\.skops: cannot read the model: unexpected KeyError: 'x'$") as info:
        with reading("m.skops", "the model"):
            raise KeyError("x")
    assert info.value.expected is False
    # an error that already names the file is left as it is
    with pytest.raises(ValueError, match=r"^m\.skops was not written by dermfeat$"):
        with reading("m.skops", "the model"):
            raise ValueError("m.skops was not written by dermfeat")
    with pytest.raises(KeyboardInterrupt):
        with reading("m.skops", "the model"):
            raise KeyboardInterrupt


def _cli(*args, env=None):
    env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", ""), **(env or {})}
    env.pop("DERMFEAT_TRACEBACK", None) if "DERMFEAT_TRACEBACK" not in (env or {}) else None
    return subprocess.run([sys.executable, "-m", "dermfeat", *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=600)


def _damaged_models(folder, model_file):
    """Model files that fail in different layers: not a zip, a damaged zip, a zip without the schema."""
    text = folder / "text.skops"
    text.write_text("not a model")
    damaged = folder / "damaged.skops"
    data = bytearray(model_file.read_bytes())
    data[:4] = b"XXXX"  # the first local file header: the central directory still says 'zip'
    damaged.write_bytes(bytes(data))
    empty_zip = folder / "empty.skops"
    with zipfile.ZipFile(empty_zip, "w") as zf:
        zf.writestr("readme.txt", "no schema here")
    tampered = folder / "tampered.skops"
    with zipfile.ZipFile(tampered, "w") as zf:
        zf.writestr("schema.json", "{}")
    return [text, damaged, empty_zip, tampered, folder / "missing.skops", folder]


def test_damaged_model_files_are_one_line_errors_naming_the_file(model_file, lesion_folder, tmp_path, capsys):
    image = next((lesion_folder / "eczema").glob("*.jpg"))
    for bad in _damaged_models(tmp_path, model_file):
        for command in (["predict", bad, image], ["explain", bad, image, "-o", tmp_path / "h.png"]):
            assert main([str(a) for a in command]) == 1, bad
            captured = capsys.readouterr()
            assert captured.out == ""
            lines = captured.err.splitlines()
            assert len(lines) == 1 and lines[0].startswith(f"dermfeat {command[0]}: error: "), captured.err
            assert bad.name in lines[0]


def test_one_line_error_in_a_real_process(model_file, tmp_path):
    bad = _damaged_models(tmp_path, model_file)[1]
    result = _cli("predict", bad, "x.jpg")
    assert (result.returncode, result.stdout) == (1, "")
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("dermfeat predict: error: "), result.stderr
    assert bad.name in lines[0] and "Traceback" not in result.stderr


def test_traceback_in_a_real_process(model_file, tmp_path):
    bad = _damaged_models(tmp_path, model_file)[1]
    shown = _cli("--traceback", "predict", bad, "x.jpg")
    assert shown.returncode == 1 and "Traceback (most recent call last)" in shown.stderr
    assert shown.stderr.splitlines()[-1].startswith("dermfeat predict: error: ")
    assert "Traceback" in _cli("predict", bad, "x.jpg", env={"DERMFEAT_TRACEBACK": "1"}).stderr
