"""Reading images: paths, bytes and arrays to RGB ``uint8`` arrays.

The one entry point is :func:`read_image`.  Every feature extractor in dermfeat
reads its input through it, so the same rules (allowed formats, EXIF
orientation, colour-mode conversion, pixel and file-size limits, clear errors)
apply everywhere.
"""

from ._files import DEFAULT_MAX_FILE_BYTES, image_name, source_bytes
from ._formats import SUPPORTED_EXTENSIONS, SUPPORTED_FORMATS
from ._read import DEFAULT_MAX_PIXELS, image_size, read_image

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_PIXELS",
    "SUPPORTED_EXTENSIONS",
    "SUPPORTED_FORMATS",
    "image_name",
    "image_size",
    "read_image",
    "source_bytes",
]
