"""Regenerate docs/errors.md (error codes, limits, lint rules) and docs/ops.md (every op
with its parameters) from the code.

    python3 docs/make_docs.py

tests/test_docs.py fails when either is out of date.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def render_ops() -> str:
    from specc.ops.base import REQUIRED, all_ops

    ops = all_ops()
    out = ["# Op reference", "",
           "Module ops are torch.nn classes with torch's own argument names and defaults; "
           "functional ops are lower-case. *inferred* parameters may be left out (specc reads "
           "them off the input) or given (then checked). Any value may be an expression.", ""]
    by_category: dict = {}
    for op in ops.values():
        by_category.setdefault(op.category, []).append(op)
    for category in sorted(by_category):
        out += [f"## {category}", "", "| op | parameters | outputs | notes |", "|---|---|---|---|"]
        for op in sorted(by_category[category], key=lambda o: o.name):
            params = []
            for p in op.params:
                if p.inferred:
                    params.append(f"`{p.name}` *inferred*")
                elif p.default is REQUIRED:
                    params.append(f"**`{p.name}`**")
                else:
                    params.append(f"`{p.name}={p.default!r}`")
            outputs = op.outputs if not callable(op.outputs) else ("(named parts)",)
            doc = op.doc.replace("|", "\\|")
            out.append(f"| `{op.name}` | {', '.join(params) or '—'} | "
                       f"{', '.join(outputs)} | {doc} |")
        out.append("")
    return "\n".join(out)


def fixed_budgets() -> list[tuple[str, str, str]]:
    """(budget, value, what it protects) for every fixed budget, read from the constant
    that enforces it so the page cannot drift from the code."""
    from specc import config, diagram, dims, expr, loader
    from specc.compile import export
    from specc.expand import expander, names

    return [
        ("expression length", f"{expr.MAX_LEN} characters", "one `${…}` expression as written"),
        ("expression integers", "2**63", "any integer an expression computes; `**` is refused "
         "before computing a result past it (time and memory)"),
        ("expression text", f"{expr.MAX_TEXT:,} characters", "any text an expression or "
         "interpolation produces (vars that double a string through earlier vars)"),
        ("expression lists", f"{expr.MAX_ITEMS:,} elements", "any list an expression "
         "produces, counted through nesting; `*` and `+` are checked before they build it"),
        ("`round` digits", f"{expr.MAX_ROUND_DIGITS}", "`round(x, -n)` computes 10**n first"),
        ("integer literals", f"{loader._MAX_INT_DIGITS} digits", "any integer written in the "
         "YAML (int() of a long literal is slow)"),
        ("symbolic size terms", f"{dims.MAX_TERMS} terms, {dims.MAX_DEGREE} factors each",
         "one symbolic size (E004)"),
        ("symbolic size text", f"{dims.MAX_ATOM_TEXT:,} characters", "one floor-division "
         "atom such as `(H+1)//2`; pool/cat chains otherwise grow them like Fibonacci (E004)"),
        ("\"did you mean\"", f"{expander.SUGGESTIONS} unknown names, "
         f"{names.SUGGEST_CANDIDATES:,} candidates each", "the suggestions for unknown "
         "names (each compares with the visible names: quadratic without a budget)"),
        ("configuration file", f"{config._MAX_CONFIG_BYTES:,} bytes", "a specc.toml or "
         "pyproject.toml read for `[tool.specc]` (regular files only)"),
        ("`--export` example inputs", f"{export.MAX_EXAMPLE_BYTES >> 20:,} MiB", "the "
         "example tensors torch.export traces with, checked before they are allocated"),
        ("`dot` time", f"{diagram.DOT_TIMEOUT_S} s", "one Graphviz run of `specc render`"),
        ("`dot` output", f"{diagram.DOT_MAX_OUTPUT_BYTES:,} bytes", "the SVG/PNG/PDF "
         "`specc render` writes"),
        ("automatic render depth", f"{diagram.AUTO_DEPTH_NODES:,} boxes", "without "
         "`--depth`, deeper scopes are collapsed until the drawing fits (Graphviz layout is "
         "superlinear)"),
    ]


def render() -> str:
    from specc.compile.build import DEFAULT_MAX_PARAMS
    from specc.errors import ERROR_CODES, LIMIT_DOCS, Limits
    from specc.lint.registry import RULES

    limits = Limits()
    out = ["# Errors, limits and rules", "",
           "Every problem specc reports is printed as `path:line:col: CODE message`, with the "
           "node path and, where one helps, a hint. `--format json` and `--format sarif` carry "
           "the same fields.", "",
           "## Exit codes", "",
           "| code | meaning |", "|---|---|",
           "| 0 | no findings at or above `--fail-on` (default `error`) |",
           "| 1 | findings at or above `--fail-on` |",
           "| 2 | usage error, internal error, or a resource limit (E004) |", "",
           "## Error codes", "",
           "| code | meaning | exit |", "|---|---|---|"]
    for code, text in ERROR_CODES.items():
        exit_code = 2 if code == "E004" else 1
        out.append(f"| <a id=\"{code.lower()}\"></a>{code} | {text} | {exit_code} |")
    out += ["", "E0xx come from reading the file (load), E1xx from the schema (validate), "
            "E2xx from resolving names, blocks and expressions (expand), E3xx from shape and "
            "dtype inference (infer).", "",
            "## Limits", "",
            "Hostile or mistaken input is stopped by explicit limits, reported as E004 with the "
            "place that crossed them (exit code 2). Set them per repository in `pyproject.toml`:",
            "", "```toml", "[tool.specc.limits]", "max_repeat = 50000", "```", "",
            "or in a `specc.toml` next to the specs (`[limits]`).", "",
            "| limit | default | what it bounds |", "|---|---:|---|"]
    for name, text in LIMIT_DOCS.items():
        out.append(f"| `{name}` | {getattr(limits, name):,} | {text} |")
    out += [f"| `--max-params` (build) | {DEFAULT_MAX_PARAMS:,} | parameters of a model "
            "`specc build` will allocate (checked before allocating anything) |"]
    out += [f"| {what} | {value} | {protects} |" for what, value, protects in fixed_budgets()]
    out += ["", "The rows after `--max-params` are fixed budgets: they bound work that no real "
            "spec comes near, so they are not configurable.", "",
            "Other guarantees: YAML tags are refused (E003) and nothing is ever constructed "
            "from YAML; expressions go through a whitelisted evaluator (no `eval`, no "
            "attributes, no calls but `min max abs round int range log`, comprehensions bounded "
            "to 10,000 iterations); input names are identifiers and module names reach "
            "generated code only as `getattr` string literals or plain identifiers, never "
            "as code, and are no `nn.Module` attributes, so generated code cannot be "
            "injected; `specc build` writes outputs atomically (no partial files).", "",
            "Reads and writes: spec and configuration files are read only when they are "
            "regular files (a FIFO, a device or a symlink to `/dev/zero` is E000), and never "
            "past the byte limit. Outputs (`--save`, `--export`, `--emit-python`, `render -o`) "
            "refuse, with exit code 2, a directory, a missing folder, a symlink, a FIFO or "
            "device, a read-only file and the input spec; SIGINT or SIGTERM while writing "
            "removes the temporary file. No text from a spec becomes DOT syntax (every label "
            "is escaped HTML-like text) or reaches a terminal as a control sequence (the "
            "full, concise and github formats escape control characters).", "",
            "## Lint rules", "",
            "`specc rules` lists them and `specc explain CODE` explains one. Select with "
            "`--select` / `--ignore` (codes, names, or code prefixes such as `L3`), in "
            "`[tool.specc]` (`select`, `ignore`, `fail-on`), or per line with "
            "`# specc: ignore[rule-name]`.", "",
            "| code | name | severity | what it catches |", "|---|---|---|---|"]
    for r in sorted(RULES.values(), key=lambda r: r.code):
        out.append(f"| {r.code} | `{r.name}` | {r.severity} | {r.summary} |")
    out += ["", "L101–L104 and L106 are configurations torch itself rejects; shape inference "
            "detects them and reports them under these codes, and `--ignore`, `--select` and "
            "`# specc: ignore` cannot switch them off. `specc explain CODE` explains any code, "
            "E-codes included.", ""]
    return "\n".join(out)


if __name__ == "__main__":
    (ROOT / "docs" / "errors.md").write_text(render())
    (ROOT / "docs" / "ops.md").write_text(render_ops())
