"""Progress bars: on where someone can see them, controllable, fed by the image engine."""

import functools
import sys
import types

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline, make_union

from dermfeat import show_progress
from dermfeat._progress import image_steps, images_done, progress_enabled
from dermfeat.cli import main
from dermfeat.evaluation import evaluate
from dermfeat.features import ColorFeatures, QualityFeatures


@pytest.fixture(autouse=True)
def every_update_drawn(monkeypatch):
    """tqdm draws every update in full (no 0.1 s rate limit, no skipped updates): the bars' last counts
    reach stderr however fast this machine runs."""
    from tqdm.auto import tqdm

    monkeypatch.setattr(tqdm, "__init__", functools.partialmethod(tqdm.__init__, mininterval=0, miniters=1))
    monkeypatch.setenv("COLUMNS", "200")


class _Stream:
    def __init__(self, tty):
        self.tty = tty

    def isatty(self):
        return self.tty

    def write(self, text):
        return len(text)

    def flush(self):
        pass


def test_auto_follows_the_terminal(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    assert progress_enabled("auto") is False and progress_enabled(None) is False
    monkeypatch.setattr(sys, "stderr", _Stream(True))
    assert progress_enabled("auto") is True
    assert progress_enabled(False) is False


def test_auto_is_on_in_a_notebook(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    kernel = types.SimpleNamespace(config={"IPKernelApp": {"connection_file": "kernel.json"}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: kernel))
    assert progress_enabled("auto") is True
    terminal = types.SimpleNamespace(config={"TerminalInteractiveShell": {}})
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: terminal))
    assert progress_enabled("auto") is False
    monkeypatch.setitem(sys.modules, "IPython", types.SimpleNamespace(get_ipython=lambda: None))
    assert progress_enabled("auto") is False


def test_true_shows_even_in_logs(monkeypatch):
    monkeypatch.setattr(sys, "stderr", _Stream(False))
    assert progress_enabled(True) is True
    with pytest.raises(ValueError, match="'auto', True or False"):
        progress_enabled("yes")


@pytest.mark.parametrize("n_jobs", [None, 2])
def test_engine_reports_every_image(lesion_data, n_jobs):
    images = lesion_data.images[:40]
    pipe = make_pipeline(make_union(ColorFeatures(image_size=32, n_jobs=n_jobs), QualityFeatures(n_jobs=n_jobs)),
                         LogisticRegression(max_iter=1000))
    assert image_steps(pipe) == 2
    with show_progress(False, total=40 * image_steps(pipe)) as done:
        pipe.fit(images, lesion_data.labels[:40])
    assert done.n == 80
    images_done(5)  # outside a bar: nothing to move, no error
    assert done.n == 80


def test_nested_bars_restore_the_outer_one(lesion_data):
    with show_progress(False) as outer:
        with show_progress(False) as inner:
            ColorFeatures(image_size=32).fit_transform(lesion_data.images[:3])
        ColorFeatures(image_size=32).fit_transform(lesion_data.images[:2])
    assert (inner.n, outer.n) == (3, 2)


def test_evaluate_progress_on_and_off(lesion_data, capsys):
    X, y, groups = lesion_data.images, lesion_data.labels, lesion_data.groups
    pipe = make_pipeline(ColorFeatures(image_size=32), LogisticRegression(max_iter=1000))
    evaluate(pipe, X, y, groups=groups, cv=2, progress=True)
    err = capsys.readouterr().err
    assert "cv folds" in err and "2/2" in err and "subgroups" in err
    evaluate(pipe, X, y, groups=groups, cv=2, subgroups=None, progress=False)
    assert capsys.readouterr().err == ""
    evaluate(pipe, X, y, groups=groups, cv=2, subgroups=None)  # "auto": stderr is not a terminal here
    assert capsys.readouterr().err == ""


def test_cli_progress_and_quiet(lesion_folder, tmp_path, capsys):
    model = tmp_path / "m.skops"
    args = ["fit", str(lesion_folder), "-o", str(model), "--features", "color", "--groups", "group"]
    assert main([*args, "--progress"]) == 0
    err = capsys.readouterr().err
    assert "fit" in err and "24/24" in err
    assert main([*args, "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    with pytest.raises(SystemExit):
        main([*args, "--progress", "--quiet"])


def test_cli_cv_progress(lesion_folder, capsys):
    args = ["cv", str(lesion_folder), "--features", "color", "--folds", "2", "--repeats", "1", "--groups", "group",
            "--report", "", "--no-subgroups"]
    assert main([*args, "--progress"]) == 0
    assert "cv folds" in capsys.readouterr().err
    assert main([*args, "--quiet"]) == 0
    assert "cv folds" not in capsys.readouterr().err
