"""`specc check`: validate, infer shapes and lint spec files; the report goes to stdout."""
from __future__ import annotations

import sys

from specc.cli._common import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError, add_dim_option,
                               add_var_options, check_dims_used, check_outside_vars,
                               outside_vars, parse_dims)
from specc.report.formats import FORMATS
from specc.tensor import FLOAT_DTYPES, HALF_DTYPES


def add_arguments(p) -> None:
    p.description = ("Validate specs, infer every tensor's shape, count params "
                     "and MACs, and lint. Takes files, directories and globs.")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--format", choices=tuple(FORMATS),
                   default=None, help="output format (default: full)")
    add_dim_option(p)
    add_var_options(p)
    p.add_argument("--fail-on", choices=("error", "warning", "info"), default=None,
                   help="lowest severity that makes the exit code 1 (default: error)")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even with findings")
    p.add_argument("--select", help="rules to run: codes, names or prefixes, comma-separated")
    p.add_argument("--ignore", help="rules to skip: codes, names or prefixes, comma-separated")
    p.add_argument("--quiet", "-q", action="store_true", help="print only diagnostics")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--config", help="a specc.toml or pyproject.toml to use")
    memory = p.add_argument_group("will it fit (--memory)")
    memory.add_argument("--memory", action="store_true",
                        help="add parameter/gradient/optimizer/activation memory, FLOPs and "
                             "receptive fields; with a symbolic batch, the largest that fits")
    memory.add_argument("--dtype", choices=FLOAT_DTYPES,
                        default="float32", help="dtype the model trains in (default float32)")
    memory.add_argument("--amp", action="store_true",
                        help="the optimizer keeps fp32 master weights and state")
    memory.add_argument("--optimizer", choices=("sgd", "sgd-momentum", "adam", "adamw"),
                        default="adamw", help="optimizer whose state to count (default adamw)")
    memory.add_argument("--device-memory", metavar="SIZE",
                        help="memory of the device, e.g. 24GiB or 80GB: say whether it fits")
    memory.add_argument("--memory-device", metavar="{cuda,cpu}", default="cuda",
                        help="whose kernels' saved tensors to count: cuda (default; e.g. "
                             "BatchNorm keeps bfloat16 statistics in float32) or cpu")
    p.add_argument("--skip-non-specs", action="store_true",
                   help="also skip named YAML files without a top-level `layers:` or `specc:` "
                        "key (for pre-commit hooks over all YAML files); directories always "
                        "skip them")
    p.add_argument("--all-yaml", action="store_true",
                   help="in directories, check every YAML file, even non-specs and files "
                        "git ignores")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.analysis import analyse_path
    from specc.config import ConfigError, resolve_config
    from specc.files import expand_paths
    from specc.report.formats import write_report
    from specc.report.style import Style

    dims = parse_dims(args.dim)
    values, named = outside_vars(args)
    request = _fit_request(args)
    paths, missing, skipped = expand_paths(args.paths, all_yaml=args.all_yaml)
    if args.skip_non_specs:
        from specc.files import looks_like_spec

        paths = [p for p in paths if looks_like_spec(p)]
    if missing:
        for m in missing:
            if any(c in m for c in "*?["):
                print(f"specc: no spec files match {m!r}", file=sys.stderr)
            else:  # a plain path, as build and render name it
                print(f"specc: cannot read {m}: No such file or directory", file=sys.stderr)
        return EXIT_USAGE
    if not paths and not args.skip_non_specs:
        # folders without specs are not a mistake, but say that nothing ran and why (a
        # pre-commit hook's --skip-non-specs over config files asked for the silence)
        why = "; ".join(s.describe() for s in skipped)
        print(f"specc: no spec files in {', '.join(args.paths)}" + (f": {why}" if why else ""),
              file=sys.stderr)
        return EXIT_OK
    if not args.quiet:
        for folder in skipped:  # a file that vanished from the check should not go unseen
            print(f"specc: {folder.describe()}", file=sys.stderr)
    analyses, failing = [], False
    for path in paths:
        try:
            config = resolve_config(path, args.config, args.select, args.ignore)
        except ConfigError as exc:
            raise UsageError(str(exc)) from None
        analysis = analyse_path(path, dims=dims, config=config, limits=config.limits,
                                vars=values)
        check_outside_vars(analysis, named, args.verbose)
        # each file fails by its own configuration's fail-on, not by the last file's
        failing |= analysis.fails(args.fail_on or config.fail_on or "error")
        if request is not None and analysis.graph is not None and analysis.ok:
            from specc.analyses.fit import will_it_fit

            analysis.fit = will_it_fit(analysis.graph, request)
        analyses.append(analysis)
    check_dims_used(dims, analyses)
    fmt = args.format or "full"
    force = {"always": True, "never": False}.get(args.color)
    write_report(analyses, fmt, sys.stdout, Style.for_stream(sys.stdout, force), quiet=args.quiet)
    if any(_hit_limit(a) for a in analyses):
        return EXIT_USAGE
    if args.exit_zero:
        return EXIT_OK
    return EXIT_FINDINGS if failing else EXIT_OK


def _fit_request(args):
    if not args.memory:
        if args.amp or args.device_memory or args.dtype != "float32" or \
                args.optimizer != "adamw" or args.memory_device != "cuda":
            raise UsageError("--dtype, --amp, --optimizer, --device-memory and "
                             "--memory-device go with --memory")
        return None
    from specc.analyses.fit import FitRequest
    from specc.analyses.memory import DEVICES, parse_bytes

    if args.memory_device not in DEVICES:  # checked here: the analysis holds the list
        raise UsageError(f"--memory-device must be one of {', '.join(DEVICES)}, "
                         f"not {args.memory_device!r}")

    budget = None
    if args.device_memory is not None:
        try:
            budget = parse_bytes(args.device_memory)
        except ValueError as exc:
            raise UsageError(f"--device-memory: {exc}") from None
    if args.amp and args.dtype not in HALF_DTYPES:
        raise UsageError("--amp keeps fp32 master weights for a bfloat16 or float16 model: "
                         "add --dtype bfloat16")
    return FitRequest(args.dtype, args.optimizer, args.amp, budget, args.memory_device)


def _hit_limit(analysis) -> bool:
    """Resource limits (E004) exit 2, like usage errors (DESIGN.md contract 2)."""
    return any(d.code == "E004" for d in analysis.diagnostics)
