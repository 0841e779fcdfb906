"""benchmarks/bench_reliability.py classifies outcomes as it says: failures are noticed, not hidden.

The benchmark itself takes tens of minutes; these tests run its classification on a few
inputs in-process and its audit hook in a child process (an audit hook cannot be removed).
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dermfeat.testing import ImageCase, hostile_image_inputs

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"


@pytest.fixture(scope="module")
def worker():
    sys.path.insert(0, str(BENCHMARKS))
    try:
        import _reliability_worker

        yield _reliability_worker
    finally:
        sys.path.remove(str(BENCHMARKS))


@pytest.fixture(scope="module")
def three_kinds(tmp_path_factory):
    wanted = ("jpeg_baseline", "eps_named_jpg", "jpeg_truncated_50_with_eoi")
    cases = {c.kind: c for c in hostile_image_inputs(tmp_path_factory.mktemp("hostile"))}
    return [(i, cases[kind]) for i, kind in enumerate(wanted)]


def test_read_image_on_three_kinds(worker, three_kinds):
    results = worker.runner({}, "read_image")(three_kinds)
    assert [outcome for _, outcome, _ in results] == ["ok", "refused", "refused"]
    assert "eps_named_jpg" in results[1][2] and "PostScript" in results[1][2]


def test_an_input_accepted_or_refused_against_expectation_is_wrong(worker, three_kinds):
    flipped = [(i, ImageCase(c.kind, c.description, "refused" if c.expected == "ok" else "ok", c.source))
               for i, c in three_kinds]
    results = worker.runner({}, "read_image")(flipped)
    assert [outcome for _, outcome, _ in results] == ["wrong"] * 3


class _Fake:
    """A transformer whose rows and reports are given: what a broken extractor could return."""

    def __init__(self, rows, errors):
        self.rows, self.errors = rows, errors

    def set_params(self, **params):
        return self

    def transform_with_errors(self, sources):
        return np.array(self.rows, dtype=float), self.errors


def test_transformer_failures_are_classified(worker):
    items = [(i, ImageCase(f"k{i}", "", "any", f"f{i}.jpg")) for i in range(5)]
    rows = [[1.0, 2.0], [np.nan, np.nan], [np.inf, 1.0], [np.nan, np.nan], [3.0, 3.0]]
    errors = [(3, "f3.jpg", "f3.jpg: bad"), (4, "f4.jpg", "two\nlines")]
    results = worker._transformer_runner(_Fake(rows, errors))(items)
    assert [outcome for _, outcome, _ in results] == ["ok", "dropped", "nonfinite", "refused", "wrong"]
    short = worker._transformer_runner(_Fake(rows[:4], []))(items)
    assert {outcome for _, outcome, _ in short} == {"dropped"}


def test_audit_hook_sees_writes_and_processes(tmp_path):
    script = (
        "import subprocess, sys, _reliability_worker as W\n"
        f"audit = W.Audit(allowed=[{str(tmp_path / 'allowed')!r}])\n"
        "audit.armed = True\n"
        f"open({str(tmp_path / 'written')!r}, 'w').close()\n"
        f"open({str(tmp_path / 'allowed')!r}, 'w').close()\n"
        "subprocess.run([sys.executable, '-c', 'pass'])\n"
        "audit.armed = False\n"
        "print(audit.take())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=BENCHMARKS, capture_output=True, text=True,
                         timeout=300, check=True).stdout
    assert "written" in out and "allowed" not in out and "subprocess.Popen" in out


def test_help():
    out = subprocess.run([sys.executable, str(BENCHMARKS / "bench_reliability.py"), "--help"], capture_output=True,
                         text=True, timeout=300, check=True).stdout
    assert "--fuzz" in out and "--quick" in out
