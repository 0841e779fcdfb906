"""Datasets: labelled photo folders and the synthetic default data."""

from ._describe import describe_dataset
from ._files import find_image_files
from ._folder import load_image_folder
from ._synthetic import make_lesion_images

__all__ = [
    "describe_dataset",
    "find_image_files",
    "load_image_folder",
    "make_lesion_images",
]
