"""`specc rules` (list the lint rules) and `specc explain CODE` (one rule in full)."""
from __future__ import annotations

import sys

from specc.cli._common import EXIT_OK, EXIT_USAGE


def add_parser(sub) -> None:
    p = sub.add_parser("rules", help="list the lint rules")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run_rules)
    p = sub.add_parser("explain", help="explain a diagnostic code or lint rule")
    p.add_argument("rule", help="code or name, e.g. L101, bias-before-norm or E301")
    p.set_defaults(func=run_explain)


def run_rules(args) -> int:
    import json

    from specc.lint.registry import RULES  # sorted by code

    if args.format == "json":
        print(json.dumps([r.to_json() for r in RULES.values()], indent=1))
        return EXIT_OK
    for r in RULES.values():
        fixed = "" if r.can_disable else "  (torch rejects it: always on)"
        print(f"{r.code:6} {r.name:32} {r.severity:8} {r.summary}{fixed}")
    return EXIT_OK


def run_explain(args) -> int:
    from specc.codes import CODES, lookup
    from specc.expand import suggest

    c = lookup(args.rule)
    if c is None:
        hint = suggest(args.rule, [x.name for x in CODES.values()])
        print(f"specc: no code or rule {args.rule!r}" + (f" ({hint})" if hint else "")
              + "; see `specc rules` and docs/errors.md", file=sys.stderr)
        return EXIT_USAGE
    text = f"{c.code} {c.name} ({c.severity})\n\n{c.summary}"
    if c.explanation:
        text += f"\n\n{c.explanation}"
    if c.hint:
        text += f"\n\nFix: {c.hint}"
    if c.is_rule and not c.can_disable:
        text += "\n\ntorch rejects this configuration, so --ignore/--select cannot switch it off."
    print(text)
    return EXIT_OK
