"""OpenCV's process-wide thread setting, shared safely between threads."""

from __future__ import annotations

import contextlib
import threading

import cv2

_LOCK = threading.Lock()
_DEPTH = 0
_SAVED = None


@contextlib.contextmanager
def opencv_single_threaded():
    """Run OpenCV single-threaded inside the block; the previous setting is restored.

    For code that already keeps the cores busy by other means (joblib workers, or
    preparation threads working beside a model's own threads).  Without it every
    OpenCV call fans out to OpenCV's pool of one thread per core, whose threads
    then compete with that other work: preparing a 640 x 480 photograph for a
    224 x 224 model takes about 1.45 ms of CPU with the pool against 0.95 ms
    without it.

    The setting is process-wide, so blocks entered by several threads at once
    share it: a process-wide count of open blocks, under a lock, saves the
    setting when the first block opens and restores it when the last one
    closes, whatever the order in which the threads leave.

    Examples
    --------
    >>> import cv2
    >>> from dermfeat.base._threads import opencv_single_threaded
    >>> before = cv2.getNumThreads()
    >>> with opencv_single_threaded():
    ...     cv2.getNumThreads()
    1
    >>> cv2.getNumThreads() == before
    True
    """
    global _DEPTH, _SAVED
    with _LOCK:
        if _DEPTH == 0:
            _SAVED = cv2.getNumThreads()
            cv2.setNumThreads(1)
        _DEPTH += 1
    try:
        yield
    finally:
        with _LOCK:
            _DEPTH -= 1
            if _DEPTH == 0:
                cv2.setNumThreads(_SAVED)
                _SAVED = None


def _one_opencv_thread(func, *args):
    """Run one parallel task with OpenCV single-threaded (joblib already uses the cores)."""
    with opencv_single_threaded():
        return func(*args)
