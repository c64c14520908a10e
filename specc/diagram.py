"""Stage 6c — render: the analysed graph as a Graphviz diagram (no torch, no forward pass).

The default drawing is meant to go into a paper or a PR as it is:

- depth is picked automatically: the deepest level of blocks whose drawing keeps the longest
  path under :data:`PAGE_BOXES` boxes (deeper blocks are drawn as one box each); a chain
  still taller than that with one box per block wraps into columns where one edge crosses
  (left to right: :data:`PAGE_BOXES_ACROSS`, rows); the laid-out drawing is measured, and
  made shallower or wrapped shorter until a page shrinks it by at most :data:`MIN_SCALE`
  (box labels print at 7 pt or more); one that cannot (a forced depth) grows past the page;
- consecutive identical copies in a ``repeat`` fold into one, named by what they are
  (``TransformerEncoderLayer ×6``, ``BasicBlock ×2``), not by the word "repeat";
- a norm / activation / dropout that only follows one layer is written into that layer's box
  (``Conv2d(3→64, 7×7, stride 2)`` over ``BatchNorm2d · ReLU``), as papers draw them;
- parallel branches keep the order of the source where Graphviz can (``ordering=in``,
  ``newrank``: see tests/test_diagram_branches.py for where it cannot);
- op labels spell their arguments the way torch names them, shapes ride on the edges;
- a block's title sits in a corner of its cluster that no edge runs through, where one is
  (:func:`title_crossings` reads Graphviz's layout).

``depth="all"``, ``fold=False``, ``fuse=False`` draw every op and every copy. Nodes with
errors are drawn red with their codes, so a broken spec still renders.
"""
from __future__ import annotations

import html
import math
import re
import subprocess

from specc.ir import Node, Ref, Scope
from specc.report.summary import op_label, scope_label, scope_params

_FONT = "Helvetica"
_COLORS = {"conv": "#dbe9f6", "linear": "#e3f1df", "norm": "#fdf0d5", "activation": "#f3f3f3",
           "pool": "#e8e0f4", "recurrent": "#fbe0e6", "attention": "#fbe0e6",
           "merge": "#ffffff", "dropout": "#f3f3f3", "embedding": "#e3f1df"}
_LEGEND_NAMES = {"conv": "convolution", "linear": "linear / embedding", "norm": "normalisation",
                 "activation": "activation", "pool": "pooling", "recurrent": "recurrent",
                 "attention": "attention", "dropout": "dropout", "embedding": "embedding",
                 "block": "block (collapsed)"}
_SYMBOLS = {"add": "+", "mul": "×", "sub": "−", "div": "÷", "matmul": "@"}
# ops written into the box of the layer they follow (Keras / paper style)
_FUSED_CATEGORIES = ("norm", "activation", "dropout")
PAGE_INCHES = "7,9.5"  # a letter / A4 page less margins: larger drawings are scaled down
PAGE_BOXES = 12  # the longest path of an automatic-depth drawing stays under this (a page)
# left to right, a box and the shape on the edge after it take ~230 pt of a 504-pt line: the
# first guess for a row, shortened where the laid-out drawing is still too wide (_fitted)
PAGE_BOXES_ACROSS = 4
WRAP_MAX_CROSSING = 2  # edges a cut between two columns (rows) of a wrapped chain may cross
LABEL_POINTS = 11  # a box's label
# a page scales a drawing down, but never so far that a box's label prints below this
# (MIN_SCALE = 7/11: the 9-pt shapes on edges print at 5.7 pt); a drawing that would need
# more grows larger than a page instead
MIN_LABEL_POINTS = 7.0
MIN_SCALE = MIN_LABEL_POINTS / LABEL_POINTS


DOT_TIMEOUT_S = 60  # wall-clock budget for one `dot` run
DOT_MAX_OUTPUT_BYTES = 50_000_000  # an SVG/PNG/PDF larger than this is refused
AUTO_DEPTH_NODES = 2_000  # boxes drawn before deeper scopes are collapsed automatically


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_LONG_FLOAT = re.compile(r"(?<![\w.])\d+\.\d{5,}(?:e[-+]?\d+)?")


class RenderError(Exception):
    pass


def _esc(text) -> str:
    """Text for an HTML-like label: markup characters as entities; backslashes (which
    Graphviz expands as \\N, \\G, \\L escapes in some places) and control characters as
    numeric entities, so nothing a spec says can become DOT or label syntax."""
    escaped = html.escape(str(text), quote=True).replace("\\", "&#92;")
    return _CONTROL.sub("\ufffd", escaped)  # XML has no way to write these


def _html(text: str) -> str:
    """An HTML-like DOT label from already-escaped rows."""
    return f"<{text}>"


# Graphviz spaces <BR/> lines by the font size alone, so an underscore (which sits below the
# baseline) is drawn on top of the next line's capitals: `embed_tokens` over `Embedding`
# looked like `Ēmbedding`. A 2-pt empty line after such a row keeps them apart.
_UNDERSCORE_GAP = "<BR/><FONT POINT-SIZE='2'> </FONT><BR/>"


def _lines(rows: list[str]) -> str:
    """An HTML-like label of escaped rows, one per line."""
    parts = []
    for index, row in enumerate(rows):
        if index:
            parts.append(_UNDERSCORE_GAP if "_" in rows[index - 1] else "<BR/>")
        parts.append(row)
    return _html("".join(parts))


def _grid(value) -> str:
    """7 -> 7×7 for a 2-d op; [3, 1] -> 3×1; 5 -> 5 for a 1-d op."""
    if isinstance(value, (list, tuple)):
        return "×".join(str(v) for v in value)
    return str(value)


def _is_one(value) -> bool:
    values = value if isinstance(value, (list, tuple)) else [value]
    return all(v == 1 for v in values)


