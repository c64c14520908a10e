"""The `full` format: a torchinfo-style table, totals, then the diagnostics."""
from __future__ import annotations

from specc.dims import shape_str
from specc.infer import per_sample, totals
from specc.ir import Graph, Node, Scope
from specc.report.style import Style, printable
from specc.report.summary import count_text, op_label, scope_label, scope_params
from specc.report.text import details, headline, summary_line


def write(analyses, stream, style: Style, quiet: bool = False) -> None:
    """`--format full`: each model's table and its diagnostics (only those with -q)."""
    for a in analyses:
        if quiet:
            text = "\n".join(format_diagnostics(a, style)) if a.diagnostics else ""
        else:
            text = render_table(a, style)
        if text:
            stream.write(text + "\n\n")
    if len(analyses) > 1 and not quiet:
        stream.write(summary_line(analyses) + "\n")


def _rows(graph: Graph):
    for node in graph.inputs:
        yield (node.id, "input", str(node.out_types[0]) if node.out_types else "?", "", "", 0)
    yield from _scope_rows(graph, graph.root, 0)


def _scope_rows(graph: Graph, scope: Scope, depth: int):
    for item in scope.items:
        if isinstance(item, Scope):
            out = item.output.type if item.output else None
            label = scope_label(item) + (" (training only)" if item.training_only
                                         and not scope.training_only else "")
            yield ("  " * depth + item.attr_name, label, str(out) if out else "—",
                   count_text(scope_params(item)), "", 1)
            yield from _scope_rows(graph, item, depth + 1)
        else:
            yield _node_row(graph, item, depth, item.training_only and not scope.training_only)


def _node_row(graph: Graph, node: Node, depth: int, training_only: bool = False):
    if node.out_types is None:
        shape = "✗" if node.broken else "?"
    elif len(node.out_types) > 1:
        shape = ", ".join(f"{name} {shape_str(t.shape)}"
                          for name, t in zip(node.output_names, node.out_types))
    else:
        shape = str(node.out_types[0])
    macs = per_sample(node.macs, graph)
    label = op_label(node) + (" (training only)" if training_only else "")
    return ("  " * depth + node.attr_name, label, shape,
            count_text(node.params) if node.params else "–",
            count_text(macs) if macs else "–", 0)


def render_table(analysis, style: Style) -> str:
    graph = analysis.graph
    lines = [style.bold(printable(analysis.path))
             + (f" — {printable(graph.name)}" if graph else "")]
    if graph is not None and graph.nodes:
        rows = [tuple(printable(c) for c in r[:5]) + r[5:] for r in _rows(graph)]
        headers = ("Node", "Op", "Output shape", "Params", "MACs")
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
        widths = [min(w, 60) for w in widths]
        rule = "─" * (sum(widths) + 2 * (len(widths) - 1))
        lines += [rule, _line(headers, widths), rule]
        for row in rows:
            text = _line(row[:5], widths)
            lines.append(style.dim(text) if row[5] else text)
        lines.append(rule)
        total = totals(graph)
        outputs = printable(", ".join(
            f"{name} {ref.type}" + (" (training only)" if ref.node.training_only else "")
            for name, ref in graph.outputs if ref.type))
        training = (f" (eval; training-only branches add {count_text(total['training_only_macs'])})"
                    if total["training_only_macs"] else "")
        # per sample while the batch is symbolic (bound to 1); with a concrete batch (a
        # literal size or --dim N=8) the count is the whole batch's
        macs = "MACs/sample" if graph.batch_symbols else "MACs"
        lines.append(f"Params: {count_text(total['params'])}   "
                     f"{macs}: {count_text(total['macs'])}{training}   "
                     f"Param memory (fp32): {total['params'] * 4 / 2**20:,.1f} MiB")
        if outputs:
            lines.append(f"Outputs: {outputs}")
        if getattr(analysis, "fit", None) is not None:
            from specc.analyses.fit import fit_lines

            lines += fit_lines(analysis.fit)
    lines += format_diagnostics(analysis, style)
    return "\n".join(lines)


def _line(cells, widths) -> str:
    out = []
    for i, (cell, width) in enumerate(zip(cells, widths)):
        cell = cell if len(cell) <= width else cell[: width - 1] + "…"
        out.append(cell.rjust(width) if i >= 3 else cell.ljust(width))
    return "  ".join(out).rstrip()


def format_diagnostics(analysis, style: Style) -> list[str]:
    lines = []
    source = analysis.source.splitlines() if analysis.source else []
    for d in sorted(analysis.diagnostics, key=lambda d: (d.loc.line, d.loc.col)):
        lines.append(headline(d, style, severity=True))
        in_spec = d.file in (None, analysis.path)  # not a configuration file's finding
        lines += details(d, style, source if in_spec else [])
    if analysis.diagnostics:
        counts: dict[str, int] = {}
        for d in analysis.diagnostics:
            counts[d.severity] = counts.get(d.severity, 0) + 1
        lines.append(", ".join(f"{n} {s}{'s' if n != 1 else ''}" for s, n in sorted(counts.items())))
    elif analysis.graph is not None:
        lines.append(style.green("No problems found."))
    return lines
