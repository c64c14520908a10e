"""`specc schema`: print the JSON Schema of specs (generated from the op registry)."""
from __future__ import annotations

import sys

from specc.cli._common import EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser("schema", help="print the JSON Schema of specs")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.schema import schema_text

    sys.stdout.write(schema_text())
    return EXIT_OK
