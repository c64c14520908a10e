"""How values flow for the rules that follow a tensor: what to look through and which layout
a tensor is in. (How far a convolution stack sees is specc.analyses.receptive_field.)

"Look through what does not change the argument": a rule about what produced a value (a ReLU
at the output, a bias before a norm) must not be fooled by a Dropout, an Identity, a pool or
an upsampling in between — they keep the per-channel meaning and the sign of their input.
Affine norms (BatchNorm, InstanceNorm, GroupNorm) are affine maps per channel: they keep
linearity and symmetry between units, so rules about those look through them too.
"""
from __future__ import annotations

from specc.dims import Sym
from specc.ir import Node
from specc.lint.rules._paths import NORMS, OUTPUT_RANGE, TRANSPARENT

_SPATIAL = {f"{kind}{n}d" for kind in ("MaxPool", "AvgPool", "AdaptiveMaxPool", "AdaptiveAvgPool")
            for n in (1, 2, 3)}
# keep sign, range and per-channel meaning of their input
PASS_THROUGH = TRANSPARENT | _SPATIAL | {"Upsample"}
# per-channel affine maps (in eval; in training an affine map per batch)
AFFINE_NORMS = NORMS
SELF_ATTENTION = {"TransformerEncoderLayer", "TransformerDecoderLayer", "MultiheadAttention"}
RECURRENT = {"RNN", "LSTM", "GRU"}
# ops whose output puts the features on the LAST axis of a rank-3 tensor: (N, T, C)
FEATURES_LAST = {"Linear", "Embedding", "LayerNorm", "Bilinear"} | RECURRENT | SELF_ATTENTION
_ELEMENTWISE = None


def _elementwise() -> set:
    """Ops that keep the layout of their input (activations, dropout, identity)."""
    global _ELEMENTWISE
    if _ELEMENTWISE is None:
        _ELEMENTWISE = set(OUTPUT_RANGE) | TRANSPARENT - {"flatten", "Flatten", "reshape",
                                                          "view", "squeeze", "unsqueeze"}
    return _ELEMENTWISE


def back(node: Node, through: set) -> Node:
    """The node that really made this value, looking back through ``through`` ops."""
    seen = 0
    while node.op in through and node.inputs and seen < 10_000:
        node = node.inputs[0].node
        seen += 1
    return node


def forward(facts, node: Node, through: set) -> list[Node]:
    """The consumers of ``node``, looking forward through single-consumer ``through`` ops."""
    users = facts.users(node)
    seen = 0
    while len(users) == 1 and users[0].op in through and seen < 10_000:
        users = facts.users(users[0])
        seen += 1
    return users


def layout(node: Node) -> str | None:
    """'channels-first' for (N, C, *spatial) conv-family outputs, 'features-last' for (N, T, C)
    sequence features, None when unknown. Looks back through layout-keeping ops."""
    node = back(node, _elementwise())
    if node.op in FEATURES_LAST:
        return "features-last"
    if node.op.startswith(("Conv", "BatchNorm", "InstanceNorm")) or node.op in _SPATIAL \
            or node.op in ("GroupNorm", "Upsample", "PixelShuffle"):
        return "channels-first"
    return None


def is_self_attention(node: Node) -> bool:
    """A Transformer layer, or MultiheadAttention whose query is its key (not cross-attention)."""
    if node.op != "MultiheadAttention":
        return node.op in SELF_ATTENTION
    return len(node.inputs) == 1 or node.inputs[0] == node.inputs[1]


BATCH_NAMES = {"N", "B", "batch", "batch_size", "bs"}
TIME_NAMES = {"T", "L", "S", "seq", "seq_len", "time", "steps", "length"}


def is_batch_dim(dim, facts) -> bool:
    """Whether a size is the batch size. The graph's batch symbols are the leading dims of
    its inputs (or its `batch:`); a sequence-first layer (batch_first: false) reads its
    input's dim 0 as time and dim 1 as the batch, so a (T, N, F) model's batch is N."""
    batch = getattr(facts, "_batch_symbols", None)
    if batch is None:
        batch = facts._batch_symbols = _batch_symbols(facts.graph)
    return isinstance(dim, Sym) and str(dim) in batch


def _batch_symbols(graph) -> set:
    time_first, batch_second = set(), set()
    for node in graph.nodes:
        if node.attrs.get("batch_first") is False and node.inputs and node.inputs[0].type \
                is not None and node.inputs[0].type.rank == 3:
            first, second = (str(d) for d in node.inputs[0].type.shape[:2])
            if first not in BATCH_NAMES:  # names that contradict the flag: rnn-layout-mismatch
                time_first.add(first)
                batch_second.add(second)
    return (set(graph.batch_symbols) - time_first) | batch_second


def reaches(facts, node: Node, ops: set) -> bool:
    """Whether any node downstream of ``node`` is one of ``ops``.

    Answered from one reverse pass over the graph per set of ops, kept on ``facts``: a rule
    that asks for every node would otherwise walk the rest of the graph each time
    (quadratic)."""
    key = frozenset(ops)
    memo = getattr(facts, "_reaches", None)
    if memo is None:
        memo = facts._reaches = {}
    if key not in memo:
        downstream: set = set()  # ids of nodes with an `ops` node somewhere after them
        for n in reversed(facts.graph.nodes):  # graph order is topological
            if any(u.op in key or u.id in downstream for u in facts.users(n)):
                downstream.add(n.id)
        memo[key] = downstream
    return node.id in memo[key]
