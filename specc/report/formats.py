"""The output formats of `specc check`, one registry: name -> the module that writes it.

Each module has ``write(analyses, stream, style, quiet)``; it is imported only when its
format is asked for, so the `--format` choices cost nothing at startup. Adding a format is
its module in specc/report/ and one line here.
"""
from __future__ import annotations

from importlib import import_module

from specc.report.style import Style

FORMATS = {
    "full": "specc.report.table",  # the default: a table of the model, then diagnostics
    "concise": "specc.report.concise",
    "json": "specc.report.summary",
    "github": "specc.report.github",
    "sarif": "specc.report.sarif",
}


def write_report(analyses, fmt: str, stream, style: Style, quiet: bool = False) -> None:
    import_module(FORMATS[fmt]).write(analyses, stream, style, quiet=quiet)