def readable_args(node: Node) -> str:
    """A node's key arguments in torch's own terms: ``3→64, 7×7, stride 2`` for a Conv2d,
    ``256→128`` for a Linear, ``p=0.2`` for a Dropout (as torchview and Keras label)."""
    a, parts = node.attrs, []
    for src, dst in (("in_channels", "out_channels"), ("in_features", "out_features"),
                     ("input_size", "hidden_size"), ("num_embeddings", "embedding_dim")):
        if a.get(src) is not None and a.get(dst) is not None:
            parts.append(f"{a[src]}→{a[dst]}")
    if a.get("kernel_size") is not None:
        nd = node.op[-2:-1] if node.op[-2:] in ("1d", "2d", "3d") else "1"
        k = a["kernel_size"]
        parts.append(_grid([k] * int(nd) if isinstance(k, int) and nd in "23" else k))
    for key, word in (("stride", "stride"), ("dilation", "dilation"), ("groups", "groups")):
        if a.get(key) is not None and not _is_one(a[key]):
            parts.append(f"{word} {_grid(a[key])}")
    if a.get("num_features") is not None:
        parts.append(str(a["num_features"]))
    if a.get("d_model") is not None:
        parts.append(f"d={a['d_model']}")
    for key, fmt in (("num_layers", "{} layers"), ("nhead", "{} heads"),
                     ("num_heads", "{} heads"), ("p", "p={}"), ("output_size", "→ {}"),
                     ("scale_factor", "×{}")):
        value = a.get(key)
        if value is not None and not (key == "num_layers" and value == 1):
            parts.append(fmt.format(_grid(value)))
    if a.get("bidirectional"):
        parts.append("bidirectional")
    if not parts:  # what the table shows, without the op name it starts with
        rest = op_label(node)[len(node.op):].strip()
        # a computed constant reads as 0.04419 in a figure, not 0.04419417382415922
        return _LONG_FLOAT.sub(lambda m: f"{float(m.group()):.4g}", rest)
    return ", ".join(parts)


def _category(node: Node) -> str:
    from specc.ops.base import get_op

    op = get_op(node.op)
    return op.category if op else ""


def _structure(scope: Scope) -> tuple:
    """What two copies in a repeat share when they are identical: ops, arguments, wiring
    relative to the copy (shapes follow from those)."""
    cut = len(scope.path) + 1

    def rel(ref: Ref) -> str:
        return ref.node.id[cut:] if ref.node.id.startswith(scope.path + ".") else "<outside>"

    return tuple((n.id[cut:], n.op, repr(sorted(n.attrs.items(), key=lambda kv: kv[0])),
                  tuple(rel(r) + f":{r.index}" for r in n.inputs)) for n in scope.walk_nodes())


def _same(a, b) -> bool:
    if isinstance(a, Scope) and isinstance(b, Scope):
        return _structure(a) == _structure(b)
    return (isinstance(a, Node) and isinstance(b, Node) and a.op == b.op and a.attrs == b.attrs
            and len(b.inputs) == 1 and b.inputs[0].node is a)  # a chain of the same layer


def _runs(items: list) -> list[list]:
    """Consecutive identical copies of a repeat, grouped."""
    runs: list[list] = []
    for item in items:
        if runs and _same(runs[-1][-1], item):
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


