"""L202 double-softmax: two softmax / log_softmax / sigmoid in a row."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import SOFTMAX_LIKE, producer


@rule(codes.DOUBLE_SOFTMAX)
def double_softmax(graph, facts):
    for node in graph.nodes:
        if node.op in SOFTMAX_LIKE and node.inputs and node.out_types is not None:
            before = producer(node.inputs[0].node)
            if before.op in SOFTMAX_LIKE:
                yield node, f"{node.op} is applied to the output of {before.op} ({before.id})"
