"""Exception and warning classes shared by the whole package."""


class InvalidImageError(ValueError):
    """An image could not be decoded, or was refused.

    Raised for empty, truncated, unreadable or non-image files, for arrays of an
    unsupported shape or dtype and for images over the pixel limit.  The message
    always names the offending source and the reason.

    Parameters
    ----------
    source : str
        A human-readable name of the image: its path, ``"<bytes>"`` or
        ``"<array #i>"``.
    reason : str
        What is wrong with it.

    Examples
    --------
    >>> from dermfeat import InvalidImageError
    >>> err = InvalidImageError("a.jpg", "file is empty (0 bytes)")
    >>> str(err)
    'a.jpg: file is empty (0 bytes)'
    """

    def __init__(self, source, reason):
        self.source = str(source)
        self.reason = str(reason)
        super().__init__(f"{self.source}: {self.reason}")

    def __reduce__(self):  # keep the two-argument signature through pickling (joblib workers)
        return (type(self), (self.source, self.reason))


class SkippedImagesWarning(UserWarning):
    """Some images in a batch were invalid and were skipped or filled with NaN."""


class CorruptImageWarning(UserWarning):
    """A JPEG file with corrupt data was decoded anyway, because ``strict=False``.

    libjpeg recovers what it can (missing or damaged parts come out grey); the
    message names the file and libjpeg's complaint.  With the default
    ``strict=True`` such files are refused with an :class:`InvalidImageError`.
    """


class ModelMismatchError(RuntimeError):
    """A saved estimator refers to a model file whose content has changed."""
