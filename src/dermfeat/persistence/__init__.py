"""Saving and loading fitted estimators: skops by default, model files checked by SHA-256."""

from ._models import TRUSTED_PREFIXES, load_model, required_model_files, save_model

__all__ = ["TRUSTED_PREFIXES", "load_model", "required_model_files", "save_model"]
