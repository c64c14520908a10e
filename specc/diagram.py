"""Stage 6c — render: the analysed graph as a Graphviz diagram (no torch, no forward pass).

Nodes show the node name, op and key arguments; edges carry the inferred tensor shapes;
blocks and nested sequences are clusters labelled with their path; ``depth`` collapses
deeper scopes into one node each; nodes with diagnostics are drawn red with their codes,
so a broken spec still renders and the picture helps find the mistake.

No user text ever becomes DOT syntax: every label is an HTML-like label that this module
builds from escaped text (:func:`_esc`), graph and node IDs are generated, and the model's
name only reaches DOT through :func:`_esc` too. Graphviz itself runs with a time and an
output-size budget, and graphs with more than ``AUTO_DEPTH_NODES`` boxes are collapsed
to the deepest level that fits unless ``--depth`` says otherwise.
"""
from __future__ import annotations

import html
import re
import subprocess

from specc.ir import Node, Ref, Scope
from specc.report.summary import op_label, scope_label, scope_params

_FONT = "Helvetica"
_COLORS = {"conv": "#dbe9f6", "linear": "#e3f1df", "norm": "#fdf0d5", "activation": "#f3f3f3",
           "pool": "#e8e0f4", "recurrent": "#fbe0e6", "attention": "#fbe0e6",
           "merge": "#ffffff", "dropout": "#f3f3f3"}


_SYMBOLS = {"add": "+", "mul": "×", "sub": "−", "div": "÷", "matmul": "@"}


DOT_TIMEOUT_S = 60  # wall-clock budget for one `dot` run
DOT_MAX_OUTPUT_BYTES = 50_000_000  # an SVG/PNG/PDF larger than this is refused
AUTO_DEPTH_NODES = 2_000  # boxes drawn before deeper scopes are collapsed automatically


class RenderError(Exception):
    pass


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _esc(text) -> str:
    """Text for an HTML-like label: markup characters as entities; backslashes (which
    Graphviz expands as \\N, \\G, \\L escapes in some places) and control characters as
    numeric entities, so nothing a spec says can become DOT or label syntax."""
    escaped = html.escape(str(text), quote=True).replace("\\", "&#92;")
    return _CONTROL.sub("\ufffd", escaped)  # XML has no way to write these


def _html(text: str) -> str:
    """An HTML-like DOT label from already-escaped rows."""
    return f"<{text}>"


class _Drawing:
    def __init__(self, analysis, depth, shapes: bool, params: bool, fields: dict | None = None):
        import graphviz

        self.graph = analysis.graph
        self.depth, self.shapes, self.params = depth, shapes, params
        self.fields = fields or {}  # node id -> receptive Field, when asked for
        self.problems: dict = {}
        for d in analysis.diagnostics:
            if d.node and d.severity in ("error", "warning"):
                self.problems.setdefault(d.node, []).append(d)
        self.dot = graphviz.Digraph("model")  # the model's name is shown escaped, never an ID
        self.collapsed: dict[str, str] = {}  # node id -> graphviz id of its collapsed scope
        self.ids: dict[str, str] = {}

    def gv_id(self, key: str) -> str:
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
        return self.ids[key]

    # -- nodes ------------------------------------------------------------------
    def node_label(self, node: Node) -> str:
        label = op_label(node)
        if node.named:
            rows = [f"<B>{_esc(node.attr_name)}</B>", _esc(label)]
        else:  # unnamed: the op is the title, its arguments follow on the same line
            rows = [f"<B>{_esc(node.op)}</B>{_esc(label[len(node.op):])}"]
        if self.params and node.params:
            rows.append(f"<FONT POINT-SIZE='9'>{node.params:,} params</FONT>")
        if node.id in self.fields:
            rows.append(f"<FONT POINT-SIZE='9' COLOR='#1f5fa8'>"
                        f"{_esc(self.fields[node.id].label())}</FONT>")
        for d in self.problems.get(node.id, []):
            rows.append(f"<FONT COLOR='#b00020'>{_esc(d.code)} {_esc(d.rule or '')}</FONT>")
        return _html("<BR/>".join(rows))

    def add_node(self, target, node: Node) -> None:
        from specc.ops.base import get_op

        op = get_op(node.op)
        fill = _COLORS.get(op.category if op else "", "#ffffff")
        attrs = {"shape": "box", "style": "rounded,filled", "fillcolor": fill}
        label = self.node_label(node)
        if node.op in _SYMBOLS and not node.named and node.id not in self.problems:
            # an anonymous merge is drawn as a small operator circle: ⊕ is easy to spot
            attrs.update(shape="circle", width="0.35", fixedsize="true", style="filled")
            label = _SYMBOLS[node.op]
        if node.id in self.problems or node.broken:
            attrs.update(color="#b00020", penwidth="2", fillcolor="#fde7ea")
        target.node(self.gv_id(node.id), label, **attrs)

    def add_collapsed(self, target, scope: Scope) -> None:
        inp = scope.input.type if scope.input else None
        out = scope.output.type if scope.output else None
        kind = scope_label(scope)
        rows = [f"<B>{_esc(scope.path)}</B>", _esc(kind),
                f"<FONT POINT-SIZE='9'>{_esc(inp)} → {_esc(out)}</FONT>",
                f"<FONT POINT-SIZE='9'>{scope_params(scope):,} params</FONT>"]
        bad = [n for n in scope.walk_nodes() if n.id in self.problems or n.broken]
        attrs = {"shape": "box3d", "style": "filled", "fillcolor": "#eef2f7"}
        if bad:
            codes = sorted({d.code for n in bad for d in self.problems.get(n.id, [])})
            rows.append(f"<FONT COLOR='#b00020'>{_esc(' '.join(codes) or 'error')}</FONT>")
            attrs.update(color="#b00020", penwidth="2")
        gid = self.gv_id("scope:" + scope.path)
        target.node(gid, _html("<BR/>".join(rows)), **attrs)
        for node in scope.walk_nodes():
            self.collapsed[node.id] = gid

    def add_scope(self, target, scope: Scope, level: int) -> None:
        for item in scope.items:
            if isinstance(item, Node):
                self.add_node(target, item)
            elif self.depth is not None and level >= self.depth:
                self.add_collapsed(target, item)
            else:
                name = f"cluster_{self.gv_id('cluster:' + item.path)}"
                with target.subgraph(name=name) as cluster:
                    title = item.path + (f"  ({item.block})" if item.block else "")
                    cluster.attr(label=_html(_esc(title)), style="rounded,dashed", color="#8a94a6",
                                 fontname=_FONT, fontsize="10", labeljust="l")
                    self.add_scope(cluster, item, level + 1)

    # -- edges --------------------------------------------------------------------
    def endpoint(self, node: Node) -> str:
        return self.collapsed.get(node.id) or self.gv_id(node.id)

    def edge(self, ref: Ref, head: str, seen: set) -> None:
        tail = self.endpoint(ref.node)
        if tail == head or (tail, head, ref) in seen:
            return
        seen.add((tail, head, ref))
        label = str(ref.type) if self.shapes and ref.type is not None else ""
        if ref.index and ref.node.out_types:
            label = f"{ref.node.output_names[ref.index]} {label}".strip()
        self.dot.edge(tail, head, label=_html(_esc(label)) if label else "", fontsize="9", fontname=_FONT,
                      color="#555555")

    def draw(self, rankdir: str):
        self.dot.attr(rankdir=rankdir, fontname=_FONT, nodesep="0.25", ranksep="0.3",
                      label=_html(f"<B>{_esc(self.graph.name)}</B>"), labelloc="t")
        self.dot.attr("node", fontname=_FONT, fontsize="11", margin="0.12,0.05")
        for node in self.graph.inputs:
            label = _html(f"<B>{_esc(node.id)}</B><BR/>{_esc(node.out_types[0])}")
            self.dot.node(self.gv_id(node.id), label, shape="oval", style="filled",
                          fillcolor="#d7f0dd")
        self.add_scope(self.dot, self.graph.root, 0)
        seen: set = set()
        for node in self.graph.nodes:
            head = self.endpoint(node)
            for ref in node.inputs:
                self.edge(ref, head, seen)
        for name, ref in self.graph.outputs:
            gid = self.gv_id("output:" + name)
            self.dot.node(gid, _html(f"<B>{_esc(name)}</B><BR/>output"), shape="oval",
                          style="filled", fillcolor="#f9dcc4", peripheries="2")
            self.edge(ref, gid, seen)
        return self.dot


