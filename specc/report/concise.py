"""`--format concise`: one line per diagnostic, as compilers print them."""
from __future__ import annotations

from specc.report.text import headline, summary_line


def write(analyses, stream, style, quiet: bool = False) -> None:  # noqa: ARG001
    for a in analyses:
        for d in sorted(a.diagnostics, key=lambda d: (d.loc.line, d.loc.col)):
            stream.write(headline(d) + "\n")
    if not quiet:
        stream.write(summary_line(analyses) + "\n")
