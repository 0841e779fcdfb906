"""Progress bars (``tqdm.auto``) for long work, and the seam the image engine reports through.

``progress="auto"`` (the default where work is long) shows a bar when someone
can see it: stderr is a terminal, or the code runs in a Jupyter kernel (where
``tqdm.auto`` draws a notebook widget when ``ipywidgets`` is installed, text
otherwise).  ``True`` always shows one (in logs too), ``False`` never.

The image engine calls :func:`images_done` after every chunk of images it has
read and analysed; inside :func:`show_progress` those calls move the bar, so
fitting a pipeline, extracting features or computing subgroups shows how many
photographs are done without any estimator taking a ``progress`` parameter.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys

_ON_IMAGES = contextvars.ContextVar("dermfeat_on_images", default=None)

PROGRESS_VALUES = ("auto", True, False)


def _in_notebook():
    """Whether this runs in a Jupyter kernel (the test ``tqdm.auto`` makes to pick its notebook bar)."""
    try:
        shell = sys.modules["IPython"].get_ipython()
        return shell is not None and "IPKernelApp" in shell.config
    except Exception:  # no IPython, or an unusual shell
        return False


def progress_enabled(progress="auto"):
    """Whether to draw a bar: ``"auto"``/None when stderr is a terminal or in Jupyter; else ``bool(progress)``.

    Examples
    --------
    >>> from dermfeat._progress import progress_enabled
    >>> progress_enabled(False), progress_enabled(True)
    (False, True)
    """
    if progress is None or (isinstance(progress, str) and progress == "auto"):
        try:
            if sys.stderr is not None and sys.stderr.isatty():
                return True
        except (AttributeError, ValueError):  # a closed or replaced stream
            pass
        return _in_notebook()
    if isinstance(progress, str):
        raise ValueError(f"progress must be 'auto', True or False; got {progress!r}")
    return bool(progress)


def progress_bar(iterable=None, *, total=None, desc=None, unit="it", progress="auto", leave=False):
    """A ``tqdm.auto`` bar, disabled unless :func:`progress_enabled` says otherwise."""
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, disable=not progress_enabled(progress),
                file=sys.stderr, dynamic_ncols=True)


def images_done(n):
    """Called by the image engine after ``n`` more images were read and analysed (no-op outside a bar)."""
    callback = _ON_IMAGES.get()
    if callback is not None and n:
        callback(int(n))


def image_steps(estimator):
    """Number of steps of ``estimator`` that read every image (feature extractors, image preprocessors).

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline, make_union
    >>> from dermfeat._progress import image_steps
    >>> from dermfeat.features import ColorFeatures, QualityFeatures
    >>> image_steps(make_pipeline(make_union(ColorFeatures(), QualityFeatures()), LogisticRegression()))
    2
    """
    found, seen, stack = 0, set(), [estimator]
    while stack:
        est = stack.pop()
        if id(est) in seen or not hasattr(est, "get_params") or isinstance(est, type):
            continue
        seen.add(id(est))
        found += bool(getattr(est, "_reads_images", False))  # the image engine's estimators say so
        for value in est.get_params(deep=False).values():
            if isinstance(value, (list, tuple)):  # steps, transformer_list, estimators: (name, estimator[, ...])
                stack.extend(v[1] if isinstance(v, tuple) and len(v) > 1 else v for v in value)
            elif hasattr(value, "get_params"):
                stack.append(value)
    return max(found, 1)


@contextlib.contextmanager
def show_progress(progress="auto", *, desc="images", total=None):
    """Show the images the engine reads inside the block on one progress bar.

    Parameters
    ----------
    progress : "auto", bool, default="auto"
        ``"auto"``: only when stderr is a terminal or in a Jupyter notebook.
    desc : str, default="images"
        Label of the bar.
    total : int, optional
        Images expected (a pipeline with two image steps reads each photograph
        twice: see ``n_images * image_steps(pipeline)``).

    Yields
    ------
    progress : ImageProgress
        ``n`` (images done so far, counted even when no bar is shown) and
        ``bar`` (the ``tqdm`` bar, disabled when not shown).

    Examples
    --------
    >>> from dermfeat import show_progress
    >>> from dermfeat.datasets import make_lesion_images
    >>> from dermfeat.features import ColorFeatures
    >>> images = make_lesion_images(4, image_size=32, random_state=0).images
    >>> with show_progress(False, total=4) as done:
    ...     _ = ColorFeatures(image_size=32).fit_transform(images)
    >>> done.n
    4
    """
    state = ImageProgress(progress_bar(total=total, desc=desc, unit="img", progress=progress))
    token = _ON_IMAGES.set(state.update)
    try:
        yield state
    finally:
        _ON_IMAGES.reset(token)
        state.bar.close()


class ImageProgress:
    """Images done inside :func:`show_progress` (``n``) and the bar that shows them (``bar``)."""

    def __init__(self, bar):
        self.bar, self.n = bar, 0

    def update(self, n):
        self.n += n
        self.bar.update(n)
