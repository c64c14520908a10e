"""The `specc` command line: one module per subcommand (argparse, printing, exit codes).

The libraries below it (`specc.analysis`, `specc.compile`, `specc.diagram`, `specc.diff`,
`specc.starter`) return values and never print. Heavy modules (torch, graphviz, jsonschema)
are imported only inside the subcommands that use them, so `specc check` stays fast.
"""
from __future__ import annotations

import argparse
import os
import sys

from specc import __version__
from specc.cli import build, check, diff, import_cmd, new, ops, render, rules, schema
from specc.cli._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, parse_dims

__all__ = ["main", "make_parser", "UsageError", "parse_dims",
           "EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE"]

# The order of `specc --help`.
SUBCOMMANDS = (check, build, render, schema, ops, rules, diff, new, import_cmd)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specc", description="Declarative model specs for PyTorch: check, build, render.")
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in SUBCOMMANDS:
        command.add_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"specc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except RecursionError:
        print("specc: the spec is nested too deeply to analyse", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("specc: out of memory (the spec is too large)", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # an internal error: say so plainly, no traceback
        if os.environ.get("SPECC_DEBUG"):
            raise
        print(f"specc: internal error: {type(exc).__name__}: {exc}\n"
              "  (this is a bug in specc; rerun with SPECC_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    raise SystemExit(main())