class _Layout:
    """Which box draws each node, for one choice of depth / folding / fusing."""

    def __init__(self, graph, top: Scope, depth: int | None, fold: bool, fuse: bool):
        self.graph, self.depth, self.fold, self.fuse = graph, depth, fold, fuse
        self.box: dict[str, str] = {}  # node id -> box key
        self.copy: dict[str, tuple[str, int]] = {}  # node id -> (fold run key, copy index)
        self.fused: dict[str, list[Node]] = {}  # leader node id -> nodes written into it
        self.copies: dict[str, int] = {}  # node id -> how many copies its box stands for
        self.consumers = graph.consumers()
        self.outputs_refs = graph.outputs
        self.outputs = {ref.node.id for _, ref in graph.outputs}
        self.column_firsts: list[str] = []  # the first box of each column, once wrapped
        self._scope(top, 0)

    def _scope(self, scope: Scope, level: int) -> None:
        groups = _runs(scope.items) if self.fold and scope.kind == "repeat" else \
            [[item] for item in scope.items]
        previous: Node | None = None
        for run in groups:
            first = run[0]
            if isinstance(first, Node):
                for index, copy in enumerate(run[1:], start=1):  # folded: drawn as the first
                    self.box[copy.id] = first.id
                    self.copy[copy.id] = (first.id, index)
                    self.copies[first.id] = len(run)
                if len(run) > 1:
                    self.copy[first.id] = (first.id, 0)
                    self.box[first.id] = first.id
                    previous = None  # nothing is written into a folded box
                    continue
                if previous is not None and self._fusable(first, previous):
                    leader = self.box[previous.id]
                    self.box[first.id] = leader
                    self.fused.setdefault(leader, []).append(first)
                else:
                    self.box[first.id] = first.id
                previous = first
                continue
            previous = None
            if self.depth is not None and level >= self.depth:
                for node in first.walk_nodes():
                    self.box[node.id] = "scope:" + first.path
            else:
                self._scope(first, level + 1)
            for index, copy in enumerate(run[1:], start=1):  # folded copies draw as the first
                for twin, node in zip(first.walk_nodes(), copy.walk_nodes()):
                    self.box[node.id] = self.box[twin.id]
                    self.copy[node.id] = (first.path, index)
            if len(run) > 1:
                for node in first.walk_nodes():
                    self.copy[node.id] = (first.path, 0)

    def _fusable(self, node: Node, previous: Node | None) -> bool:
        if not self.fuse or previous is None or _category(node) not in _FUSED_CATEGORIES:
            return False
        if len(node.inputs) != 1 or node.inputs[0].node is not previous:
            return False
        if previous.op in _SYMBOLS or previous.op == "input" or previous.id in self.outputs:
            return False
        return len(self.consumers.get(previous.id, [])) == 1

    def crosses_copies(self, tail: Node, head: Node) -> bool:
        """An edge from one folded copy into the next: drawn by the fold itself."""
        a, b = self.copy.get(tail.id), self.copy.get(head.id)
        return a is not None and b is not None and a[0] == b[0] and a[1] != b[1]

    def longest_path(self) -> int:
        """Boxes on the longest path of this drawing (a tall figure has a long one)."""
        return max(self.levels().values(), default=1) + 1  # + the output

    def levels(self) -> dict[str, int]:
        """Box -> boxes on the longest path that ends in it (inputs are 1)."""
        length: dict[str, int] = {}
        for node in self.graph.inputs:
            length[node.id] = 1
        for node in self.graph.nodes:
            box = self.box.get(node.id)
            if box is None:
                continue
            here = 0
            for ref in node.inputs:
                tail = self.box.get(ref.node.id, ref.node.id)
                if self.crosses_copies(ref.node, node):
                    continue
                here = max(here, length.get(tail, 0) + (tail != box))
            length[box] = max(length.get(box, 1), here or 1)
        return length

    def columns(self, boxes: int = PAGE_BOXES) -> dict[str, int]:
        """Box -> column, when even one box per top-level block is taller than a page
        (Inception-v3: 23 boxes, drawn at a third of its size on one page, 4-pt text): the
        chain is cut into columns of at most ``boxes``, side by side, as a snake (left to
        right, the same cut gives rows, one under the other). Only where one edge, or
        failing that two short ones, cross the cut (a U-Net's skips would criss-cross the
        page); empty when it fits or has no such cut. Edges into a later column do not rank
        their head (Graphviz `constraint`), so each column starts at the top (each row at
        the left)."""
        levels = self.levels()
        longest = max(levels.values(), default=1) + 1
        if longest <= boxes:
            return {}
        edges: set[tuple[str, str]] = set()  # (tail box, head box), once per pair of boxes
        for node in self.graph.nodes:
            box = self.box.get(node.id)
            if box is None:
                continue
            for ref in node.inputs:
                tail = self.box.get(ref.node.id, ref.node.id)
                if tail != box and tail in levels and not self.crosses_copies(ref.node, node):
                    edges.add((tail, box))
        after, starts = self._late_sources(levels, edges)
        for name, ref in self.outputs_refs:  # the output oval, one level below its box
            tail = self.box.get(ref.node.id, ref.node.id)
            if tail in levels:
                levels["output:" + name] = levels[tail] + 1
                edges.add((tail, "output:" + name))
        spans = [(levels[tail], levels[head]) for tail, head in edges]
        crossing = [0] * (longest + 2)  # crossing[L]: edges from level <= L to level > L
        far = [0] * (longest + 2)  # far[L]: those of them that end below level L + 1
        for tail_level, head_level in spans:
            crossing[tail_level] += 1
            crossing[head_level] -= 1
            if head_level - 1 > tail_level:
                far[tail_level] += 1
                far[head_level - 1] -= 1
        for level in range(1, len(crossing)):
            crossing[level] += crossing[level - 1]
            far[level] += far[level - 1]
        per = -(-longest // -(-longest // boxes))  # ceil(longest / columns)
        cuts, start = [], 0
        while longest - start > boxes:
            # near the ideal cut: a column of one or two boxes would not save a page (nor
            # one of the output oval alone)
            near = range(start + (per + 1) // 2, min(start + boxes, start + per * 3 // 2,
                                                     longest - 2) + 1)
            # one edge across the cut, else two into the first level of the next column (an
            # LSTM's two outputs, ViT's class token beside the patches); a skip to a later
            # level (a U-Net's) or more edges would criss-cross the page
            clean = [cut for cut in near if crossing[cut] == 1] or \
                [cut for cut in near if crossing[cut] <= WRAP_MAX_CROSSING and not far[cut]]
            if not clean:
                break
            cut = min(clean, key=lambda c: abs(c - (start + per)))
            cuts.append(cut)
            start = cut
        if not cuts:
            return {}
        column = {box: sum(level > cut for cut in cuts) for box, level in levels.items()}
        for box in reversed(list(levels)):  # graph order: consumers first
            if box in starts and box in after:  # a model's second input, ViT's class token
                column[box] = min(column[head] for head in after[box])  # beside its use
        firsts: dict[int, str] = {}  # column -> its box on the first level
        for box, level in levels.items():
            if column[box] not in firsts or level < levels[firsts[column[box]]]:
                firsts[column[box]] = box
        self.column_firsts = [firsts[index] for index in sorted(firsts)]
        return column


    def _late_sources(self, levels: dict[str, int], edges: set[tuple[str, str]]
                      ) -> tuple[dict[str, list[str]], set[str]]:
        """Boxes no graph input feeds (ViT's class token, positions made from nothing) move
        down to just before their first consumer, where Graphviz ranks them, instead of the
        first level, where a cut would cross their long edge. Returns each box's consumers,
        and the boxes that start a chain (those, and inputs): a wrapped drawing puts them in
        the column of their first consumer, not at the top of the first column, an edge
        from which Graphviz ranks nothing (an LSTM's `lengths` drawn under the last row)."""
        after: dict[str, list[str]] = {}
        for tail, head in edges:
            after.setdefault(tail, []).append(head)
        fed = {node.id for node in self.graph.inputs}
        stack = list(fed)
        while stack:  # what the graph inputs reach
            for head in after.get(stack.pop(), []):
                if head not in fed:
                    fed.add(head)
                    stack.append(head)
        for box in reversed(list(levels)):  # graph order: consumers first
            if box not in fed and box in after:
                levels[box] = min(levels[head] for head in after[box]) - 1
        entered = {head for _, head in edges}
        return after, {box for box in levels if box not in fed or box not in entered}


