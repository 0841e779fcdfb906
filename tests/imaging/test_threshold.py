"""Otsu's threshold on the ground floor, and its old import path."""

import numpy as np

from dermfeat.imaging import otsu_threshold


def test_otsu_splits_two_groups():
    values = np.r_[np.random.default_rng(0).normal(10, 1, 500), np.random.default_rng(1).normal(30, 2, 300)]
    threshold = otsu_threshold(values)
    assert (values[:500] <= threshold).all() and (values[500:] > threshold).all()
    assert otsu_threshold(np.full(10, 3.0)) == 3.0


def test_old_import_paths_are_the_same_functions():
    from dermfeat import imaging
    from dermfeat.features import otsu_threshold as from_features
    from dermfeat.features._handcrafted import WorkingImage, rgb_to_lab, to_working_size

    assert from_features is otsu_threshold
    assert (WorkingImage, rgb_to_lab, to_working_size) == (imaging.WorkingImage, imaging.rgb_to_lab,
                                                           imaging.to_working_size)
