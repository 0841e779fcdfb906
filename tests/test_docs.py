"""The documentation builds offline without warnings (API pages come from the docstrings)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_sphinx_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(tmp_path / "html")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    pages = {p.name for p in (tmp_path / "html" / "user_guide").glob("*.html")}
    assert {"near_duplicates.html", "evaluation.html", "reading_images.html"} <= pages
    shutil.rmtree(tmp_path / "html", ignore_errors=True)
