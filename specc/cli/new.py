"""`specc new [PATH]` (alias `init`): write a commented starter spec."""
from __future__ import annotations

import os
import sys

from specc.cli._common import EXIT_OK, EXIT_USAGE


def add_arguments(p) -> None:
    p.add_argument("path", nargs="?", default="model.yaml")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.files import atomic_write, check_output_target
    from specc.starter import starter_text

    check_output_target(args.path)  # a directory or a read-only file: --force cannot help
    if os.path.exists(args.path) and not args.force:
        print(f"specc: {args.path} exists; use --force to overwrite it", file=sys.stderr)
        return EXIT_USAGE
    text = starter_text(args.path)
    atomic_write(args.path, lambda p: open(p, "w", encoding="utf-8").write(text))
    print(f"wrote {args.path} — now run: specc check {args.path}")
    return EXIT_OK
