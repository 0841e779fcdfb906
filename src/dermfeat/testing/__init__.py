"""Hostile inputs for testing image code: bad files, odd arrays, a seeded fuzzer.

Everything is generated at run time; use it to check that your own pipelines
skip and report bad images instead of crashing (see the user guide's
"Security and robustness" page).
"""

from ._hostile_images import ImageCase, hostile_image_inputs, mutate_images

__all__ = ["ImageCase", "hostile_image_inputs", "mutate_images"]
