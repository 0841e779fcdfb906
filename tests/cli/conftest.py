"""A model fitted by ``dermfeat fit`` for the command-line tests."""

import pytest

from dermfeat.cli import main


@pytest.fixture(scope="session")
def model_file(lesion_folder, tmp_path_factory):
    """A color/logistic model with a macro-F1 threshold, fitted on ``lesion_folder``."""
    path = tmp_path_factory.mktemp("model") / "model.skops"
    code = main(["fit", str(lesion_folder), "-o", str(path), "--features", "color", "--threshold", "macro_f1"])
    assert code == 0 and path.is_file()
    return path
