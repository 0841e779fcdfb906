"""Entry point: argument parsing and dispatch to the sub-command modules."""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings

from .. import __version__
from .._exceptions import InvalidImageError

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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="dermfeat",
        description="Features and decisions for clinical skin photographs.",
    )
    parser.add_argument("--version", action="version", version=f"dermfeat {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        importlib.import_module(module, __package__).add_parser(subparsers)
    return parser


def main(argv=None):
    """Run the command line; returns the process exit code.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    code : int
        0 on success, 1 on a user error (printed without a traceback), 2 on bad usage.

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
        return 2
    try:
        return int(args.run(args) or 0)
    except (InvalidImageError, FileNotFoundError, ValueError, ImportError) as exc:
        print(f"dermfeat {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
