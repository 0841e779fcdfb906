"""Typed columns from the text of a CSV file: integers, floats, or the strings as they are."""

from __future__ import annotations

import numpy as np

__all__ = ["parse_column"]


def parse_column(values):
    """An integer array if every value parses as one, else a float array, else an object array.

    Parameters
    ----------
    values : sequence

    Returns
    -------
    column : ndarray

    Examples
    --------
    >>> from dermfeat.utils._columns import parse_column
    >>> parse_column(["1", "2"]).dtype.kind, parse_column(["1", "2.5"]).dtype.kind, parse_column(["a", "1"]).dtype
    ('i', 'f', dtype('O'))
    """
    for kind in (int, float):
        try:
            return np.array([kind(v) for v in values])
        except (TypeError, ValueError):
            continue
    return np.array(values, dtype=object)