def _carried(node: Node, ref: Ref, inside: set[int]) -> Ref:
    """The input of ``node`` that its output ``ref`` carries on: one of the output's own
    shape and dtype (a residual add, a norm, a mask filled in), computed inside the block
    before one arriving from outside (the residual's branch before its shortcut); where
    no input keeps the shape (a convolution, a concatenation), one computed inside the
    block (U-Net's upsampled path, not the skip it is concatenated with); else the first."""
    out = node.out_types[ref.index] if node.out_types else None
    return min(node.inputs, key=lambda candidate: (
        candidate.type is None or candidate.type != out, id(candidate.node) not in inside))


def main_input(scope: Scope) -> Ref | None:
    """The input a block's box shows beside its output: the value its output is computed
    from along the block's chain, found by walking back from the output through the input
    each op carries on (:func:`_carried`) until the walk leaves the block. Not simply the
    first value the block reads: T5's encoder stack reads the padding bias
    ``[N, 1, 1, S]`` first but carries the hidden state ``[N, S, 512]``; a Llama layer
    also reads the mask and the rotary positions. A chain that starts inside the block
    (positions made from nothing) falls back to the value the block reads first."""
    inside = {id(node) for node in scope.walk_nodes()}
    walked: set[int] = set()
    ref = scope.output
    while ref is not None and id(ref.node) in inside:
        if not ref.node.inputs or id(ref.node) in walked:
            return scope.input
        walked.add(id(ref.node))
        ref = _carried(ref.node, ref, inside)
    return ref if ref is not None else scope.input


def short_name(scope: Scope) -> str:
    """A block's name inside the cluster of its parent: ``mlp``, not ``model.layers.0.mlp``
    (the cluster gives the context, and a folded box stands for every copy); a repeat copy
    keeps its repeat's name, ``layer1.0``."""
    if not scope.attr_name:
        return scope.path
    if scope.attr_name.isdigit() and scope.parent is not None and scope.parent.attr_name:
        return f"{scope.parent.attr_name}.{scope.attr_name}"
    return scope.attr_name


def max_depth(scope: Scope) -> int:
    return max((1 + max_depth(s) for s in scope.items if isinstance(s, Scope)), default=0)


def page_depth(graph, top: Scope, fold: bool, fuse: bool, boxes: int = PAGE_BOXES) -> int:
    """The deepest level whose drawing keeps the longest path within ``boxes`` (0: every
    top-level block one box)."""
    for depth in range(max_depth(top), 0, -1):
        if _Layout(graph, top, depth, fold, fuse).longest_path() <= boxes:
            return depth
    return 0


