"""Reading images: paths, bytes and arrays to RGB ``uint8`` arrays.

The one entry point is :func:`read_image`.  Every feature extractor in dermfeat
reads its input through it, so the same rules (EXIF orientation, colour-mode
conversion, pixel limit, clear errors) apply everywhere.
"""

from ._read import DEFAULT_MAX_PIXELS, image_name, image_size, read_image, source_bytes

__all__ = ["DEFAULT_MAX_PIXELS", "image_name", "image_size", "read_image", "source_bytes"]
