"""`specc new [PATH]` (alias `init`): write a commented starter spec."""
from __future__ import annotations

from specc.cli._common import EXIT_OK, report_written
from specc.files import FORCE_HELP, atomic_write, check_new_source_target


def add_arguments(p) -> None:
    p.add_argument("path", nargs="?", default="model.yaml")
    p.add_argument("--force", action="store_true", help=FORCE_HELP)
    p.set_defaults(func=run)


def run(args) -> int:
    from specc.starter import starter_text

    check_new_source_target(args.path, args.force)
    text = starter_text(args.path)
    atomic_write(args.path, lambda p: open(p, "w", encoding="utf-8").write(text),
                 replace=args.force)
    report_written(args.path, f" — now run: specc check {args.path}")
    return EXIT_OK
