"""The `specc` command line: one module per subcommand (argparse, printing, exit codes).

The libraries below it (`specc.analysis`, `specc.compile`, `specc.diagram`, `specc.diff`,
`specc.starter`) return values and never print. A subcommand's module is imported only
when that command runs, and heavy modules (torch, graphviz, jsonschema) only inside the
subcommands that use them, so `specc check` stays fast (tests/test_benchmarks.py).
"""
from __future__ import annotations

import argparse
import atexit
import gc
import importlib
import os
import sys

from specc import __version__
from specc.cli._common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, parse_dims

__all__ = ["main", "console_main", "make_parser", "UsageError", "parse_dims", "COMMANDS",
           "EXIT_OK", "EXIT_FINDINGS", "EXIT_USAGE"]

# Every subcommand, in the order of `specc --help`: name -> (its module in specc.cli, the
# one-line help, aliases). The module's add_arguments(parser) adds its options and
# set_defaults(func=run); `specc --help` needs only this table, so no module is imported
# for it, and `specc check` imports check's module alone.
COMMANDS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "check": ("check", "validate, infer shapes and lint spec files", ()),
    "build": ("build", "build an nn.Module (needs torch)", ()),
    "render": ("render", "draw the architecture with Graphviz (no torch)", ()),
    "schema": ("schema", "print the JSON Schema of specs", ()),
    "ops": ("ops", "list the ops (with the enabled plugins' ops)", ()),
    "rules": ("rules", "list the lint rules", ()),
    "explain": ("explain", "explain a diagnostic code or lint rule", ()),
    "diff": ("diff", "what changed between two specs", ()),
    "new": ("new", "write a commented starter spec", ("init",)),
    "import": ("import_cmd", "write a spec from an existing nn.Module (torch.fx)", ()),
}


class _HelpFormatter(argparse.HelpFormatter):
    """argparse's help formatter, given the terminal's width. Left to find it, it imports
    shutil (with bz2 and lzma: ~2 ms), and argparse makes one at every add_argument, so
    every command paid for it, help or not."""

    def __init__(self, prog, indent_increment=2, max_help_position=24, width=None):
        super().__init__(prog, indent_increment, max_help_position,
                         _terminal_columns() - 2 if width is None else width)


def _terminal_columns() -> int:
    """shutil.get_terminal_size().columns: $COLUMNS, else the terminal's, else 80."""
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0 and sys.__stdout__ is not None:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def make_parser(argv=None) -> argparse.ArgumentParser:
    """The parser of ``argv``'s command (every command's when ``argv`` is None): the other
    subcommands are listed with their help but get no arguments, so their modules (and
    what those import) stay unloaded. When ``argv`` starts with its command (`specc check
    a.yaml`), nothing can print the list of commands, and the others get no parser at
    all (argparse makes a whole parser per subcommand: ~2 ms of `specc check`)."""
    parser = argparse.ArgumentParser(
        prog="specc", description="Declarative model specs for PyTorch: check, build, render.",
        formatter_class=_HelpFormatter)
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = _command_in(argv) if argv is not None else None
    alone = wanted is not None and _command_in(argv[:1]) == wanted
    for name, (module, help, aliases) in COMMANDS.items():
        if alone and name != wanted:
            continue
        p = sub.add_parser(name, help=help, aliases=list(aliases), formatter_class=_HelpFormatter)
        if argv is None or name == wanted:
            importlib.import_module(f"specc.cli.{module}").add_arguments(p)
    return parser


def _command_in(argv) -> str | None:
    """The command ``argv`` names: its first word that is not an option (the top-level
    options, --help and --version, take no value)."""
    for word in argv:
        if not word.startswith("-"):
            return next((name for name, (_, _, aliases) in COMMANDS.items()
                         if word == name or word in aliases), None)
    return None


# The cyclic GC's first threshold while a command runs. A `specc check` allocates ~25,000
# long-lived objects (modules, functions, op declarations, the graph) and almost no cyclic
# garbage: at Python's default (700) the collector scans them ~40 times, ~4 ms of a whole
# check. At this threshold a ResNet-50 check collects never and a 10,000-layer spec still
# collects now and then.
GC_THRESHOLD = 50_000


def main(argv=None) -> int:
    threshold = gc.get_threshold()
    gc.set_threshold(max(threshold[0], GC_THRESHOLD), *threshold[1:])
    try:
        return _run(sys.argv[1:] if argv is None else list(argv))
    finally:
        gc.set_threshold(*threshold)  # for callers running main() in their own process


def console_main() -> None:
    """`specc` on the command line (the console script and `python -m specc`): main(), then
    end the process. The interpreter's normal teardown frees every module, function and op
    declaration one by one, ~15 ms of a ~90 ms `specc check`; when nothing is left to run at
    exit (no atexit callback, no other thread) the process ends as soon as its output is
    flushed, as mypy's does. Code running specc in its own process calls main()."""
    code = main()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:  # a closed pipe (`specc check | head`): the usual exit handles it
        sys.exit(code)
    except OSError as exc:  # the output was lost (a full disk): never exit 0 after that
        print(f"specc: {exc}", file=sys.stderr)
        sys.exit(EXIT_USAGE)
    if _nothing_left_at_exit():
        os._exit(code)
    sys.exit(code)


def _nothing_left_at_exit() -> bool:
    # atexit has no public count; without one (another Python) take the usual exit
    ncallbacks = getattr(atexit, "_ncallbacks", None)
    threading = sys.modules.get("threading")
    return ncallbacks is not None and ncallbacks() == 0 and (
        threading is None or threading.active_count() == 1)


def _run(argv: list) -> int:
    parser = make_parser(argv)
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
    except OSError as exc:  # the machine, not specc: a full disk, stdout on /dev/full, EIO
        print(f"specc: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as exc:  # an internal error: say so plainly, no traceback
        if os.environ.get("SPECC_DEBUG"):
            raise
        print(f"specc: internal error: {type(exc).__name__}: {exc}\n"
              "  (this is a bug in specc; rerun with SPECC_DEBUG=1 for the traceback)",
              file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    console_main()
