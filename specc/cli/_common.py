"""What every subcommand shares: exit codes, usage errors, --dim, printing diagnostics."""
from __future__ import annotations

import sys

# DESIGN.md contract 2: 0 clean, 1 findings, 2 usage error or resource limit.
EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def output_or_stdout(text: str):
    """argparse type of an `-o` whose default is standard output: `-o -` asks for it too
    (None), instead of a file named `-`."""
    return None if text == "-" else text


def report_written(path: str, detail: str = "") -> None:
    """The "wrote FILE" line of every command that writes a file: on stderr, which is for
    progress, so stdout holds only what the command prints as its result (render's figure
    with `-o -`, import's spec, build's model summary) and can be piped."""
    print(f"wrote {path}{detail}", file=sys.stderr)


def whole_number(text: str) -> int:
    """An integer typed on the command line (--dim, --dpi, --depth, --max-params, import's
    sizes): digits 0-9 with an optional sign. int() alone also reads the digits of other
    scripts ('١٢' and '１２' are 12) and '1_000', which no spec reads as a number (a YAML
    integer is ASCII digits; PyYAML agrees), so a pasted or mistyped character never becomes
    a size silently. Raises ValueError saying what it needs."""
    stripped = text.strip()
    digits = stripped[1:] if stripped[:1] in ("+", "-") else stripped
    if not (digits.isascii() and digits.isdigit()):
        raise ValueError(f"{text!r} is not a whole number written with the digits 0-9")
    return int(stripped)


def whole_number_argument(text: str) -> int:
    """whole_number as an argparse type: its message in argparse's usage error."""
    import argparse  # loaded already: the command line was just parsed with it

    try:
        return whole_number(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_dim_option(parser) -> None:
    parser.add_argument("--dim", action="append", metavar="SYM=VALUE",
                        help="bind a symbolic size of the inputs to an integer of at least 1, "
                             "e.g. N=8 (repeat for more symbols)")


def parse_dims(values) -> dict:
    dims = {}
    for item in values or []:
        name, sep, value = item.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--dim expects SYM=VALUE, got {item!r}")
        try:
            dims[name] = whole_number(value)
        except ValueError as exc:
            raise UsageError(f"--dim {name}: {exc}") from None
        if dims[name] < 1:
            from specc.dims import EMPTY_SIZE_REFUSED

            raise UsageError(f"--dim {name}={dims[name]}: a size must be at least 1; "
                             f"{EMPTY_SIZE_REFUSED}")
    return dims


def add_var_options(parser) -> None:
    parser.add_argument("--var", action="append", metavar="NAME=VALUE",
                        help="replace the value of one of the spec's vars (an error if the "
                             "spec does not declare it)")
    parser.add_argument("--vars", metavar="FILE", help="a JSON or YAML mapping of vars, e.g. a "
                        "Hugging Face config.json; keys the spec does not declare are ignored")
    parser.add_argument("--verbose", "-v", action="store_true",
                        help="also list the --vars keys the spec does not declare")


def outside_vars(args) -> tuple[dict, list[str]]:
    """(values from --vars FILE then --var, the names given by --var)."""
    from specc.vars import parse_var, read_vars_file

    try:
        values = read_vars_file(args.vars) if args.vars else {}
        named = []
        for item in args.var or []:
            name, value = parse_var(item)
            values[name] = value
            named.append(name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return values, named


def check_outside_vars(analysis, named: list[str], verbose: bool) -> None:
    """A --var the spec does not declare is a usage error (a typo, most likely); --vars
    keys it does not declare are listed with --verbose."""
    unknown = [n for n in named if n in analysis.ignored_vars]
    if unknown:
        from specc.expand import suggest

        name = unknown[0]
        hint = suggest(name, analysis.declared_vars) or \
            f"its vars: {', '.join(analysis.declared_vars) or 'none'}"
        raise UsageError(f"--var {name}: {analysis.path} declares no var '{name}' ({hint})")
    if verbose and analysis.ignored_vars:
        print(f"{analysis.path}: ignored vars the spec does not declare: "
              f"{', '.join(analysis.ignored_vars)}", file=sys.stderr)


def check_dims_used(dims: dict, analyses) -> None:
    """`--dim Q=3` for a symbol no spec declares binds nothing: a typo, or a stale flag."""
    declared = set()
    for analysis in analyses:
        if analysis.graph is None:
            return  # the spec could not be read: its own diagnostics say why
        declared |= analysis.graph.symbols
    for name in dims:
        if name not in declared:
            from specc.expand.names import suggest

            same = [d for d in declared if d.lower() == name.lower()]
            hint = f"did you mean '{same[0]}'?" if same else suggest(name, declared)
            known = ", ".join(sorted(declared)) or "none"
            raise UsageError(f"--dim {name}: the spec has no symbol '{name}' (its symbols: "
                             f"{known}){'; ' + hint if hint else ''}")


def print_diagnostics(analysis) -> None:
    """An analysis's diagnostics on stderr, for the commands whose stdout is something else."""
    from specc.report.style import Style
    from specc.report.table import format_diagnostics

    print("\n".join(format_diagnostics(analysis, Style.for_stream(sys.stderr))),
          file=sys.stderr)


def enable_project_plugins(config_path: str | None = None) -> int:
    """Activate the plugins of the configuration found from the current directory (or the
    one given); print what failed to load. Returns the number of plugin problems."""
    import os

    from specc.config import resolve_config
    from specc.plugin_loading import activate

    config = resolve_config(os.path.join(os.getcwd(), "specc.yaml"), config_path)
    problems = activate(config)
    for diagnostic in problems:
        print(diagnostic.format(), file=sys.stderr)
    return len(problems)
