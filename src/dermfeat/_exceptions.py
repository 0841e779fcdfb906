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


class InvalidModelError(ValueError):
    """A model file was refused, or could not be loaded.

    Raised by :func:`dermfeat.persistence.load_model` for every problem with the
    file itself, before anything from it is used.  The message is one line that
    names the file and says what is wrong; :attr:`kind` says it for programs:

    ``"missing"``
        No such file (then the error is a :class:`ModelFileNotFoundError`,
        which is also a :class:`FileNotFoundError`).
    ``"not_a_file"``
        A folder, a named pipe, a device...: not read at all.
    ``"empty"``, ``"truncated"``, ``"damaged"``
        No bytes; cut short; corrupt (bad checksum, unreadable entry, invalid
        ``schema.json``).
    ``"too_large"``
        Over the size, entry-count or compression-ratio limits (a zip bomb).
    ``"not_a_model"``
        Neither a skops (zip) archive nor a pickle.
    ``"not_dermfeat"``
        A zip or skops file not written by :func:`~dermfeat.persistence.save_model`.
    ``"pickle"``
        A pickle, refused without ``allow_pickle=True``.
    ``"unsafe"``
        Types or functions outside the allow-list, unsafe entry names or
        encryption in the archive, or fitted values that compiled code would
        read out of bounds.
    ``"unloadable"``
        Passed every check but the objects could not be rebuilt.

    Parameters
    ----------
    source : str
        The model file.
    reason : str
        What is wrong with it (one line).
    kind : str, default="damaged"
        One of the kinds above.

    Examples
    --------
    >>> from dermfeat import InvalidModelError
    >>> err = InvalidModelError("m.skops", "truncated: the zip archive has no end record", kind="truncated")
    >>> str(err), err.kind
    ('m.skops: truncated: the zip archive has no end record', 'truncated')
    """

    def __init__(self, source, reason, kind="damaged"):
        self.source = str(source)
        self.reason = " ".join(str(reason).split())  # always one line
        self.kind = kind
        super().__init__(f"{self.source}: {self.reason}")

    def __reduce__(self):
        return (type(self), (self.source, self.reason, self.kind))


class ModelFileNotFoundError(InvalidModelError, FileNotFoundError):
    """A model file (or an embedding model it needs) does not exist.

    Both an :class:`InvalidModelError` and a :class:`FileNotFoundError`.
    """

    def __init__(self, source, reason="no such file", kind="missing"):
        super().__init__(source, reason, kind)


class ModelVersionWarning(UserWarning):
    """A model file was saved with other versions of dermfeat, scikit-learn, NumPy or skops.

    It usually still works; if predictions look wrong, save the model again
    with the running versions.
    """


class UnstableThresholdWarning(UserWarning):
    """A decision threshold tuned by cross-validation differs widely between the folds.

    Raised by :class:`~dermfeat.decision.ThresholdTunedClassifier` when the
    standard deviation of the per-fold optimal thresholds exceeds
    :data:`~dermfeat.decision.UNSTABLE_THRESHOLD_STD`: the chosen
    threshold then depends on which photographs happened to be in which fold.
    """


class UngroupedSelectionWarning(UserWarning):
    """A threshold or hyper-parameter is chosen by cross-validation without groups.

    Raised by :class:`~dermfeat.pipeline.ImagePipeline` with ``groups=None``:
    near-duplicate photographs (or photographs of one patient) can then sit on
    both sides of an inner split, which makes the choice optimistic.
    """


class ModelSettingsWarning(UserWarning):
    """A model file stored execution settings, which were reset to their defaults on loading.

    Settings that decide how, not what, a model computes -- a feature-cache
    folder (``memory``), worker and thread counts (``n_jobs``, ``n_threads``),
    ``verbose``, batch sizes -- are not taken from a model file, since a hostile
    file could name a folder to write into or start thousands of workers.  Set
    them again after loading, or pass ``keep_execution_params=True`` to
    :func:`~dermfeat.persistence.load_model` for a file you trust.
    """
