"""L304 dropout-before-batchnorm: Dropout feeding BatchNorm."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import BATCH_NORMS, OUTPUT_RANGE, op_of, single_consumer


@rule(codes.DROPOUT_BEFORE_BATCHNORM)
def dropout_before_batchnorm(graph, facts):
    activations = set(OUTPUT_RANGE)
    for node in graph.nodes:
        if not op_of(node).is_dropout or not node.attrs.get("p"):
            continue
        nxt = single_consumer(facts, node, through=activations)
        if nxt is not None and nxt.op in BATCH_NORMS:
            yield nxt, f"{nxt.op} ({nxt.id}) normalises the output of {node.op} ({node.id})"
