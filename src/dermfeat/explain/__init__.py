"""Model-agnostic explanations of image pipelines (occlusion sensitivity)."""

from ._occlusion import OcclusionMap, occlusion_sensitivity, overlay_heatmap

__all__ = ["OcclusionMap", "occlusion_sensitivity", "overlay_heatmap"]
