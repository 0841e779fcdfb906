"""Feature extractors: images in, one feature row per image out.

Handcrafted families (each works on a fixed working size, ``image_size``, so
features do not depend on the photograph's resolution):

* :class:`LBPFeatures`: local binary pattern histograms (texture).
* :class:`GaborFeatures`: Gabor filter-bank magnitude statistics (texture, orientation).
* :class:`GLCMFeatures`: grey-level co-occurrence statistics (texture).
* :class:`ColorFeatures`: RGB, HSV, CIELAB and YCrCb statistics.
* :class:`RednessFeatures`: erythema index and CIELAB ``a*`` (lesion redness).
* :class:`SkinToneFeatures`: individual typology angle (ITA) of the skin.
* :class:`QualityFeatures`: blur, noise, exposure, contrast and colour cast.
* :class:`HandcraftedFeatures`: any of the above in one pass over the images.

Learned features: :class:`OnnxEmbedder` (frozen ONNX backbone embeddings).

Helpers: :func:`lbp_code_map`, :func:`gabor_kernels`, :func:`gabor_magnitudes`,
:func:`glcm_matrices`, :func:`glcm_properties`, :func:`erythema_index`,
:func:`otsu_threshold`, :func:`individual_typology_angle`, :func:`ita_category`
and the ordered ``ITA_CATEGORIES``.
"""

from ._color import ColorFeatures
from ._gabor import GaborFeatures, gabor_kernels, gabor_magnitudes
from ._glcm import GLCM_PROPERTIES, GLCMFeatures, glcm_matrices, glcm_properties
from ._handcrafted import HandcraftedFeatures
from ._lbp import LBPFeatures, lbp_code_map
from ._onnx import OnnxEmbedder
from ._quality import QualityFeatures
from ._redness import RednessFeatures, erythema_index, otsu_threshold
from ._skin_tone import ITA_CATEGORIES, ITA_THRESHOLDS, SkinToneFeatures, individual_typology_angle, ita_category

__all__ = [
    "ColorFeatures",
    "GLCMFeatures",
    "GLCM_PROPERTIES",
    "GaborFeatures",
    "HandcraftedFeatures",
    "ITA_CATEGORIES",
    "ITA_THRESHOLDS",
    "LBPFeatures",
    "OnnxEmbedder",
    "QualityFeatures",
    "RednessFeatures",
    "SkinToneFeatures",
    "erythema_index",
    "gabor_kernels",
    "gabor_magnitudes",
    "glcm_matrices",
    "glcm_properties",
    "individual_typology_angle",
    "ita_category",
    "lbp_code_map",
    "otsu_threshold",
]