def render_graph(analysis, depth: int | None = None, rankdir: str = "TB", shapes: bool = True,
                 params: bool = False, receptive_field: bool = False):
    """A graphviz.Digraph of an analysis (a spec with errors renders too, marked).
    ``receptive_field`` annotates spatial nodes with their field size and stride."""
    if analysis.graph is None:
        raise RenderError("the spec could not be read far enough to draw it")
    fields = None
    if receptive_field:
        from specc.analyses.receptive_field import receptive_fields

        fields = receptive_fields(analysis.graph)
    return _Drawing(analysis, depth, shapes, params, fields).draw(rankdir)


def auto_depth(graph, budget: int = AUTO_DEPTH_NODES) -> int | None:
    """The deepest scope level whose drawing has at most ``budget`` boxes (None: all fits).

    At depth d, the nodes of scopes at levels 0..d are drawn and each scope one level
    below is one collapsed box; counted in one walk of the scope tree."""
    nodes_at: list[int] = []
    scopes_at: list[int] = []
    stack = [(graph.root, 0)]
    while stack:
        scope, level = stack.pop()
        while len(nodes_at) <= level:
            nodes_at.append(0)
            scopes_at.append(0)
        for item in scope.items:
            if isinstance(item, Scope):
                scopes_at[level] += 1
                stack.append((item, level + 1))
            else:
                nodes_at[level] += 1
    if sum(nodes_at) <= budget:
        return None
    drawn, best = 0, 0
    for level in range(len(nodes_at)):
        drawn += nodes_at[level]
        if drawn + scopes_at[level] > budget:
            break
        best = level
    return best


def run_dot(source: str, fmt: str) -> bytes:
    """Graphviz's `dot` with a time and an output-size budget; RenderError when it fails."""
    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=source.encode("utf-8"),
                              capture_output=True, timeout=DOT_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RenderError(f"Graphviz `dot` ran longer than {DOT_TIMEOUT_S} s; draw less "
                          "with --depth N") from None
    except OSError as exc:
        raise RenderError(f"cannot run Graphviz `dot`: {exc.strerror or exc}") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RenderError("Graphviz `dot` failed: " + (message[-1] if message else
                                                         f"exit status {done.returncode}"))
    if len(done.stdout) > DOT_MAX_OUTPUT_BYTES:
        raise RenderError(f"the drawing is over {DOT_MAX_OUTPUT_BYTES:,} bytes; draw less with "
                          "--depth N")
    return done.stdout
