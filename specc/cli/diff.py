"""`specc diff OLD NEW`: what changed between two specs (the comparison is specc.diff)."""
from __future__ import annotations

import sys

from specc.cli._common import (EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, add_dim_option,
                               check_dims_used, parse_dims, print_diagnostics)


def add_arguments(p) -> None:
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--format", choices=("text", "json"), default="text")
    add_dim_option(p)
    p.add_argument("--fail-on-incompatible", action="store_true",
                   help="exit 1 when a state_dict of OLD does not load into NEW (strict)")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from specc.analysis import analyse_path
    from specc.diff import diff_graphs, format_text, json_default
    from specc.report.style import printable

    dims = parse_dims(args.dim)
    analyses = [analyse_path(p, dims=dims, lint=False) for p in (args.old, args.new)]
    check_dims_used(dims, analyses)
    for a in analyses:
        if not a.ok:
            print_diagnostics(a)
            print(f"specc diff: {printable(a.path)} has errors; fix them first",
                  file=sys.stderr)
            return EXIT_USAGE
    old, new = analyses[0].graph, analyses[1].graph
    assert old is not None and new is not None  # analyses without errors have graphs
    report = diff_graphs(old, new)
    if args.format == "json":
        print(json.dumps({"old": args.old, "new": args.new, **report}, indent=1,
                         default=json_default))
    else:
        # a file name's ESC or bidi override reaches the terminal shown, not obeyed
        print(printable(format_text(report, args.old, args.new)))
    if args.fail_on_incompatible:
        if report["checkpoint"] is None:
            print("specc diff: --fail-on-incompatible needs torch to compare state_dicts",
                  file=sys.stderr)
            return EXIT_USAGE
        return EXIT_OK if report["checkpoint"]["loads"] else EXIT_FINDINGS
    return EXIT_OK
