"""A diagnostic turned into text — the one place every text format does it."""
from __future__ import annotations

from specc.report.style import Style, printable, printable_diagnostic

PLAIN = Style(False)


def headline(d, style: Style = PLAIN, severity: bool = False) -> str:
    """`path:line:col: [severity] CODE [rule] message` (severity for the full format)."""
    d = printable_diagnostic(d)  # a control character in a spec never reaches the terminal
    colour = {"error": style.red, "warning": style.yellow}.get(d.severity, style.blue)
    level = f"{colour(d.severity)} " if severity else ""
    rule = f" [{d.rule}]" if d.rule else ""
    return (f"{d.file or '<spec>'}:{d.loc.line}:{d.loc.col}: {level}{style.bold(d.code)}{rule} "
            f"{d.message}")


def details(d, style: Style, source_lines: list[str]) -> list[str]:
    """The lines under a headline: the node, the source line with a caret, the hint."""
    d = printable_diagnostic(d)
    colour = {"error": style.red, "warning": style.yellow}.get(d.severity, style.blue)
    lines = []
    if d.node:
        lines.append(f"    node: {d.node}")
    # the source shown is the spec's own; a position in an included file has a file of its own
    if source_lines and d.loc.file is None and 0 < d.loc.line <= len(source_lines):
        text = source_lines[d.loc.line - 1]
        if len(text) <= 160 and printable(text) == text:  # else the caret would be off
            lines.append(f"    | {text}")
            lines.append("    | " + " " * max(d.loc.col - 1, 0) + colour("^"))
    if d.hint:
        lines.append(f"    hint: {d.hint}")
    return lines


def summary_line(analyses) -> str:
    errors = sum(1 for a in analyses for d in a.diagnostics if d.severity == "error")
    warnings = sum(1 for a in analyses for d in a.diagnostics if d.severity == "warning")
    infos = sum(1 for a in analyses for d in a.diagnostics if d.severity == "info")
    # infos are counted where there are any, as each file's own count line does
    return (f"Checked {len(analyses)} file{'s' if len(analyses) != 1 else ''}: "
            f"{errors} error{'s' if errors != 1 else ''}, "
            f"{warnings} warning{'s' if warnings != 1 else ''}"
            + (f", {infos} info{'s' if infos != 1 else ''}" if infos else ""))


