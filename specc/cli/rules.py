"""`specc rules` (list the lint rules) and `specc explain CODE` (one rule in full)."""
from __future__ import annotations

import json
import sys

from specc.cli._common import EXIT_OK, EXIT_USAGE


def add_parser(sub) -> None:
    p = sub.add_parser("rules", help="list the lint rules")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run_rules)
    p = sub.add_parser("explain", help="explain one lint rule")
    p.add_argument("rule", help="code or name, e.g. L101 or bias-before-norm")
    p.set_defaults(func=run_explain)


def run_rules(args) -> int:
    from specc.lint.registry import RULES, _load_rules

    _load_rules()
    if args.format == "json":
        print(json.dumps([r.to_json() for r in RULES.values()], indent=1))
        return EXIT_OK
    for r in RULES.values():
        print(f"{r.code:6} {r.name:32} {r.severity:8} {r.summary}")
    return EXIT_OK


def run_explain(args) -> int:
    from specc.expand import suggest
    from specc.lint.registry import RULES, find_rule

    r = find_rule(args.rule)
    if r is None:
        hint = suggest(args.rule, [x.name for x in RULES.values()])
        print(f"specc: no rule {args.rule!r}" + (f" ({hint})" if hint else "")
              + "; see `specc rules`", file=sys.stderr)
        return EXIT_USAGE
    print(f"{r.code} {r.name} ({r.severity})\n\n{r.summary}\n\n{r.explanation}\n\nFix: {r.hint}")
    return EXIT_OK
