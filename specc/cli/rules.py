"""`specc rules`: list the lint rules."""
from __future__ import annotations

from specc.cli._common import EXIT_OK


def add_arguments(p) -> None:
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.set_defaults(func=run)


def run(args) -> int:
    import json

    from specc.lint.registry import RULES  # sorted by code

    if args.format == "json":
        print(json.dumps([r.to_json() for r in RULES.values()], indent=1))
        return EXIT_OK
    for r in RULES.values():
        fixed = "" if r.can_disable else "  (torch rejects it: always on)"
        print(f"{r.code:6} {r.name:32} {r.severity:8} {r.summary}{fixed}")
    return EXIT_OK
