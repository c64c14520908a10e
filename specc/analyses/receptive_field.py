"""Receptive fields of spatial and temporal nodes (Araujo, Norris & Sim, "Computing
Receptive Fields of Convolutional Neural Networks", Distill 2019).

Per spatial dim a field is (size r, jump j, start s): output position u of the node
reads input positions [s + u·j, s + u·j + r − 1] of the model input (positions outside
the image are padding). A sliding window (k, stride t, padding p, dilation d) maps
r' = r + (k − 1)·d·j, j' = j·t, s' = s − p·j. A transposed window reads input
positions ⌈(u + p − (k − 1)d)/t⌉ … ⌊(u + p)/t⌋: j' = j/t, s' = s + j·(p − (k − 1)d)/t,
r' = r + j·(k − 1)·d/t — the interval's hull, so sizes and starts may be fractions
(the exact integer field at one position is :func:`field_at`). Branches merge by the
hull of their intervals (the max of their fields when aligned). The TCN rule
L·(k − 1) + 1 is the case of L stride-1 convolutions.

Fields start at float model inputs of rank 3 to 5 ((N, C, *spatial)); an op declares on
its OpDef whether it keeps positions (``receptive``): point-wise, a window per dim, or
None (it mixes positions: flatten, linear over a spatial dim, adaptive pools...), after
which the field is undefined.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from specc.ir import Graph, Node, Ref
from specc.ops.base import POINTWISE, Window, get_op


@dataclass(frozen=True)
class Field:
    """Per spatial dim: size, jump (effective stride) and start of the field."""

    size: tuple
    stride: tuple
    start: tuple

    def to_json(self) -> dict:
        return {"size": [_number(v) for v in self.size],
                "stride": [_number(v) for v in self.stride],
                "start": [_number(v) for v in self.start]}

    def label(self) -> str:
        sizes = [_number(v) for v in self.size]
        strides = [_number(v) for v in self.stride]
        size = str(sizes[0]) if len(set(sizes)) == 1 else "×".join(map(str, sizes))
        stride = str(strides[0]) if len(set(strides)) == 1 else "×".join(map(str, strides))
        return f"RF {size}, stride {stride}"


def _number(value: Fraction):
    return int(value) if value.denominator == 1 else round(float(value), 4)


def _through(field: Field, windows: list[Window]) -> Field:
    size, stride, start = [], [], []
    for r, j, s, w in zip(field.size, field.stride, field.start, windows):
        span = (w.kernel - 1) * w.dilation
        if w.transposed:
            size.append(r + j * Fraction(span, w.stride))
            stride.append(j / w.stride)
            start.append(s + j * Fraction(w.padding - span, w.stride))
        else:
            size.append(r + span * j)
            stride.append(j * w.stride)
            start.append(s - w.padding * j)
    return Field(tuple(size), tuple(stride), tuple(start))


def _merge(fields: list[Field]) -> Field:
    """The hull of the branches' intervals; if their jumps differ, the largest field."""
    if len(fields) == 1 or any(f.stride != fields[0].stride for f in fields):
        return max(fields, key=lambda f: sum(f.size))
    start = tuple(min(f.start[i] for f in fields) for i in range(len(fields[0].size)))
    end = tuple(max(f.start[i] + f.size[i] for f in fields) for i in range(len(start)))
    return Field(tuple(e - s for s, e in zip(start, end)), fields[0].stride, start)


def receptive_fields(graph: Graph) -> dict:
    """node id -> Field for every node whose output keeps the input's positions."""
    fields = _value_fields(graph)
    return {ref.node.id: field for ref, field in fields.items()
            if ref.index == 0 and ref.node.op != "input"}


def _value_fields(graph: Graph) -> dict:
    """Ref -> Field for every value that carries positions."""
    fields: dict = {}
    for node in graph.inputs:
        t = node.out_types[0] if node.out_types else None
        if t is not None and t.is_float and 3 <= t.rank <= 5:
            nd = t.rank - 2
            fields[node.ref] = Field((Fraction(1),) * nd, (Fraction(1),) * nd,
                                     (Fraction(0),) * nd)
    for node in graph.nodes:
        if node.out_types is None:
            continue
        field = _node_field(node, fields)
        if field is None:
            continue
        for index, t in enumerate(node.out_types):
            if t.rank == len(field.size) + 2:  # (N, C, *spatial) outputs keep positions
                fields[Ref(node, index)] = field
    return fields


def _rule(node: Node, nd: int):
    op = get_op(node.op)
    rule = op.receptive if op is not None else None  # an unknown op: positions unknown
    return rule(node.attrs, nd) if callable(rule) else rule


def _node_field(node: Node, fields: dict) -> Field | None:
    incoming = [fields[r] for r in node.inputs if r in fields]
    if not incoming:
        return None
    nd = len(incoming[0].size)
    if any(len(f.size) != nd for f in incoming):
        return None
    for ref in node.inputs:  # another positional input we know nothing about: unknown
        t = ref.type
        if ref not in fields and t is not None and t.rank == nd + 2 and \
                ref.node.op != "parameter" and any(d != 1 for d in t.shape[2:]):
            return None
    rule = _rule(node, nd)
    if rule is None:
        return None
    merged = _merge(incoming)
    return merged if rule == POINTWISE else _through(merged, rule)


def field_at(graph: Graph, node_id: str, position: tuple) -> list[tuple[int, int]] | None:
    """The exact input interval [first, last] per spatial dim that output ``position`` of
    ``node_id`` reads (integer rounding at every transposed window; unclipped)."""
    fields = _value_fields(graph)
    node = next((n for n in graph.nodes if n.id == node_id), None)
    if node is None or node.ref not in fields:
        return None
    memo: dict = {}

    def back(node: Node, lo: tuple, hi: tuple) -> list:
        """Map an interval of the node's output back to the model input."""
        key = (id(node), lo, hi)
        if key not in memo:
            if node.op == "input":
                memo[key] = list(zip(lo, hi))
            else:
                rule = _rule(node, len(lo))
                if rule != POINTWISE:
                    lo, hi = _window_back(rule, lo, hi)
                spans = [back(r.node, lo, hi) for r in node.inputs if r in fields]
                memo[key] = [(min(s[i][0] for s in spans), max(s[i][1] for s in spans))
                             for i in range(len(lo))]
        return memo[key]

    return back(node, tuple(position), tuple(position))


def _window_back(windows: list[Window], lo: tuple, hi: tuple):
    new_lo, new_hi = [], []
    for w, a, b in zip(windows, lo, hi):
        span = (w.kernel - 1) * w.dilation
        if w.transposed:
            new_lo.append(-((-(a + w.padding - span)) // w.stride))
            new_hi.append((b + w.padding) // w.stride)
        else:
            new_lo.append(a * w.stride - w.padding)
            new_hi.append(b * w.stride - w.padding + span)
    return tuple(new_lo), tuple(new_hi)
