"""SARIF 2.1.0 output, as GitHub code scanning reads it."""
from __future__ import annotations

from pathlib import Path

from specc import __version__
from specc.codes import CODES

_LEVEL = {"error": "error", "warning": "warning", "info": "note"}
INFO_URI = "https://github.com/specc-dev/specc"


def _rules():
    from specc.lint.registry import RULES

    rules = []
    for c in CODES.values():
        if c.is_rule:
            continue  # the lint rules follow, from their registry
        docs = f"{INFO_URI}/blob/main/docs/errors.md#{c.code.lower()}"
        explanation = c.explanation or f"{c.summary}."
        fix = f"\n\nFix: {c.hint}" if c.hint else ""
        rules.append({
            # the code's own name (`unreadable-file`), as the lint rules below use theirs
            "id": c.code, "name": c.name,
            "shortDescription": {"text": c.summary},
            "fullDescription": {"text": explanation.split("\n\n")[0]},
            "help": {"text": f"{explanation}{fix}\n\nSee {docs}",
                     "markdown": f"{explanation}{fix.replace('Fix:', '**Fix:**')}\n\n"
                                 f"See [docs/errors.md]({docs})"},
            "defaultConfiguration": {"level": _LEVEL[c.severity]},
        })
    for r in RULES.values():
        rules.append({
            "id": r.code, "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.explanation.split("\n\n")[0]},
            "help": {"text": f"{r.explanation}\n\nFix: {r.hint}",
                     "markdown": f"{r.explanation}\n\n**Fix:** {r.hint}"},
            "defaultConfiguration": {"level": _LEVEL[r.severity]},
            "properties": {"tags": ["model-spec", r.severity]},
        })
    return rules


def _uri(path: str) -> tuple[str, bool]:
    """(uri, is_relative): a percent-encoded URI reference (SARIF §3.10), relative to the
    working directory when the file is inside it. Spaces, '#', '%', '?' and non-ASCII
    characters in a file name would otherwise make a different or invalid URI."""
    from urllib.parse import quote

    if path.startswith("<"):  # "<spec>": text given to the API, not a file
        return quote(path, safe=""), True
    absolute = Path(path).resolve()
    try:
        return quote(absolute.relative_to(Path.cwd()).as_posix(), safe="/"), True
    except ValueError:
        return absolute.as_uri(), False


def write(analyses, stream, style, quiet: bool = False) -> None:  # noqa: ARG001
    """`--format sarif`: SARIF 2.1.0 for GitHub code scanning."""
    import json

    stream.write(json.dumps(sarif_document(analyses), indent=1) + "\n")


def sarif_document(analyses) -> dict:
    rules = _rules()
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for a in analyses:
        spec_uri = _uri(a.path)
        for d in a.diagnostics:
            uri, relative = spec_uri if d.file in (None, a.path) else _uri(d.file)
            location: dict = {"artifactLocation": {"uri": uri}}  # a plugin's: its config file
            if relative:
                location["artifactLocation"]["uriBaseId"] = "%SRCROOT%"
            if d.loc.line > 0:
                location["region"] = {"startLine": d.loc.line, "startColumn": max(d.loc.col, 1)}
            entry: dict = {"physicalLocation": location}
            if d.node:
                entry["logicalLocations"] = [{"fullyQualifiedName": d.node, "kind": "member"}]
            result = {"ruleId": d.code, "level": _LEVEL.get(d.severity, "note"),
                      "message": {"text": d.message + (f" (hint: {d.hint})" if d.hint else "")},
                      "locations": [entry]}
            if d.code in index:
                result["ruleIndex"] = index[d.code]
            results.append(result)
    return {
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "specc", "version": __version__,
                                "semanticVersion": __version__, "informationUri": INFO_URI,
                                "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"uri": Path.cwd().as_uri() + "/"}},
            "results": results,
            "columnKind": "unicodeCodePoints",
        }],
    }

