"""Feature extractors: images in, one feature row per image out."""

from ._onnx import OnnxEmbedder

__all__ = ["OnnxEmbedder"]