class _Drawing:
    def __init__(self, analysis, depth, shapes: bool, params: bool, fold: bool = True,
                 fuse: bool = True, block: str | None = None, legend: bool = False,
                 fields: dict | None = None, title_places: dict | None = None,
                 wrap: int | None = PAGE_BOXES, boxes: int = PAGE_BOXES):
        import graphviz

        self.graph = analysis.graph
        self.fields = fields or {}  # node id -> receptive Field, when asked for
        self.shapes, self.params, self.legend = shapes, params, legend
        self.top = self._focus(block) if block else self.graph.root
        self.problems: dict = {}
        for d in analysis.diagnostics:
            if d.node and d.severity in ("error", "warning"):
                self.problems.setdefault(d.node, []).append(d)
        if depth == "auto":
            depth = page_depth(self.graph, self.top, fold, fuse, boxes)
        elif depth == "all":
            depth = None
        self.layout = _Layout(self.graph, self.top, depth, fold, fuse)
        self.depth, self.wrap = depth, wrap
        self.dot = graphviz.Digraph("model")  # the model's name is shown escaped, never an ID
        self.ids: dict[str, str] = {}
        self.keys: dict[str, str] = {}  # Graphviz id -> box key
        # a drawing of top-level boxes only, still longer than ``wrap`` boxes, wraps into
        # columns (rows, left to right)
        self.columns = self.layout.columns(wrap) if depth == 0 and wrap else {}
        self.categories: set = set()
        # cluster name -> TITLE_PLACES entry, where the default top-left title is crossed
        self.title_places = title_places or {}

    def _focus(self, name: str) -> Scope:
        for scope in self.graph.root.walk_scopes():
            if scope.block == name or (scope.path == name and scope.kind != "model"):
                return scope
        blocks = sorted({s.block for s in self.graph.root.walk_scopes() if s.block})
        paths = [s.path for s in self.graph.root.walk_scopes() if s.kind != "model"]
        raise RenderError(f"no block or scope named {name!r}; blocks: "
                          f"{', '.join(blocks) or 'none'}; scopes: {', '.join(paths[:12])}")

    def gv_id(self, key: str) -> str:
        if key not in self.ids:
            self.ids[key] = f"n{len(self.ids)}"
            self.keys[self.ids[key]] = key
        return self.ids[key]

    # -- nodes ------------------------------------------------------------------
    def node_label(self, node: Node, heading: Scope | None = None) -> str:
        args = readable_args(node)
        call = f"{node.op}({args})" if args else node.op
        if heading is not None:
            rows = [f"<B>{_esc(short_name(heading))}</B>"
                    + (f" <FONT POINT-SIZE='9'>({_esc(heading.block)})</FONT>"
                       if heading.block else ""), _esc(call)]
        elif node.named:
            rows = [f"<B>{_esc(node.attr_name)}</B>", _esc(call)]
        else:  # unnamed: the op is the title
            rows = [f"<B>{_esc(node.op)}</B>" + (f"({_esc(args)})" if args else "")]
        copies = self.layout.copies.get(node.id, 1)
        if copies > 1:
            rows[-1] += f" ×{copies}"
        fused = self.layout.fused.get(node.id, [])
        if fused:
            rows.append("<FONT POINT-SIZE='10'>" + _esc(" · ".join(
                n.op + (f"({readable_args(n)})" if n.op.startswith("Dropout") else "")
                for n in fused)) + "</FONT>")
        if self.params:
            count = node.params + sum(n.params for n in fused)
            if count:
                rows.append(f"<FONT POINT-SIZE='9'>{count:,} params</FONT>")
        last = fused[-1] if fused else node  # the box's output is its last op's
        if last.id in self.fields:
            rows.append(f"<FONT POINT-SIZE='9' COLOR='#1f5fa8'>"
                        f"{_esc(self.fields[last.id].label())}</FONT>")
        for n in [node, *fused]:
            for d in self.problems.get(n.id, []):
                rows.append(f"<FONT COLOR='#b00020'>{_esc(d.code)} {_esc(d.rule or '')}</FONT>")
        return _lines(rows)

    def add_node(self, target, node: Node, heading: Scope | None = None) -> None:
        category = _category(node)
        self.categories.add(category)
        attrs = {"shape": "box", "style": "rounded,filled",
                 "fillcolor": _COLORS.get(category, "#ffffff")}
        label = self.node_label(node, heading)
        if node.op in _SYMBOLS and not node.named and node.id not in self.problems:
            # an anonymous merge is drawn as a small operator circle: ⊕ is easy to spot
            attrs.update(shape="circle", width="0.35", fixedsize="true", style="filled")
            label = _SYMBOLS[node.op]
        if node.training_only:  # an aux head: drawn dashed, as it runs in training only
            attrs["style"] += ",dashed"
        fused = self.layout.fused.get(node.id, [])
        if any(n.id in self.problems or n.broken for n in [node, *fused]):
            attrs.update(color="#b00020", penwidth="2", fillcolor="#fde7ea")
        target.node(self.gv_id(node.id), label, **attrs)

    def add_collapsed(self, target, scope: Scope, copies: int, title: str | None = None) -> None:
        """One box for a block (and the ``copies`` identical copies folded into it); ``title``
        instead of the copies' range (``h`` for ``h.0–11``)."""
        source = main_input(scope)
        inp = source.type if source else None
        out = scope.output.type if scope.output else None
        kind = scope_label(scope)
        if copies > 1:
            kind = f"{kind} ×{copies}"
        if title is None:
            title = short_name(scope)
            if copies > 1 and scope.attr_name.isdigit():
                title = f"{title}–{copies - 1 + int(scope.attr_name)}"
        rows = [f"<B>{_esc(title)}</B>", _esc(kind),
                f"<FONT POINT-SIZE='9'>{_esc(inp)} → {_esc(out)}</FONT>",
                f"<FONT POINT-SIZE='9'>{scope_params(scope) * copies:,} params</FONT>"]
        bad = [n for n in scope.walk_nodes() if n.id in self.problems or n.broken]
        attrs = {"shape": "box3d", "style": "filled,dashed" if scope.training_only
                 else "filled", "fillcolor": "#eef2f7",
                 "margin": "0.15,0.1"}  # the title clear of the 3-d edge
        self.categories.add("block")
        if bad:
            codes = sorted({d.code for n in bad for d in self.problems.get(n.id, [])})
            rows.append(f"<FONT COLOR='#b00020'>{_esc(' '.join(codes) or 'error')}</FONT>")
            attrs.update(color="#b00020", penwidth="2")
        target.node(self.gv_id("scope:" + scope.path), _lines(rows), **attrs)

    def add_scope(self, target, scope: Scope, level: int) -> None:
        groups = _runs(scope.items) if self.layout.fold and scope.kind == "repeat" else \
            [[item] for item in scope.items]
        for run in groups:
            item = run[0]
            if isinstance(item, Node):
                if self.layout.box.get(item.id) == item.id:  # not written into another box
                    self.add_node(target, item)
            elif self.depth is not None and level >= self.depth:
                self.add_collapsed(target, item, len(run))
            elif self._single_box(item) and len(run) == 1:
                # a block whose inside is one box (conv + norm + activation): no cluster
                # around it, its name heads the box instead
                self.add_node(target, item.walk_nodes().__next__(), heading=item)
            elif (first := self._one_box_copy(item)) is not None:
                # a repeat whose copies all fold into one collapsed box (GPT-2's `h`,
                # GPT2Block ×12): the box says everything a cluster around it would. Copies
                # numbered 0..N-1 go by the repeat's name (`h`, not `h.0–11`); named ones
                # keep their range (`encoder_layer_0–11`)
                self.add_collapsed(target, first, len(item.items), title=short_name(item)
                                   if first.attr_name.isdigit() else None)
            elif len(run) == len(scope.items) > 1 and scope.kind == "repeat":
                # every copy folds into one: the repeat's own cluster already says
                # "(Block ×N)", a second cluster inside it would only repeat that
                self.add_scope(target, item, level + 1)
            else:
                name = f"cluster_{self.gv_id('cluster:' + item.path)}"
                with target.subgraph(name=name) as cluster:
                    title = short_name(item)  # the enclosing cluster names the rest
                    kind = item.block or (scope_label(item) if item.kind == "repeat" else "")
                    if len(run) > 1:
                        title = f"{title}–{run[-1].attr_name}"
                        kind = f"{kind} ×{len(run)}"
                    # the kind on a line of its own: a title half as wide leaves room
                    # beside it for the edges that enter or leave the cluster
                    label = _esc(title) + (f"<BR ALIGN='LEFT'/>({_esc(kind)})<BR ALIGN='LEFT'/>"
                                           if kind else "")
                    just, loc, pad = self.title_places.get(name, TITLE_PLACES[0])
                    if pad:  # a blank beside the title: see render_graph
                        cells = [f"<TD ALIGN='LEFT' BALIGN='LEFT'>{label}</TD>",
                                 f"<TD WIDTH='{pad}'></TD>"]
                        label = ("<TABLE BORDER='0' CELLPADDING='0' CELLSPACING='0'><TR>"
                                 + "".join(cells if just == "l" else cells[::-1])
                                 + "</TR></TABLE>")
                    # margin keeps the title inside the rounded border, clear of its corner
                    cluster.attr(label=_html(label), style="rounded,dashed", color="#8a94a6",
                                 fontname=_FONT, fontsize="10", labeljust=just, labelloc=loc,
                                 margin="10")
                    self.add_scope(cluster, item, level + 1)

    def _one_box_copy(self, scope: Scope) -> Scope | None:
        """The first copy of a repeat whose copies all fold into that copy's collapsed box."""
        first = scope.items[0] if scope.kind == "repeat" and len(scope.items) > 1 else None
        if not isinstance(first, Scope):
            return None
        boxes = {self.layout.box.get(n.id) for n in scope.walk_nodes()}
        return first if boxes == {"scope:" + first.path} else None

    def _single_box(self, scope: Scope) -> bool:
        boxes = {self.layout.box.get(n.id) for n in scope.walk_nodes()}
        return len(boxes) == 1 and next(iter(boxes)) == next(scope.walk_nodes()).id

    # -- edges --------------------------------------------------------------------
    def endpoint(self, node: Node) -> str:
        return self.gv_id(self.layout.box.get(node.id, node.id))

    def edge(self, ref: Ref, head: str, seen: set) -> None:
        tail = self.endpoint(ref.node)
        if tail == head or (tail, head) in seen:
            return
        seen.add((tail, head))
        label = str(ref.type) if self.shapes and ref.type is not None else ""
        if ref.index and ref.node.out_types:
            label = f"{ref.node.output_names[ref.index]} {label}".strip()
        column = self.columns.get(self.keys[tail], 0)
        wraps = self.columns.get(self.keys[head], column) > column  # into the next column
        self.dot.edge(tail, head, label=_html(_esc(label)) if label else "", fontsize="9",
                      fontname=_FONT, color="#555555", **({"constraint": "false"} if wraps else {}))

    def draw(self, rankdir: str, dpi: int | None = None, size: str = PAGE_INCHES):
        # left to right, each shape on an edge sits between two rank gaps: half as wide
        ranksep = "0.15" if rankdir in ("LR", "RL") else "0.3"
        self.dot.attr(rankdir=rankdir, fontname=_FONT, nodesep="0.25", ranksep=ranksep,
                      # a merge's inputs left to right in the spec's order (GPT-2's wte
                      # before wpe); `newrank` ranks clusters with the rest, without
                      # which Graphviz ignores that order inside them
                      ordering="in", newrank="true",
                      label=_html(self._title()), labelloc="t")
        self.dot.attr(size=size)  # only ever shrinks a drawing, never enlarges
        if dpi:
            self.dot.attr(dpi=str(dpi))
        self.dot.attr("node", fontname=_FONT, fontsize=str(LABEL_POINTS), margin="0.12,0.05")
        inside = {n.id for n in self.top.walk_nodes()}
        if self.top is self.graph.root:
            for node in self.graph.inputs:
                label = _lines([f"<B>{_esc(node.id)}</B>", _esc(node.out_types[0])])
                self.dot.node(self.gv_id(node.id), label, shape="oval", style="filled",
                              fillcolor="#d7f0dd")
            inside |= {n.id for n in self.graph.inputs}
        self.add_scope(self.dot, self.top, 0)
        seen: set = set()
        for node in self.graph.nodes:
            if node.id not in inside:
                continue
            head = self.endpoint(node)
            for ref in node.inputs:
                if ref.node.id not in inside:  # --block: what flows in from outside
                    self._outside_input(ref)
                elif self.layout.crosses_copies(ref.node, node):
                    continue
                self.edge(ref, head, seen)
        outputs = self.graph.outputs if self.top is self.graph.root else \
            [("output", self.top.output)] if self.top.output else []
        for name, ref in outputs:
            gid = self.gv_id("output:" + name)
            # a model's outputs have names (`logits`); a block's one output needs no second word
            rows = [f"<B>{_esc(name)}</B>"] + (["output"] if self.top is self.graph.root else [])
            self.dot.node(gid, _lines(rows), shape="oval",
                          style="filled", fillcolor="#f9dcc4", peripheries="2")
            self.edge(ref, gid, seen)
        if self.columns:
            # the columns in order, left to right (rows top to bottom): their first boxes
            # on one rank, chained by invisible edges, which Graphviz keeps in their order
            with self.dot.subgraph() as firsts:
                firsts.attr(rank="same")
                boxes = [self.gv_id(box) for box in self.layout.column_firsts]
                for tail, head in zip(boxes, boxes[1:]):
                    firsts.edge(tail, head, style="invis")
        if self.legend:
            self._legend()
        return self.dot

    def _title(self) -> str:
        """The model's name; with --block, what is drawn: `BasicBlock (layer1.0) · resnet18`."""
        title = f"<B>{_esc(self.graph.name)}</B>"
        if self.top is self.graph.root:
            return title
        where = _esc(self.top.path)
        what = f"<B>{_esc(self.top.block)}</B> ({where})" if self.top.block else f"<B>{where}</B>"
        return f"{what} · {title}"

    def _outside_input(self, ref: Ref) -> None:
        key = ref.node.id
        if key in self.layout.box:
            return
        self.layout.box[key] = "outside:" + key
        label = _lines([f"<B>{_esc(ref)}</B>", _esc(ref.type)])
        self.dot.node(self.gv_id("outside:" + key), label, shape="oval", style="filled",
                      fillcolor="#d7f0dd")

    def _legend(self) -> None:
        shown = [c for c in _LEGEND_NAMES if c in self.categories]
        rows = "".join(
            f"<TR><TD BGCOLOR='{_COLORS.get(c, '#eef2f7')}' WIDTH='14'> </TD>"
            f"<TD ALIGN='LEFT'>{_esc(_LEGEND_NAMES[c])}</TD></TR>" for c in shown)
        with self.dot.subgraph(name="cluster_legend") as legend:
            legend.attr(label="", style="invis", rank="sink")
            legend.node(self.gv_id("legend"), _html(f"<TABLE BORDER='0' CELLBORDER='1' "
                        f"CELLSPACING='2'>{rows}</TABLE>"), shape="plaintext", fontsize="9")


