"""Feature extractors: images in, one feature row per image out."""

__all__ = []
