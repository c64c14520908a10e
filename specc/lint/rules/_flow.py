"""How values flow for the rules that follow a tensor: what to look through and which layout
a tensor is in. (How far a convolution stack sees is specc.analyses.receptive_field.)

"Look through what does not change the argument": a rule about what produced a value (a ReLU
at the output, a bias before a norm) must not be fooled by a Dropout, an Identity, a pool or
an upsampling in between — they keep the per-channel meaning and the sign of their input.
Affine norms (BatchNorm, InstanceNorm, GroupNorm) are affine maps per channel: they keep
linearity and symmetry between units, so rules about those look through them too.
"""
from __future__ import annotations

from collections.abc import Set

from specc.dims import Sym
from specc.ir import Node
from specc.lint.rules._paths import NORMS, TRANSPARENT, ops_where, op_of

# keep sign, range and per-channel meaning of their input (dropout, identity, reshapes,
# max/avg pooling, upsampling)
PASS_THROUGH = TRANSPARENT | ops_where(lambda op: op.keeps_meaning)
# per-channel affine maps (in eval; in training an affine map per batch)
AFFINE_NORMS = NORMS
# ops that attend over a sequence (the Transformer layers, MultiheadAttention, Attention,
# scaled_dot_product_attention)
ATTENTION = ops_where(lambda op: op.sequence_masks is not None)
RECURRENT = ops_where(lambda op: op.category == "recurrent")
# element-wise ops: the output has the input's layout (activations, dropout, identity, math)
KEEPS_LAYOUT = ops_where(lambda op: op.layout == "keeps")


def back(node: Node, through: Set[str]) -> Node:
    """The node that really made this value, looking back through ``through`` ops."""
    seen = 0
    while node.op in through and node.inputs and seen < 10_000:
        node = node.inputs[0].node
        seen += 1
    return node


def forward(facts, node: Node, through: Set[str]) -> list[Node]:
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
    made = op_of(back(node, KEEPS_LAYOUT)).layout
    return made if made in ("channels-first", "features-last") else None


def is_self_attention(node: Node, facts) -> bool:
    """An attention op that attends over its own first input: a Transformer layer, or
    MultiheadAttention / Attention / scaled_dot_product_attention whose keys come from the
    same stream as its queries (through their projections), not cross-attention."""
    op = op_of(node)
    return op.sequence_masks is not None and (op.self_and_cross
                                              or cross_attention_keys(node, facts) is None)


def cross_attention_keys(node: Node, facts):
    """The input an attention op takes its keys from when they are another stream than its
    queries (a decoder's memory); None when it attends over its own input."""
    op = op_of(node)
    key = op.key_input(node.attrs) if op.sequence_masks is not None else None
    if key is None or len(node.inputs) <= key:
        return None
    streams = _streams(facts)
    if op.self_and_cross or streams[node.inputs[0].node.id] != streams[node.inputs[key].node.id]:
        return node.inputs[key]
    return None


def _streams(facts) -> dict:
    """node id -> the model input (or source node) its first-input chain starts from: the
    stream a query or key tensor belongs to, through projections, head reshapes, rotary
    products and residual adds. One pass in graph order, kept on ``facts``."""
    streams = getattr(facts, "_streams", None)
    if streams is None:
        streams = facts._streams = {}
        for n in facts.graph.inputs:
            streams[n.id] = n.id
        for n in facts.graph.nodes:
            streams[n.id] = streams.get(n.inputs[0].node.id, n.id) if n.inputs else n.id
    return streams


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


def reaches(facts, node: Node, ops: Set[str]) -> bool:
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


def reaching_outputs(graph, skip=frozenset()) -> set:
    """Ids of the nodes whose output reaches a model output, walking back from the outputs
    once; ``skip`` holds (node id, input node id) edges not to walk (a memory input)."""
    reached: set = set()
    stack = [ref.node for _, ref in graph.outputs]
    while stack:
        node = stack.pop()
        if node.id in reached:
            continue
        reached.add(node.id)
        stack += [r.node for r in node.inputs if (node.id, r.node.id) not in skip]
    return reached