def render_graph(analysis, depth="auto", rankdir: str = "TB", shapes: bool = True,
                 params: bool = False, receptive_field: bool = False, *, fold: bool = True,
                 fuse: bool = True, block: str | None = None, legend: bool = False,
                 dpi: int | None = None, notes: list[str] | None = None):
    """A graphviz.Digraph of an analysis (a spec with errors renders too, marked).

    ``depth``: "auto" (default: fits a page), "all", or how many levels of blocks to open;
    ``fold``: identical consecutive repeat copies drawn once, ``×N``; ``fuse``: norms,
    activations and dropouts written into the box of the layer they follow; ``block``:
    draw only the inside of the first instance of that block (or scope path);
    ``receptive_field`` annotates spatial nodes with their field size and stride;
    ``notes`` receives a line when the drawing is larger than a page (see
    :data:`MIN_LABEL_POINTS`)."""
    if analysis.graph is None:
        raise RenderError("the spec could not be read far enough to draw it")
    fields = None
    if receptive_field:
        from specc.analyses.receptive_field import receptive_fields

        fields = receptive_fields(analysis.graph)

    def drawing(depth, wrap: int | None, places: dict | None = None,
                boxes: int = PAGE_BOXES) -> _Drawing:
        return _Drawing(analysis, depth, shapes, params, fold, fuse, block, legend, fields,
                        places, wrap, boxes)

    depth_drawn, wrap, dot, layout = _fitted(drawing, depth, rankdir, dpi)
    places: dict = {}
    crossed, widths = _title_layout(layout)
    # Graphviz routes edges straight through cluster titles (Llama's embed_tokens →
    # input_layernorm ran through "layers (LlamaDecoderLayer ×32)"): a crossed title moves
    # to the corner, of the four, that the fewest edges cross in the laid-out drawing; where
    # every corner is crossed (TCN's one chain runs down the middle of a cluster hardly wider
    # than its title), a blank as wide as the title beside it widens the cluster, whose
    # contents Graphviz centres, clear of the title
    for cluster in sorted(crossed)[:TITLE_MOVES]:  # a few extra layouts, at most
        if cluster not in crossed:  # cleared by moving another title
            continue
        pad = round(widths[cluster]) + TITLE_CLEARANCE * 4
        best = (crossed, dot, places, layout)
        for place in [*TITLE_PLACES[1:], *((*corner[:2], pad) for corner in TITLE_PLACES)]:
            if cluster not in best[0]:
                break
            trial = {**places, cluster: place}
            drawn = drawing(depth_drawn, wrap, trial).draw(rankdir, dpi)
            trial_layout = _laid_out(drawn.source)
            count, _ = _title_layout(trial_layout)
            if (sum(count.values()), cluster in count) < (sum(best[0].values()),
                                                           cluster in best[0]):
                best = (count, drawn, trial, trial_layout)
        crossed, dot, places, layout = best
    scale = page_scale(layout)
    if scale < MIN_SCALE:  # the page would shrink the labels below readable: grow instead
        width, height = natural_size(layout)
        inches = [math.ceil(v * MIN_SCALE / 72 * 100) / 100 for v in (width, height)]
        dot = drawing(depth_drawn, wrap, places).draw(rankdir, dpi, size="%g,%g" % (*inches,))
        if notes is not None:
            page = " × ".join(PAGE_INCHES.split(","))
            how = ("--depth auto draws a smaller one, fitted to a page" if depth != "auto"
                   else "no depth of this model fits a page at that size" +
                   ("; --rankdir TB may" if rankdir in ("LR", "RL") else ""))
            notes.append(f"the figure is {inches[0]:g} × {inches[1]:g} in, larger than a page "
                         f"({page} in), so that its labels print at {MIN_LABEL_POINTS:g} pt "
                         f"(on a page: {scale * LABEL_POINTS:.1f} pt); {how}")
    return dot


