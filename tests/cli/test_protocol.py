"""``dermfeat fit`` deploys the pipeline ``dermfeat cv`` measures, with the same inner protocol."""

import re
import shutil

import numpy as np
import pytest
from sklearn.model_selection import StratifiedGroupKFold
from threadpoolctl import threadpool_limits

from dermfeat.cli import main
from dermfeat.cli._fit import fit_model
from dermfeat.cli._main import build_parser
from dermfeat.cli._options import build_pipeline, load_data, resolve_groups
from dermfeat.evaluation import evaluate
from dermfeat.evaluation._fit_params import _groups_param
from dermfeat.persistence import load_model

OPTIONS = ["--features", "color", "--threshold", "macro_f1"]


@pytest.fixture(scope="module")
def plain_folder(lesion_folder, tmp_path_factory):
    """The synthetic photographs in class folders without a manifest (so groups='auto' means near-duplicates)."""
    folder = tmp_path_factory.mktemp("plain")
    for path in lesion_folder.rglob("*.jpg"):
        (folder / path.parent.name).mkdir(exist_ok=True)
        shutil.copy(path, folder / path.parent.name / path.name)
    return folder


def _args(command, folder, *extra):
    head = ["fit", str(folder), "-o", "unused.skops"] if command == "fit" else ["cv", str(folder)]
    return build_parser().parse_args([*head, *OPTIONS, *extra])


def _params(pipe):
    return {key: repr(value) for key, value in pipe.get_params(deep=True).items()}


class WholeData:
    """One "fold" whose training part is all the data: what ``evaluate`` passes to fit, on everything."""

    n_repeats = 1

    def get_n_splits(self, *args, **kwargs):
        return 1

    def split(self, X, y, groups=None):
        everything = np.arange(len(y))
        yield everything, everything


def test_fit_and_cv_build_the_same_pipeline_with_the_same_inner_splits(plain_folder, monkeypatch):
    fit_args, cv_args = _args("fit", plain_folder), _args("cv", plain_folder)
    data, y, pos_label = load_data(str(plain_folder), fit_args.pos_label)
    assert _params(build_pipeline(fit_args, pos_label)) == _params(build_pipeline(cv_args, pos_label))
    assert resolve_groups(fit_args, data) == resolve_groups(cv_args, data) == "auto"

    seen = []
    original = StratifiedGroupKFold.split

    def recording_split(self, X, y=None, groups=None):
        splits = list(original(self, X, y, groups))
        seen.append([test.tolist() for _, test in splits])
        return iter(splits)

    monkeypatch.setattr(StratifiedGroupKFold, "split", recording_split)
    fitted, validation, _ = fit_model(fit_args, data, y, pos_label)  # what `dermfeat fit` runs
    assert validation is None and fitted.groups_source_ == "auto"
    # what `dermfeat cv` runs in a fold: evaluate finds the groups once and hands the fold's share to fit
    cv_pipe = build_pipeline(cv_args, pos_label)
    assert _groups_param(cv_pipe) == "groups"
    report = evaluate(cv_pipe, data.filenames, y, groups=resolve_groups(cv_args, data), cv=WholeData(),
                      pos_label=pos_label, subgroups=None)
    assert len(seen) == 2 and len(seen[0]) == 5
    assert seen[0] == seen[1]  # the same shuffled, stratified, grouped inner folds
    assert report.folds[0]["threshold"] == pytest.approx(fitted.steps[-1][1].best_threshold_)
    # and the inner folds keep every near-duplicate group together
    from dermfeat.model_selection import near_duplicate_groups

    groups = near_duplicate_groups(data.filenames)
    folds = [set(groups[test]) for test in seen[0]]
    assert all(not (a & b) for i, a in enumerate(folds) for b in folds[i + 1:])


def test_fit_prints_the_threshold_spread_and_warns_without_groups(plain_folder, tmp_path, capsys):
    path = tmp_path / "m.skops"
    assert main(["fit", str(plain_folder), "-o", str(path), *OPTIONS, "--groups", "none"]) == 0
    captured = capsys.readouterr()
    assert "inner cross-validation without groups" in captured.out
    assert re.search(r"per inner fold: (\d\.\d{3}, ){4}\d\.\d{3} \(std \d\.\d{3}\); macro_f1 at the chosen threshold "
                     r"\d\.\d{3} ± \d\.\d{3}", captured.out), captured.out
    assert "dermfeat fit: warning: ImagePipeline(groups=None)" in captured.err
    _, meta = load_model(path)
    assert meta["groups"] == "no groups" and len(meta["fold_thresholds"]) == 5 and meta["validation"] is None


def test_fit_validate_stores_the_figures_and_predict_shows_them(lesion_folder, tmp_path, capsys):
    path = tmp_path / "validated.skops"
    code = main(["fit", str(lesion_folder), "-o", str(path), *OPTIONS, "--validate", "--folds", "3", "--repeats", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert "validated on 24 photographs (stratified group 3-fold cross-validation, 2 repeats (6 test folds)" in out
    _, meta = load_model(path)
    validation = meta["validation"]
    assert validation["n_images"] == 24 and validation["n_folds"] == 6 and validation["n_repeats"] == 2
    assert validation["objective"] == "macro_f1" and validation["positive_class"] == "atopic_dermatitis"
    for metric in ("roc_auc", "sensitivity", "specificity", "macro_f1"):
        assert 0 <= validation["metrics"][metric]["mean"] <= 1 and validation["metrics"][metric]["std"] >= 0
    spread = validation["threshold"]
    assert spread["min"] <= spread["mean"] <= spread["max"]

    image = str(next((lesion_folder / "eczema").glob("*.jpg")))
    assert main(["predict", str(path), image, "--show-validation"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"validated on 24 photographs .*: sensitivity \d\.\d\d ± \d\.\d\d, specificity", err), err
    plain = tmp_path / "plain.skops"
    assert main(["fit", str(lesion_folder), "-o", str(plain), *OPTIONS]) == 0
    capsys.readouterr()
    assert main(["predict", str(plain), image, "--show-validation"]) == 0
    assert "not validated" in capsys.readouterr().err


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, text
    return [float(v) for v in match.groups()]


def test_fit_threshold_lies_within_the_cv_spread_on_real_photographs(dermnet_dir, models_dir, feature_cache,
                                                                     tmp_path, capsys):
    """The closing claim of the protocol on DermNet NZ (EfficientNet-Lite0 features from the cache).

    Two repeats of 5 folds (the CLI default): ten training-fold thresholds make the spread.
    """
    options = [str(dermnet_dir), "--features", "efficientnet", "--threshold", "macro_f1",
               "--model-dir", str(models_dir), "--cache", str(feature_cache), "--n-jobs", "2"]
    # one BLAS thread: on shared cores OpenBLAS's spinning threads make a logistic fit 100x slower
    with threadpool_limits(1):
        assert main(["cv", *options, "--repeats", "2", "--no-subgroups", "--report", ""]) == 0
        out = capsys.readouterr().out
        assert main(["fit", *options, "-o", str(tmp_path / "effnet.skops")]) == 0
    mean, std, low, high = _number(r"decision threshold chosen in each training fold: (\d\.\d+) ± (\d\.\d+) "
                                   r"\(min (\d\.\d+), max (\d\.\d+)\)", out)
    out = capsys.readouterr().out
    threshold, = _number(r"decision threshold (\d\.\d+) for atopic_dermatitis", out)
    print(f"fit: {threshold:.3f}; cv: {mean:.3f} ± {std:.3f} (min {low:.3f}, max {high:.3f})")
    assert low <= threshold <= high
    assert abs(threshold - mean) <= 2 * std
