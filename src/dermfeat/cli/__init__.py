"""The ``dermfeat`` command line.

Each sub-command lives in its own module with ``add_parser(subparsers)`` and
``run(args)``; :func:`main` wires them together.
"""

from ._main import main

__all__ = ["main"]
