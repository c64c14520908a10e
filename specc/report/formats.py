"""Output formats of `specc check`: full, concise, json, github, sarif."""
from __future__ import annotations

import json

from specc.report.style import Style, printable_diagnostic


def write_report(analyses, fmt: str, stream, style: Style, quiet: bool = False) -> None:
    if fmt == "json":
        from specc.report.summary import document_json

        stream.write(json.dumps(document_json(analyses), indent=1) + "\n")
    elif fmt == "sarif":
        from specc.report.sarif import sarif_document

        stream.write(json.dumps(sarif_document(analyses), indent=1) + "\n")
    elif fmt == "github":
        for a in analyses:
            for d in a.diagnostics:
                stream.write(github_line(d) + "\n")
    elif fmt == "concise":
        for a in analyses:
            for d in sorted(a.diagnostics, key=lambda d: (d.loc.line, d.loc.col)):
                d = printable_diagnostic(d)
                rule = f" [{d.rule}]" if d.rule else ""
                stream.write(f"{d.file}:{d.loc.line}:{d.loc.col}: {d.code}{rule} {d.message}\n")
        if not quiet:
            stream.write(_summary_line(analyses) + "\n")
    else:
        from specc.report.table import format_diagnostics, render_table

        for a in analyses:
            if quiet:
                text = "\n".join(format_diagnostics(a, style)) if a.diagnostics else ""
            else:
                text = render_table(a, style)
            if text:
                stream.write(text + "\n\n")
        if len(analyses) > 1 and not quiet:
            stream.write(_summary_line(analyses) + "\n")


def _summary_line(analyses) -> str:
    errors = sum(1 for a in analyses for d in a.diagnostics if d.severity == "error")
    warnings = sum(1 for a in analyses for d in a.diagnostics if d.severity == "warning")
    return (f"Checked {len(analyses)} file{'s' if len(analyses) != 1 else ''}: "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}")


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_line(d) -> str:
    """A GitHub Actions workflow command (::error file=…,line=…::message)."""
    d = printable_diagnostic(d)
    level = {"error": "error", "warning": "warning"}.get(d.severity, "notice")
    props = [f"file={_escape_property(d.file or '')}"]
    if d.loc.line:
        props += [f"line={d.loc.line}", f"col={d.loc.col}"]
    title = f"{d.code} {d.rule}" if d.rule else d.code
    props.append(f"title={_escape_property(title)}")
    message = d.message + (f" [node {d.node}]" if d.node else "") + (
        f"\nhint: {d.hint}" if d.hint else "")
    return f"::{level} {','.join(props)}::{_escape_data(message)}"
