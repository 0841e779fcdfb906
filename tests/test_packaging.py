"""The package as a user gets it: the wheel, installed without extras in a fresh venv, runs the README.

The wheel is built from this checkout (sdist, then the wheel from the sdist), checked with
``twine check --strict`` and installed with pip, core dependencies only, into a new virtual
environment that sees nothing of this one (no ``--system-site-packages``, no ``PYTHONPATH``).
There the README's 30-second tour runs on synthetic photographs, and so do ``dermfeat fit``,
``dermfeat predict`` and ``dermfeat cv --report``.  pip reads the dependencies from the package
index (or its cache); ``--no-compile`` skips byte-compiling them, which is most of an install's
time.  ``-m "not packaging"`` leaves these tests out.
"""

import csv
import io
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from dermfeat.datasets import make_lesion_images

ROOT = Path(__file__).resolve().parents[1]
CARD = ROOT.parent / "shared" / "models" / "efficientnet_lite0.json"

packaging = pytest.mark.packaging


def _run(cmd, **kwargs):
    result = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout[-3000:]}\n{result.stderr[-5000:]}"
    return result


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The sdist and the wheel of this checkout."""
    pytest.importorskip("build", reason="building the wheel needs 'build' (pip install 'dermfeat[dev]')")
    out = tmp_path_factory.mktemp("dist")
    _run([sys.executable, "-m", "build", "--outdir", out, ROOT])
    return out


@pytest.fixture(scope="module")
def venv(dist, tmp_path_factory):
    """A fresh virtual environment with the wheel installed, core dependencies only."""
    root = tmp_path_factory.mktemp("venv")
    _run([sys.executable, "-m", "venv", "--without-pip", root])
    python = root / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--quiet", "--no-compile", wheel], env=_clean_env())
    return root


def _clean_env():
    """This process's environment without what would let the venv see this checkout or this venv."""
    hidden = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV", "DERMFEAT_MODEL_DIR"}
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    # one BLAS thread: many small logistic regressions, where idle BLAS threads spinning on the
    # suite's two cores cost more than they bring
    env.update(PYTHONNOUSERSITE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return env


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """40 small synthetic photographs in class folders, with a manifest."""
    folder = tmp_path_factory.mktemp("photos")
    make_lesion_images(40, image_size=96, positive_fraction=0.5, directory=folder, random_state=0)
    return folder


def readme_tour(photos):
    """The README's 30-second tour, on ``photos``; with the real ONNX backbone where ../shared has it."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = readme.split("## A 30-second tour", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    assert code.count('"photos/"') == 1
    code = code.replace('"photos/"', repr(str(photos)))
    if CARD.is_file():
        assert code.count('"models/efficientnet_lite0.json"') == 1
        code = code.replace('"models/efficientnet_lite0.json"', repr(str(CARD)))
    else:  # the backbone lives in ../shared (or the zoo extra): the tour runs with the handcrafted features
        code, n = re.subn(r",\s*\n\s*OnnxEmbedder\.from_card\([^)]*\)", "", code)
        assert n == 1
    return code


@packaging
def test_the_wheel_and_sdist_pass_twine_check(dist):
    pytest.importorskip("twine", reason="twine check needs twine (pip install 'dermfeat[dev]')")
    _run([sys.executable, "-m", "twine", "check", "--strict", *sorted(dist.iterdir())])


@packaging
def test_the_wheel_holds_the_package_the_license_and_its_metadata(dist):
    wheel = zipfile.ZipFile(next(dist.glob("*.whl")))
    names = set(wheel.namelist())
    source = ROOT / "src"
    expected = {
        p.relative_to(source).as_posix()
        for p in (source / "dermfeat").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
    }
    assert expected <= names, sorted(expected - names)
    info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
    assert wheel.read(f"{info}/licenses/LICENSE") == (ROOT / "LICENSE").read_bytes()
    metadata = wheel.read(f"{info}/METADATA").decode()
    assert "License-Expression: BSD-3-Clause" in metadata
    assert "Classifier: Topic :: Scientific/Engineering :: Medical Science Apps." in metadata
    requires = [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]
    core = {re.split(r"[<>=!~\[; ]", r)[0].lower() for r in requires if "extra ==" not in r}
    # what the README's workflow needs at run time is core; a test-only library is not
    assert {"skops", "matplotlib", "scikit-learn", "onnxruntime"} <= core
    assert "scikit-image" not in core
    assert (dist / f"{info.removesuffix('.dist-info')}.tar.gz").is_file()


@packaging
def test_the_readme_tour_runs_from_a_core_install(venv, photos, tmp_path):
    code = readme_tour(photos) + (
        "\nimport dermfeat, sys\n"
        "assert dermfeat.__file__.startswith(sys.prefix), dermfeat.__file__\n"
        "print('folds', len(report.folds))\n"
    )
    (tmp_path / "tour.py").write_text(code, encoding="utf-8")
    out = _run([venv / "bin" / "python", "tour.py"], cwd=tmp_path, env=_clean_env()).stdout
    assert "auc" in out.lower() and "folds 25" in out
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64" in report  # the plots (matplotlib, a core dependency)


@packaging
def test_the_command_line_fits_predicts_and_cross_validates_from_a_core_install(venv, photos, tmp_path):
    dermfeat = venv / "bin" / "dermfeat"
    env = _clean_env()
    fit = _run([dermfeat, "fit", photos, "--features", "handcrafted", "--threshold", "macro_f1", "-o", "model.skops"],
               cwd=tmp_path, env=env).stdout
    assert "saved:" in fit and (tmp_path / "model.skops").is_file()

    images = sorted(photos.rglob("*.jpg"))[:2]
    out = _run([dermfeat, "predict", "model.skops", *images], cwd=tmp_path, env=env).stdout
    rows = list(csv.reader(io.StringIO(out)))
    assert len(rows) == 3 and {Path(r[0]).name for r in rows[1:]} == {p.name for p in images}
    assert all(r[1] in ("atopic_dermatitis", "eczema") for r in rows[1:])

    cv = _run([dermfeat, "cv", photos, "--features", "handcrafted", "--threshold", "macro_f1",
               "--folds", "3", "--repeats", "1", "--report", "report.html"], cwd=tmp_path, env=env).stdout
    assert "report:" in cv
    assert "data:image/png;base64" in (tmp_path / "report.html").read_text(encoding="utf-8")


def test_the_install_page_names_every_extra():
    tomllib = pytest.importorskip("tomllib")
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    page = (ROOT / "docs" / "install.rst").read_text(encoding="utf-8")
    missing = [name for name in extras if f"dermfeat[{name}]" not in page]
    assert not missing, f"docs/install.rst does not describe the extras {missing}"


def test_the_license_file_is_the_declared_license():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "BSD-3-Clause" and project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("BSD 3-Clause License") and "dermfeat developers" in text