def _fitted(drawing, depth, rankdir: str, dpi: int | None):
    """(depth, wrap, DOT, its layout) of the drawing to make: the depth asked for, or with
    ``depth="auto"`` the deepest whose longest path fits a page (PAGE_BOXES down, or
    PAGE_BOXES_ACROSS left to right), made shallower, then wrapped into columns (rows) of
    that many boxes, then fewer, until the laid-out drawing fits a page at MIN_SCALE or
    more (the largest scale tried where none does). A drawing that fits is not wrapped: a
    U-Net's skips would criss-cross the columns."""
    boxes = PAGE_BOXES_ACROSS if rankdir in ("LR", "RL") else PAGE_BOXES
    first = drawing(depth, boxes if depth != "auto" else None, boxes=boxes)
    dot = first.draw(rankdir, dpi)
    layout = _laid_out(dot.source)
    tried = [(page_scale(layout), first.depth, first.wrap, dot, layout)]
    if depth != "auto" or layout is None:
        return tried[0][1:]
    depth, wrap, drawn = first.depth, None, [(first.depth, first.columns)]
    while tried[-1][0] < MIN_SCALE:
        if depth > 0:
            depth -= 1  # a shallower drawing is shorter, and narrower
        elif wrap is None or wrap > 2:
            wrap = boxes if wrap is None else wrap - 1  # shorter columns, more of them
        else:
            break
        again = drawing(depth, wrap)
        if (depth, again.columns) in drawn:
            continue  # wrapped as before (or not at all): the same layout
        drawn.append((depth, again.columns))
        dot = again.draw(rankdir, dpi)
        layout = _laid_out(dot.source)
        tried.append((page_scale(layout), depth, wrap, dot, layout))
    return max(tried, key=lambda t: t[0])[1:]  # the first of the best


