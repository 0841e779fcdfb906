"""A local web demo: upload a photo, see the decision and why.

``dermfeat serve MODEL`` (or :func:`create_app` with uvicorn) serves one page on
``127.0.0.1``: drop a photograph and it shows the predicted class with its
probability, the decision threshold and what it was tuned for, the occlusion heat
map (:func:`~dermfeat.explain.occlusion_sensitivity`), image-quality warnings
(:data:`QUALITY_THRESHOLDS` on :class:`~dermfeat.features.QualityFeatures`), the
skin-tone group (:func:`~dermfeat.features.ita_category`) and that the result is
not a diagnosis.  ``POST /api/predict`` returns the same as JSON.

The page is plain HTML with inline CSS and JavaScript: nothing is fetched from the
internet, and uploads are kept in memory.  POSTs from other sites' pages are
refused, and a burst of uploads takes bounded memory and CPU (``max_concurrent``
analysed at a time, ``max_queued`` held at all).  The web part needs the ``serve`` extra
(``pip install "dermfeat[serve]"``: FastAPI, uvicorn, python-multipart);
:class:`DemoPredictor` and :func:`quality_warnings` work without it.
"""

from ._app import DEFAULT_MAX_CONCURRENT, DEFAULT_MAX_QUEUED, MULTIPART_OVERHEAD, UploadError, create_app
from ._guard import LOCAL_HOSTS
from ._predictor import DEFAULT_MAX_PIXELS, DEFAULT_MAX_UPLOAD_BYTES, MIN_SIDE, NOT_A_DIAGNOSIS, DemoPredictor
from ._quality import QUALITY_THRESHOLDS, quality_warnings

__all__ = [
    "DEFAULT_MAX_CONCURRENT",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_QUEUED",
    "DEFAULT_MAX_UPLOAD_BYTES",
    "LOCAL_HOSTS",
    "MIN_SIDE",
    "MULTIPART_OVERHEAD",
    "NOT_A_DIAGNOSIS",
    "QUALITY_THRESHOLDS",
    "DemoPredictor",
    "UploadError",
    "create_app",
    "quality_warnings",
]
