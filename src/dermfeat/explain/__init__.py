"""Model-agnostic explanations of image pipelines (occlusion sensitivity), and the one prediction path."""

from ._occlusion import OcclusionMap, colour_bar, occlusion_sensitivity, overlay_heatmap
from ._prediction import Prediction, predict_image, predict_images

__all__ = ["OcclusionMap", "Prediction", "colour_bar", "occlusion_sensitivity", "overlay_heatmap", "predict_image",
           "predict_images"]
