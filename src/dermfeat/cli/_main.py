"""Entry point: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import traceback
import warnings

from .. import __version__
from ._errors import (
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    TRACEBACK_ENV,
    TRACEBACK_HINT,
    describe,
    one_line,
)

#: Sub-command name -> module (relative to this package) with add_parser/run.
COMMANDS = {
    "describe": "._describe",
    "cv": "._cv",
    "fit": "._fit",
    "predict": "._predict",
    "explain": "._explain",
    "demo": "._demo",
    "extract": "._extract",
    "serve": "._serve",
}

_TRACEBACK_HELP = f"on an error, print the full traceback (also {TRACEBACK_ENV}=1)"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dermfeat",
        description="Features and decisions for clinical skin photographs.",
        epilog="Errors are one line on stderr with exit code 1 (2 for bad usage, 130 when interrupted).",
    )
    parser.add_argument("--version", action="version", version=f"dermfeat {__version__}")
    parser.add_argument("--traceback", action="store_true", help=_TRACEBACK_HELP)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module, __package__).add_parser(subparsers)
    for sub in subparsers.choices.values():
        # also accepted after the command; SUPPRESS keeps a --traceback given before it
        sub.add_argument("--traceback", action="store_true", default=argparse.SUPPRESS, help=_TRACEBACK_HELP)
    return parser


@contextlib.contextmanager
def _one_line_warnings(command):
    """Show warnings as ``dermfeat <command>: warning: <message>`` while a command runs."""
    previous = warnings.formatwarning
    warnings.formatwarning = lambda message, *args, **kwargs: f"dermfeat {command}: warning: {one_line(message)}\n"
    try:
        yield
    finally:
        warnings.formatwarning = previous


def _quiet_stdout():
    """After a broken pipe (``dermfeat predict ... | head``), send the rest of stdout nowhere."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # not a real file descriptor (captured in tests)
        pass


def report_error(command, exc, show_traceback=False):
    """Print one line about ``exc`` on stderr (the traceback first if asked); return the exit code."""
    if isinstance(exc, KeyboardInterrupt):
        print(f"dermfeat {command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if show_traceback:
        traceback.print_exception(exc, file=sys.stderr)
    message, expected = describe(exc)
    if not expected and not show_traceback:
        message += f" ({TRACEBACK_HINT})"
    print(f"dermfeat {command}: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv=None):
    """Run the command line; returns the process exit code.

    Every error ends the command with one line on stderr,
    ``dermfeat <command>: error: <message>``; ``--traceback`` (before or after
    the command) or the environment variable ``DERMFEAT_TRACEBACK=1`` also
    prints the traceback.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        0 on success; 1 on an error (one line on stderr, no traceback); 2 on bad
        usage; 130 when interrupted (Ctrl+C); 141 when the reader of the output
        went away (a broken pipe).

    Examples
    --------
    >>> from dermfeat.cli import main
    >>> main(["--version"])  # doctest: +SKIP
    dermfeat 0.1.0.dev0
    """
    # joblib's process pool reports idle workers it restarted; not something a user acts on
    warnings.filterwarnings("ignore", message="A worker stopped while some jobs were given to the executor")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    show_traceback = args.traceback or os.environ.get(TRACEBACK_ENV, "").strip() not in ("", "0")
    try:
        with _one_line_warnings(args.command):
            return int(args.run(args) or 0)
    except BrokenPipeError:
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except (Exception, KeyboardInterrupt) as exc:
        return report_error(args.command, exc, show_traceback)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
