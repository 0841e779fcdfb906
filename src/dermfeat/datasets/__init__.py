"""Datasets: labelled photo folders and the synthetic default data."""

from ._describe import describe_dataset
from ._folder import IMAGE_EXTENSIONS, load_image_folder
from ._synthetic import make_lesion_images

__all__ = ["IMAGE_EXTENSIONS", "describe_dataset", "load_image_folder", "make_lesion_images"]
