"""Running the same code under the refactor's base commit and under this tree (test helper).

The ``src`` of :data:`BASE_COMMIT` is exported with ``git archive``; a snippet of
Python runs in a fresh interpreter with one ``src`` or the other first on
``PYTHONPATH`` and leaves its answer in a variable ``result``, which comes back
pickled.  :func:`assert_identical` compares two answers bit for bit.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]

#: The commit the refactor started from: its ``src`` is the reference.
BASE_COMMIT = "1a98fd1"

_RUNNER = """
import json, pickle, sys
import dermfeat
assert dermfeat.__file__.startswith(sys.argv[3]), f"imported {{dermfeat.__file__}}, not the code under {{sys.argv[3]}}"
PARAMS = json.loads(sys.argv[2])
{code}
with open(sys.argv[1], "wb") as _fh:
    pickle.dump(result, _fh, protocol=pickle.HIGHEST_PROTOCOL)
"""


def export_base_src(folder):
    """``src`` of :data:`BASE_COMMIT` exported into ``folder``; skips the test if git or the commit is missing."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed: cannot export the pre-refactor code to compare against")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: cannot export the pre-refactor code to compare against")
    archive = Path(folder) / "src.tar"
    done = subprocess.run(
        [git, "-C", os.fspath(ROOT), "archive", "--format=tar", "-o", os.fspath(archive), BASE_COMMIT, "src"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"git cannot export commit {BASE_COMMIT} (shallow clone?): {done.stderr.strip()}")
    with tarfile.open(archive) as tar:
        tar.extractall(folder, filter="data")
    return Path(folder) / "src"


def run_snippet(src, code, workdir, **params):
    """Run ``code`` with ``src`` first on ``PYTHONPATH`` in ``workdir``; return its ``result``.

    ``params`` (JSON-serialisable) reach the snippet as the dict ``PARAMS``.  The
    snippet fails if ``dermfeat`` is imported from anywhere but ``src``; a failing
    snippet fails the test with its stderr.
    """
    script = Path(workdir) / "_snippet.py"
    out = Path(workdir) / "_result.pkl"
    script.write_text(_RUNNER.format(code=textwrap.dedent(code)), encoding="utf-8")
    paths = [os.fspath(src)] + [p for p in [os.environ.get("PYTHONPATH")] if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, os.fspath(script), os.fspath(out), json.dumps(params), os.fspath(Path(src).resolve())],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.fail(f"snippet failed under {src}:\n{done.stderr[-4000:]}")
    with open(out, "rb") as fh:
        return pickle.load(fh)


def assert_identical(old, new, where=""):
    """Recursive equality: arrays bit for bit (same dtype, shape, bytes), dicts by key, the rest by ``==``."""
    if isinstance(old, dict):
        assert isinstance(new, dict) and set(old) == set(new), f"{where}: keys {set(old) ^ set(new)} differ"
        for key in old:
            assert_identical(old[key], new[key], f"{where}/{key}")
    elif isinstance(old, (list, tuple)):
        assert type(old) is type(new) and len(old) == len(new), f"{where}: {old!r} != {new!r}"
        for i, (a, b) in enumerate(zip(old, new)):
            assert_identical(a, b, f"{where}[{i}]")
    elif isinstance(old, np.ndarray):
        assert isinstance(new, np.ndarray), f"{where}: {type(new)} is not an array"
        assert old.dtype == new.dtype and old.shape == new.shape, f"{where}: {old.dtype}{old.shape} != {new.dtype}{new.shape}"
        if old.dtype == object:
            assert old.tolist() == new.tolist(), f"{where}: {old.tolist()} != {new.tolist()}"
        else:
            assert old.tobytes() == new.tobytes(), f"{where}: values differ ({np.sum(old != new)} of {old.size})"
    else:
        assert old == new, f"{where}: {old!r} != {new!r}"
