"""`specc explain CODE`: one diagnostic code or lint rule in full."""
from __future__ import annotations

import sys

from specc.cli._common import EXIT_OK, EXIT_USAGE


def add_arguments(p) -> None:
    p.add_argument("rule", metavar="CODE", help="code or name, e.g. L101, bias-before-norm or E301")
    p.set_defaults(func=run)


def run(args) -> int:
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