def _laid_out(source: str) -> dict | None:
    """Graphviz's layout of a DOT source (`dot -Tjson`); None without Graphviz."""
    import json

    try:
        return json.loads(run_dot(source, "json"))
    except RenderError:
        return None


def natural_size(layout: dict | None) -> tuple[float, float]:
    """Width and height in points of a laid-out drawing before any page scales it."""
    if layout is None:
        return 0.0, 0.0
    left, bottom, right, top = map(float, layout["bb"].split(","))
    return right - left, top - bottom


def page_scale(layout: dict | None) -> float:
    """How much the page (PAGE_INCHES) shrinks a laid-out drawing: 1 where it fits."""
    width, height = natural_size(layout)
    page_w, page_h = (float(v) * 72 for v in PAGE_INCHES.split(","))
    return min(1.0, page_w / width if width else 1.0, page_h / height if height else 1.0)


# (labeljust, labelloc, points of blank beside the title)
TITLE_PLACES = [("l", "t", 0), ("r", "t", 0), ("l", "b", 0), ("r", "b", 0)]
TITLE_MOVES = 4  # crossed titles tried elsewhere: 7 layouts each at most
TITLE_CLEARANCE = 2.0  # points an edge keeps from a title's text not to touch it


def title_crossings(source: str) -> dict[str, int]:
    """Cluster name -> how many edges run through its title (the edge's line, its arrowhead
    or its label touches the title's text), in Graphviz's layout of a DOT source (empty
    without Graphviz: the drawing is then left as it is)."""
    return _title_layout(_laid_out(source))[0]


def _title_layout(layout: dict | None) -> tuple[dict[str, int], dict[str, float]]:
    """:func:`title_crossings` of a layout, and each cluster title's width in points."""
    if layout is None:
        return {}, {}
    titles: dict[str, list[tuple[float, float, float, float]]] = {}
    for obj in layout.get("objects", []):
        if obj.get("name", "").startswith("cluster_"):
            boxes = _text_boxes(obj.get("_ldraw_"))
            if boxes:
                titles[obj["name"]] = [(left - TITLE_CLEARANCE, right + TITLE_CLEARANCE,
                                        bottom - TITLE_CLEARANCE, top + TITLE_CLEARANCE)
                                       for left, right, bottom, top in boxes]
    widths = {name: max(b[1] for b in boxes) - min(b[0] for b in boxes) - 2 * TITLE_CLEARANCE
              for name, boxes in titles.items()}
    crossed: dict[str, int] = {}
    for edge in layout.get("edges", []) if titles else []:
        lines = [_bezier_points(op["points"]) for op in edge.get("_draw_", []) if op["op"] == "b"]
        lines += [[*op["points"], op["points"][0]] for key in ("_hdraw_", "_tdraw_")
                  for op in edge.get(key, []) if op["op"] in ("P", "p")]  # arrowheads
        labels = _text_boxes(edge.get("_ldraw_"))
        for name, boxes in titles.items():
            if any(_segment_hits(a, b, box) for line in lines for a, b in zip(line, line[1:])
                   for box in boxes) or any(_overlap(label, box) for label in labels
                                            for box in boxes):
                crossed[name] = crossed.get(name, 0) + 1
    return crossed, widths


def _text_boxes(ops) -> list[tuple[float, float, float, float]]:
    """(left, right, bottom, top) of each line of text an xdot drawing writes."""
    boxes, size = [], 14.0
    for op in ops or []:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T" and op["text"].strip():
            (x, y), width = op["pt"], float(op["width"])
            left = x - {"l": 0.0, "c": width / 2, "r": width}[op["align"]]
            boxes.append((left, left + width, y - 0.25 * size, y + 0.75 * size))  # descent
    return boxes


def _bezier_points(points: list) -> list[tuple[float, float]]:
    """A cubic B-spline as Graphviz writes it (1 + 3k control points), as a polyline."""
    line = [tuple(points[0])]
    for start in range(0, len(points) - 3, 3):
        (x0, y0), (x1, y1), (x2, y2), (x3, y3) = points[start:start + 4]
        for step in range(1, _SAMPLES + 1):
            t = step / _SAMPLES
            a, b, c, d = (1 - t) ** 3, 3 * (1 - t) ** 2 * t, 3 * (1 - t) * t * t, t ** 3
            line.append((a * x0 + b * x1 + c * x2 + d * x3, a * y0 + b * y1 + c * y2 + d * y3))
    return line


def _overlap(a, b) -> bool:
    return a[0] < b[1] and b[0] < a[1] and a[2] < b[3] and b[2] < a[3]


def _segment_hits(p, q, box) -> bool:
    """Whether the segment p-q meets the rectangle (left, right, bottom, top): Liang-Barsky
    clipping, so a long straight piece that jumps over a thin title still counts."""
    (x0, y0), (x1, y1) = p, q
    dx, dy, low, high = x1 - x0, y1 - y0, 0.0, 1.0
    for step, room in ((-dx, x0 - box[0]), (dx, box[1] - x0), (-dy, y0 - box[2]),
                       (dy, box[3] - y0)):
        if step == 0:
            if room < 0:
                return False
        elif step < 0:
            low = max(low, room / step)
        else:
            high = min(high, room / step)
        if low > high:
            return False
    return True


_SAMPLES = 16  # polyline points per Bézier piece when testing an edge against a title


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
