"""Which exceptions raised while handling one image are that image's fault."""

from __future__ import annotations

from .._exceptions import InvalidImageError
from ..io._files import printable

#: Exceptions that signal a mistake in the code rather than in an image: they are
#: never turned into an :class:`~dermfeat.InvalidImageError`, so that a bug stays
#: visible instead of filling rows with NaN.  Anything else raised while reading,
#: preparing or computing the features of one image (``ValueError``,
#: ``cv2.error``, ``MemoryError``, ``OSError``, ``RuntimeError``, onnxruntime's
#: errors, ``ZeroDivisionError``, ``IndexError``, ...) is reported as a problem
#: with that image, with the original exception type in the message.
PROGRAMMING_ERRORS = (
    TypeError,
    AttributeError,
    NameError,
    AssertionError,
    NotImplementedError,
    ImportError,
    SyntaxError,
)


def as_image_error(exc, name, stage):
    """``exc`` as an :class:`~dermfeat.InvalidImageError` about ``name``, or None for a programming error.

    Parameters
    ----------
    exc : Exception
        What was raised.
    name : str
        The image's name.
    stage : str
        What was being done, e.g. ``"reading"`` or ``"computing ColorFeatures features"``.

    Returns
    -------
    error : InvalidImageError or None
        ``exc`` itself if it already is one; ``None`` if it is one of
        :data:`PROGRAMMING_ERRORS` (or not an ``Exception``), which the caller
        re-raises.

    Examples
    --------
    >>> from dermfeat.base._errors import as_image_error
    >>> str(as_image_error(ZeroDivisionError("division by zero"), "a.jpg", "computing features"))
    'a.jpg: computing features failed (ZeroDivisionError: division by zero)'
    >>> as_image_error(TypeError("bad call"), "a.jpg", "computing features") is None
    True
    """
    if isinstance(exc, InvalidImageError):
        return exc
    if not isinstance(exc, Exception) or isinstance(exc, PROGRAMMING_ERRORS):
        return None
    detail = printable(" ".join(f"{type(exc).__name__}: {exc}".split()), limit=240)
    return InvalidImageError(printable(name), f"{stage} failed ({detail})")
