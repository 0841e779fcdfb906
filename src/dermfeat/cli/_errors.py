"""One-line error messages for the command line.

Every exception that ends a command becomes one line on stderr,
``dermfeat <command>: error: <message>``, and a non-zero exit code.  Errors the
user can act on (dermfeat's own exceptions, missing or unreadable files, invalid
values, a damaged archive, a missing optional dependency) are stated as they
are; anything else is an unexpected failure: its line names the exception type
and says how to see the traceback.
"""

from __future__ import annotations

import contextlib
import os
import re
import zipfile

#: Exit codes of the command line.
EXIT_ERROR, EXIT_USAGE, EXIT_BROKEN_PIPE, EXIT_INTERRUPTED = 1, 2, 141, 130

#: Environment variable that, set to ``1``, prints tracebacks like ``--traceback``.
TRACEBACK_ENV = "DERMFEAT_TRACEBACK"

#: Longest message printed (a message quoting a huge value is cut).
MAX_MESSAGE = 1000

TRACEBACK_HINT = f"run with --traceback (or {TRACEBACK_ENV}=1) to see where it happened"


class CommandError(Exception):
    """An error a command reports to the user as it is (one line, exit code 1).

    ``expected=False`` marks a wrapped unexpected failure: its line ends with the
    hint about ``--traceback``.
    """

    def __init__(self, message, *, expected=True):
        super().__init__(message)
        self.expected = bool(expected)


def _is_dermfeat(exc):
    return any(cls.__module__.split(".")[0] == "dermfeat" for cls in type(exc).__mro__)


def _opencv_error(exc):
    try:
        import cv2
    except ImportError:  # pragma: no cover - OpenCV is a core dependency
        return False
    return isinstance(exc, cv2.error)


def one_line(text):
    """Collapse whitespace (newlines included) and cut ``text`` to :data:`MAX_MESSAGE` characters."""
    text = re.sub(r"\s+", " ", str(text)).strip()
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def describe(exc):
    """``(message, expected)`` for an exception that ended a command.

    ``expected`` is False for failures the user cannot act on (a bug, or a
    dependency failing in a way dermfeat does not anticipate).

    Examples
    --------
    >>> import zipfile
    >>> from dermfeat.cli._errors import describe
    >>> describe(FileNotFoundError(2, "No such file or directory", "model.skops"))
    ('model.skops: No such file or directory', True)
    >>> describe(zipfile.BadZipFile("File is not a zip file"))
    ('not a valid zip archive (File is not a zip file)', True)
    >>> describe(KeyError("estimator"))
    ("unexpected KeyError: 'estimator'", False)
    """
    if isinstance(exc, CommandError):
        return one_line(exc), exc.expected
    if _is_dermfeat(exc):
        return one_line(exc), True
    if isinstance(exc, MemoryError):
        return "out of memory" + (f" ({one_line(exc)})" if str(exc) else ""), True
    if isinstance(exc, OSError):
        if exc.filename is not None and exc.strerror:
            name = os.fsdecode(exc.filename) if isinstance(exc.filename, bytes) else str(exc.filename)
            return one_line(f"{name}: {exc.strerror}"), True
        return one_line(exc.strerror or exc or type(exc).__name__), True
    if isinstance(exc, zipfile.BadZipFile):
        return one_line(f"not a valid zip archive ({exc})"), True
    if isinstance(exc, (ValueError, ImportError)):
        return one_line(exc or type(exc).__name__), True
    if _opencv_error(exc):
        # "OpenCV(5.0.0) /path/resize.cpp:4208: error: (-215:Assertion failed) ... in function 'resize'"
        text = str(exc).split(" error: ", 1)[-1]
        return one_line(f"unexpected OpenCV error: {text}"), False
    text = str(exc) if not isinstance(exc, KeyError) else repr(exc.args[0]) if exc.args else ""
    return one_line(f"unexpected {type(exc).__name__}" + (f": {text}" if text else "")), False


def _reported(exc, path):
    """Whether ``exc`` is a user-facing error whose message already names ``path``."""
    if not (isinstance(exc, (CommandError, OSError, ValueError, ImportError)) or _is_dermfeat(exc)):
        return False
    name = os.fspath(path)
    return name in str(exc) or os.path.basename(name) in str(exc)


@contextlib.contextmanager
def reading(path, what):
    """Name ``path`` in any error raised inside the block that does not name it already.

    ``what`` completes "cannot read ..." (e.g. ``"the model"``).  dermfeat's own
    errors and OS errors keep their type; any other exception (a damaged archive,
    a missing key in a tampered file, ...) becomes a :class:`CommandError`.

    Examples
    --------
    >>> import zipfile
    >>> from dermfeat.cli._errors import reading
    >>> with reading("m.skops", "the model"):
    ...     raise zipfile.BadZipFile("File is not a zip file")
    Traceback (most recent call last):
    ...
    dermfeat.cli._errors.CommandError: m.skops: cannot read the model: not a valid zip archive (File is not a zip file)
    """
    try:
        yield
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as exc:
        if _reported(exc, path):
            raise
        message, expected = describe(exc)
        raise CommandError(f"{os.fspath(path)}: cannot read {what}: {message}", expected=expected) from exc
