"""Small graph helpers shared by the rules. What an op *is* comes from its OpDef's traits
(specc/ops/base.py), never from its name."""
from __future__ import annotations

from typing import Callable

from specc.ir import Node
from specc.ops.base import OpDef, get_op

_NOT_AN_OP = OpDef("input", "input", [], lambda ctx: [])  # model inputs: no traits


def op_of(node: Node) -> OpDef:
    """The node's OpDef (a trait-less stand-in for model inputs and broken nodes)."""
    return get_op(node.op) or _NOT_AN_OP


def passes_through(node: Node) -> bool:
    return op_of(node).passes_through


def producer(node: Node, through: Callable[[Node], bool] = passes_through) -> Node:
    """The node that really made this value, looking through pass-through ops."""
    seen = 0
    while through(node) and node.inputs and seen < 10_000:
        node = node.inputs[0].node
        seen += 1
    return node


def single_consumer(facts, node: Node, through: Callable[[Node], bool] = passes_through):
    """The one node that consumes ``node`` (looking through pass-through ops), else None."""
    users = facts.users(node)
    seen = 0
    while len(users) == 1 and through(users[0]) and seen < 10_000:
        users = facts.users(users[0])
        seen += 1
    return users[0] if len(users) == 1 else None


def is_pointwise_conv(node: Node) -> bool:
    """A 1×1, stride-1, ungrouped convolution: a Linear over the channels."""
    from specc.ops.ptypes import as_tuple

    op = op_of(node)
    if not (op.floors_windows and op.weighted):  # a convolution, not a transposed one
        return False
    a = node.attrs
    return set(as_tuple(a["kernel_size"], 1)) == {1} and set(as_tuple(a["stride"], 1)) == {1} \
        and a["groups"] == 1
