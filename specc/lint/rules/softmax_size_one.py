"""L208 softmax-size-one: a softmax over an axis with one entry."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import SOFTMAXES, op_of


@rule(codes.SOFTMAX_SIZE_ONE)
def softmax_size_one(graph, facts):
    for node in graph.nodes:
        if node.op not in SOFTMAXES or node.out_types is None:
            continue
        t, dim = node.inputs[0].type, node.attrs.get("dim")
        if dim is not None and t.rank and t.shape[dim % t.rank] == 1:
            value = "0" if op_of(node).normalizes == "log_softmax" else "1"
            yield node, (f"{node.op} over dim {dim} of {t}, an axis of size 1: the result is "
                         f"always {value}"), node.attr_locs.get("dim")
