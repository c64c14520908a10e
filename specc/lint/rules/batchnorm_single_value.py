"""L308 batchnorm-single-value: BatchNorm sees one value per channel."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import BATCH_NORMS


@rule(codes.BATCHNORM_SINGLE_VALUE)
def batchnorm_single_value(graph, facts):
    for node in graph.nodes:
        if node.op not in BATCH_NORMS or node.out_types is None:
            continue
        shape = node.inputs[0].type.shape
        values = [d for i, d in enumerate(shape) if i != 1]
        if all(isinstance(d, int) and d == 1 for d in values):
            yield node, f"{node.op} on {node.inputs[0].type} sees a single value per channel"
