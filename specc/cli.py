"""The `specc` command line. Each subcommand lives in a small function; heavy modules
(torch, graphviz, jsonschema) are imported only by the subcommands that use them."""
from __future__ import annotations

import argparse
import os
import sys

from specc import __version__

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    pass


def _parse_dims(values) -> dict:
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


def _add_check(sub) -> None:
    p = sub.add_parser("check", help="validate, infer shapes and lint spec files",
                       description="Validate specs, infer every tensor's shape, count params "
                                   "and MACs, and lint. Takes files, directories and globs.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("full", "concise", "json", "github", "sarif"),
                   default=None, help="output format (default: full)")
    p.add_argument("--dim", action="append", metavar="SYM=VALUE", help="bind a symbolic dim")
    p.add_argument("--fail-on", choices=("error", "warning", "info"), default=None,
                   help="lowest severity that makes the exit code 1 (default: error)")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    p.add_argument("--select", help="rules to run: codes, names or prefixes, comma-separated")
    p.add_argument("--ignore", help="rules to skip: codes, names or prefixes, comma-separated")
    p.add_argument("--quiet", "-q", action="store_true", help="print only diagnostics")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--config", help="a specc.toml or pyproject.toml to use")
    p.add_argument("--skip-non-specs", action="store_true",
                   help="silently skip YAML files without a top-level `layers:` or `specc:` "
                        "key (for pre-commit hooks over all YAML files)")
    p.set_defaults(func=cmd_check)


def cmd_check(args) -> int:
    from specc.config import resolve_config
    from specc.files import expand_paths
    from specc.report.formats import write_report
    from specc.report.style import Style

    dims = _parse_dims(args.dim)
    paths, missing = expand_paths(args.paths)
    if args.skip_non_specs:
        from specc.files import looks_like_spec

        paths = [p for p in paths if looks_like_spec(p)]
    if missing:
        for m in missing:
            print(f"specc: no spec files match {m!r}", file=sys.stderr)
        return EXIT_USAGE
    analyses = []
    fail_on = None
    for path in paths:
        config = resolve_config(path, args.config, args.select, args.ignore)
        fail_on = args.fail_on or config.fail_on
        analyses.append(_analyse(path, dims, config))
    fmt = args.format or "full"
    force = {"always": True, "never": False}.get(args.color)
    write_report(analyses, fmt, sys.stdout, Style.for_stream(sys.stdout, force), quiet=args.quiet)
    if any(_hit_limit(a) for a in analyses):
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if any(a.fails(fail_on or "error") for a in analyses) else EXIT_OK


def _analyse(path: str, dims: dict, config):
    from specc.analysis import analyse_path

    return analyse_path(path, dims=dims, config=config, limits=config.limits)


def _hit_limit(analysis) -> bool:
    """Resource limits (E004) exit 2, like usage errors (DESIGN.md contract 2)."""
    return any(d.code == "E004" for d in analysis.diagnostics)


def _add_build(sub) -> None:
    p = sub.add_parser("build", help="build an nn.Module (needs torch)")
    p.add_argument("path")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N, mps or meta")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16", "float64"),
                   default=None)
    p.add_argument("--dim", action="append", metavar="SYM=VALUE")
    p.add_argument("--emit-python", metavar="OUT.py", help="write a standalone module file")
    p.add_argument("--export", metavar="OUT.pt2", help="torch.export the model")
    p.add_argument("--save", metavar="OUT.pt", help="save the state_dict")
    p.add_argument("--max-params", type=int, default=None,
                   help="refuse larger models (default 2e9 parameters)")
    p.set_defaults(func=cmd_build)


def cmd_build(args) -> int:
    from specc.compile.cli import run_build

    return run_build(args, _parse_dims(args.dim))


def _add_render(sub) -> None:
    p = sub.add_parser("render", help="draw the architecture with Graphviz (no torch)")
    p.add_argument("path")
    p.add_argument("-o", "--output", help="OUT.svg|png|pdf|dot (default: print DOT)")
    p.add_argument("--format", choices=("svg", "png", "pdf", "dot"), default=None)
    p.add_argument("--depth", type=int, default=None, help="collapse scopes deeper than N")
    p.add_argument("--rankdir", choices=("TB", "LR", "BT", "RL"), default="TB")
    p.add_argument("--no-shapes", action="store_true", help="no shapes on edges")
    p.add_argument("--params", action="store_true", help="show parameter counts")
    p.add_argument("--dim", action="append", metavar="SYM=VALUE")
    p.set_defaults(func=cmd_render)


def cmd_render(args) -> int:
    from specc.diagram import run_render

    return run_render(args, _parse_dims(args.dim))


def _add_misc(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of specs")
    p.set_defaults(func=cmd_schema)
    p = sub.add_parser("rules", help="list the lint rules")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("explain", help="explain one lint rule")
    p.add_argument("rule", help="code or name, e.g. L101 or bias-before-norm")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser("diff", help="what changed between two specs")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--dim", action="append", metavar="SYM=VALUE")
    p.add_argument("--fail-on-incompatible", action="store_true",
                   help="exit 1 when a state_dict of OLD does not load into NEW (strict)")
    p.set_defaults(func=cmd_diff)
    p = sub.add_parser("new", aliases=["init"], help="write a commented starter spec")
    p.add_argument("path", nargs="?", default="model.yaml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=cmd_new)


def cmd_schema(args) -> int:
    from specc.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK


def cmd_rules(args) -> int:
    import json

    from specc.lint.registry import RULES, _load_rules

    _load_rules()
    if args.format == "json":
        print(json.dumps([r.to_json() for r in RULES.values()], indent=1))
        return EXIT_OK
    for r in RULES.values():
        print(f"{r.code:6} {r.name:32} {r.severity:8} {r.summary}")
    return EXIT_OK


def cmd_explain(args) -> int:
    from specc.lint.registry import RULES, find_rule

    r = find_rule(args.rule)
    if r is None:
        from specc.expand import suggest

        hint = suggest(args.rule, [x.name for x in RULES.values()])
        print(f"specc: no rule {args.rule!r}" + (f" ({hint})" if hint else "")
              + "; see `specc rules`", file=sys.stderr)
        return EXIT_USAGE
    print(f"{r.code} {r.name} ({r.severity})\n\n{r.summary}\n\n{r.explanation}\n\nFix: {r.hint}")
    return EXIT_OK


def cmd_diff(args) -> int:
    from specc.diff import run_diff

    return run_diff(args, _parse_dims(args.dim))


def cmd_new(args) -> int:
    from specc.starter import write_starter

    return write_starter(args.path, args.force)


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="specc", description="Declarative model specs for PyTorch: check, build, render.")
    parser.add_argument("--version", action="version", version=f"specc {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check(sub)
    _add_build(sub)
    _add_render(sub)
    _add_misc(sub)
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
