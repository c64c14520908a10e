"""`specc render FILE -o OUT.html`: an interactive view that needs no server and no script.

Blocks are ``<details>`` elements (collapsible with a click, natively, in every browser);
each op is one line with its readable arguments, and its output shape, parameters and MACs
show on hover (``title``). Everything taken from the spec is HTML-escaped and the page holds
no JavaScript, so a hostile spec cannot put code into it.
"""
from __future__ import annotations

import html

from specc.diagram import _COLORS, _category, main_input, readable_args
from specc.ir import Node, Scope
from specc.report.summary import count_text, scope_label, scope_params

OPEN_LEVELS = 1  # blocks this deep start unfolded

_STYLE = """
body { font: 14px/1.45 Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
ul { list-style: none; padding-left: 1.2em; margin: 0; }
li { margin: 2px 0; }
.op { border-radius: 4px; padding: 1px 6px; }
.shape { color: #666; font-size: 12px; margin-left: .6em; }
summary { cursor: pointer; }
summary .kind { color: #1f5fa8; margin-left: .4em; }
.error { outline: 2px solid #b00020; }
"""


def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _shape(types) -> str:
    return ", ".join(str(t) for t in types or [] if t is not None)


def _node(node: Node, problems: dict, graph) -> str:
    from specc.infer import per_sample

    args = readable_args(node)
    title = f"out {_shape(node.out_types)}"
    if node.params:
        title += f" · {node.params:,} params"
    if node.macs:
        title += f" · {count_text(per_sample(node.macs, graph))} MACs per sample"
    codes = " ".join(d.code for d in problems.get(node.id, []))
    if codes:
        title += f" · {codes}"
    name = f"<b>{_e(node.attr_name)}</b> " if node.named else ""
    color = _COLORS.get(_category(node), "#ffffff")
    return (f'<li class="node{" error" if codes else ""}" data-id="{_e(node.id)}" '
            f'title="{_e(title)}"><span class="op" style="background:{color}">{name}'
            f"{_e(node.op)}{'(' + _e(args) + ')' if args else ''}</span>"
            f'<span class="shape">{_e(_shape(node.out_types))}</span></li>')


def _scope(scope: Scope, level: int, problems: dict, graph) -> str:
    parts = []
    for item in scope.items:
        if isinstance(item, Node):
            parts.append(_node(item, problems, graph))
            continue
        source = main_input(item)
        inp = source.type if source else None
        out = item.output.type if item.output else None
        kind = item.block or scope_label(item) if item.kind != "sequence" else "sequence"
        title = f"{inp} → {out} · {scope_params(item):,} params"
        parts.append(
            f'<li class="scope" data-id="{_e(item.path)}" title="{_e(title)}">'
            f"<details{' open' if level < OPEN_LEVELS else ''}><summary><b>"
            f"{_e(item.attr_name)}</b><span class=\"kind\">{_e(kind)}</span>"
            f'<span class="shape">{_e(out)}</span></summary>'
            f"<ul>{_scope(item, level + 1, problems, graph)}</ul></details></li>")
    return "\n".join(parts)


def render_html(analysis) -> str:
    """The page for an analysis (a spec with errors renders too, its nodes outlined red)."""
    from specc.infer import totals

    graph = analysis.graph
    problems: dict = {}
    for d in analysis.diagnostics:
        if d.node and d.severity == "error":
            problems.setdefault(d.node, []).append(d)
    total = totals(graph)
    inputs = "".join(f'<li class="input" data-id="{_e(n.id)}"><b>{_e(n.id)}</b>'
                     f'<span class="shape">{_e(n.out_types[0])}</span></li>'
                     for n in graph.inputs if n.out_types)
    outputs = "".join(f'<li class="output"><b>{_e(name)}</b><span class="shape">'
                      f"{_e(ref.type)}</span></li>" for name, ref in graph.outputs)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{_e(graph.name)}"
            f"</title><style>{_STYLE}</style></head><body>\n<h1>{_e(graph.name)}</h1>\n"
            f"<p>{total['params']:,} parameters · {_e(count_text(total['macs']))} MACs per sample. "
            "Click a block to open or close it; hover an op for its shape, parameters and "
            "MACs.</p>\n"
            f"<h2>Inputs</h2><ul>{inputs}</ul>\n<h2>Layers</h2><ul id=\"model\">\n"
            f"{_scope(graph.root, 0, problems, graph)}\n</ul>\n<h2>Outputs</h2><ul>{outputs}</ul>\n"
            "</body></html>\n")
