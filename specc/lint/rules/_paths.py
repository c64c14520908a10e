"""Small graph helpers shared by the rules.

What an op *is* is declared on its OpDef (specc/ops/base.py: passes_through, weighted,
channel_norm, output_range, normalizes, spatial_rank, floors_windows, layout, keeps_meaning,
keeps_shape, batch_stats, saturates, encodes_position, sequence_masks, ..., is_dropout),
never inferred from its name; the name sets below (and in _flow.py) are views of those
traits, for rules that test membership.
"""
from __future__ import annotations

from specc.ir import Node
from specc.ops.base import OpDef, all_ops

_NOT_AN_OP = OpDef("input", "input", [], lambda ctx: [])  # model inputs: no traits


def op_of(node: Node) -> OpDef:
    """The node's OpDef (a trait-less stand-in for model inputs and broken nodes)."""
    return all_ops().get(node.op) or _NOT_AN_OP


def ops_where(trait) -> frozenset:
    return frozenset(name for name, op in all_ops().items() if trait(op))


# ops that pass values through unchanged in range and meaning (looked through by rules)
TRANSPARENT = ops_where(lambda op: op.passes_through)
DROPOUTS = ops_where(lambda op: op.is_dropout)
NORMS = ops_where(lambda op: op.channel_norm)  # subtract a per-channel (or group) mean
WEIGHTED = ops_where(lambda op: op.weighted)
SOFTMAX_LIKE = ops_where(lambda op: op.normalizes is not None)  # softmax- and sigmoid-like
SOFTMAXES = ops_where(lambda op: op.normalizes in ("softmax", "log_softmax"))  # over an axis
BATCH_NORMS = ops_where(lambda op: op.batch_stats)  # statistics over the batch
# a weight matrix over the last axis of one input (Linear, HF's Conv1D; not Bilinear)
LINEAR_MAPS = ops_where(lambda op: op.weighted and op.layout == "features-last"
                        and op.n_inputs == (1, 1))
FLOORING_WINDOWS = ops_where(lambda op: op.floors_windows)  # conv, max/avg pool
OUTPUT_RANGE = {name: op.output_range for name, op in all_ops().items() if op.output_range}


def producer(node: Node, through=TRANSPARENT) -> Node:
    """The node that really made this value, looking through pass-through ops."""
    seen = 0
    while node.op in through and node.inputs and seen < 10_000:
        node = node.inputs[0].node
        seen += 1
    return node


def single_consumer(facts, node: Node, through=TRANSPARENT):
    """The one node that consumes ``node`` (looking through pass-through ops), else None."""
    users = facts.users(node)
    seen = 0
    while len(users) == 1 and users[0].op in through and seen < 10_000:
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
