"""`specc check`: validate, infer shapes and lint spec files; the report goes to stdout."""
from __future__ import annotations

import sys

from specc.cli._common import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, add_dim_option,
                               add_var_options, check_dims_used, check_outside_vars,
                               outside_vars, parse_dims)


def add_parser(sub) -> None:
    p = sub.add_parser("check", help="validate, infer shapes and lint spec files",
                       description="Validate specs, infer every tensor's shape, count params "
                                   "and MACs, and lint. Takes files, directories and globs.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=("full", "concise", "json", "github", "sarif"),
                   default=None, help="output format (default: full)")
    add_dim_option(p, "bind a symbolic dim")
    add_var_options(p)
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
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.analysis import analyse_path
    from specc.config import ConfigError, resolve_config
    from specc.files import expand_paths
    from specc.report.formats import write_report
    from specc.report.style import Style

    dims = parse_dims(args.dim)
    values, named = outside_vars(args)
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
        try:
            config = resolve_config(path, args.config, args.select, args.ignore)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        fail_on = args.fail_on or config.fail_on
        analyses.append(analyse_path(path, dims=dims, config=config, limits=config.limits,
                                     vars=values))
        check_outside_vars(analyses[-1], named, args.verbose)
    check_dims_used(dims, analyses)
    fmt = args.format or "full"
    force = {"always": True, "never": False}.get(args.color)
    write_report(analyses, fmt, sys.stdout, Style.for_stream(sys.stdout, force), quiet=args.quiet)
    if any(_hit_limit(a) for a in analyses):
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if any(a.fails(fail_on or "error") for a in analyses) else EXIT_OK


def _hit_limit(analysis) -> bool:
    """Resource limits (E004) exit 2, like usage errors (DESIGN.md contract 2)."""
    return any(d.code == "E004" for d in analysis.diagnostics)
