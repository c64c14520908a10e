"""L317 no-positional-encoding: self-attention over a sequence that carries no position."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import ATTENTION, RECURRENT, is_self_attention
from specc.lint.rules._paths import op_of


@rule(codes.NO_POSITIONAL_ENCODING)
def no_positional_encoding(graph, facts):
    for node in graph.nodes:
        if node.op not in ATTENTION or node.out_types is None \
                or not is_self_attention(node, facts):
            continue
        if not _has_position(node):
            yield node, (f"{node.id} ({node.op}) attends over a sequence with no positional "
                         "information: it cannot tell the order of its inputs")
        return  # the first attention decides; later layers inherit its input's positions


def _has_position(node) -> bool:
    stack, seen = [r.node for r in node.inputs], set()
    while stack:
        n = stack.pop()
        if n.id in seen:
            continue
        seen.add(n.id)
        op = op_of(n)
        if n.op in RECURRENT or op.encodes_position or (
                op.category == "conv" and _mixes_neighbours(n)):
            return True
        if op.category == "merge" and _adds_table(n):
            return True
        stack += [r.node for r in n.inputs]
    return False


def _mixes_neighbours(conv) -> bool:
    from specc.ops.ptypes import as_tuple

    k = as_tuple(conv.attrs["kernel_size"], 1)
    s = as_tuple(conv.attrs.get("stride", 1), 1)
    return any(ki > si for ki, si in zip(k, s))


def _adds_table(merge) -> bool:
    """A merge with a learned table that varies along the sequence, or two embeddings."""
    sources = [r for r in merge.inputs]
    embeddings = sum(1 for r in sources if op_of(r.node).category == "embedding")
    if merge.op == "add" and embeddings >= 2:
        return True
    for r in sources:
        if op_of(r.node).category == "parameter" and r.type is not None and r.type.rank >= 2 \
                and merge.op == "add" and any(isinstance(d, int) and d > 1
                                              for d in r.type.shape[:-1]):
            return True
    return False
