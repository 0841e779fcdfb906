"""Coverage, set size and the coverage table."""

import numpy as np
import pytest

from dermfeat.uncertainty import coverage_table, mean_set_size, set_coverage


def test_coverage_counts_the_true_class_in_its_set():
    sets = np.array([[True, False], [False, True], [True, True], [False, False]])
    assert set_coverage(["a", "a", "b", "b"], sets, ["a", "b"]) == 0.5
    assert mean_set_size(sets) == 1.0


def test_table_rows_per_level():
    sets = np.array([[True, False], [True, True], [False, False], [False, True]])
    rows = coverage_table(["a", "b", "a", "b"], sets, ["a", "b"], by=["x", "x", "y", "y"])
    assert rows == [
        {"group": "x", "n": 2, "coverage": 1.0, "mean_set_size": 1.5, "uncertain": 0.5, "empty": 0.0},
        {"group": "y", "n": 2, "coverage": 0.5, "mean_set_size": 0.5, "uncertain": 0.0, "empty": 0.5},
    ]
    assert coverage_table(["a"], [[True, False]], ["a", "b"])[0]["group"] == "all"


def test_mismatches_are_named():
    with pytest.raises(ValueError, match="shape"):
        set_coverage(["a"], [[True]], ["a", "b"])
    with pytest.raises(ValueError, match="'c' is not among"):
        set_coverage(["c"], [[True, False]], ["a", "b"])
    with pytest.raises(ValueError, match="by has 1 entries for 2"):
        coverage_table(["a", "b"], [[True, False], [True, False]], ["a", "b"], by=["x"])
