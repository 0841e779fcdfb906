"""Former home of the composite-score distribution, now ``dermfeat.decision._composite`` (re-export only)."""

from ..decision._composite import composite_distribution, composite_summary

__all__ = ["composite_distribution", "composite_summary"]
