"""`--format github`: GitHub Actions workflow commands (annotations on the PR diff)."""
from __future__ import annotations

from specc.report.style import printable_diagnostic


def write(analyses, stream, style, quiet: bool = False) -> None:  # noqa: ARG001
    for a in analyses:
        for d in a.diagnostics:
            stream.write(github_line(d) + "\n")


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
