"""What every subcommand shares: exit codes, usage errors, --dim, printing diagnostics."""
from __future__ import annotations

import sys

# DESIGN.md contract 2: 0 clean, 1 findings, 2 usage error or resource limit.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def add_dim_option(parser, help: str | None = None) -> None:
    parser.add_argument("--dim", action="append", metavar="SYM=VALUE", help=help)


def parse_dims(values) -> dict:
    dims = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--dim expects SYMBOL=VALUE, got {item!r}")
        try:
            dims[name] = int(value)
        except ValueError:
            raise UsageError(f"--dim {name}: {value!r} is not an integer") from None
        if dims[name] < 0:
            raise UsageError(f"--dim {name}: sizes cannot be negative")
    return dims


def print_diagnostics(analysis) -> None:
    """An analysis's diagnostics on stderr, for the commands whose stdout is something else."""
    from specc.report.style import Style
    from specc.report.table import format_diagnostics

    print("\n".join(format_diagnostics(analysis, Style.for_stream(sys.stderr))),
          file=sys.stderr)
