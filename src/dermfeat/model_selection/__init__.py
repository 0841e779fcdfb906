"""Leak-free model selection: near-duplicate groups and decision thresholds."""

from ._near_duplicates import near_duplicate_groups

__all__ = ["near_duplicate_groups"]
