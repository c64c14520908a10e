"""`specc schema`: print the JSON Schema of specs (generated from the op registry)."""
from __future__ import annotations

import sys

from specc.cli._common import EXIT_FINDINGS, EXIT_OK, enable_project_plugins


def add_arguments(p) -> None:
    p.description = ("The JSON Schema of specs, with the ops of the plugins "
                     "that the configuration here enables (for editors).")
    p.add_argument("--config", help="a specc.toml or pyproject.toml to use")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.schema import schema_text

    problems = enable_project_plugins(args.config)
    sys.stdout.write(schema_text())
    return EXIT_FINDINGS if problems else EXIT_OK
