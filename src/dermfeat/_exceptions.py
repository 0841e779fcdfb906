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


class ModelMismatchError(RuntimeError):
    """A saved estimator refers to a model file whose content has changed."""


class UnstableThresholdWarning(UserWarning):
    """A decision threshold tuned by cross-validation differs widely between the folds.

    Raised by :class:`~dermfeat.model_selection.ThresholdTunedClassifier` when the
    standard deviation of the per-fold optimal thresholds exceeds
    :data:`~dermfeat.model_selection.UNSTABLE_THRESHOLD_STD`: the chosen
    threshold then depends on which photographs happened to be in which fold.
    """


class UngroupedSelectionWarning(UserWarning):
    """A threshold or hyper-parameter is chosen by cross-validation without groups.

    Raised by :class:`~dermfeat.pipeline.ImagePipeline` with ``groups=None``:
    near-duplicate photographs (or photographs of one patient) can then sit on
    both sides of an inner split, which makes the choice optimistic.
    """
