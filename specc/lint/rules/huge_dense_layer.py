"""L312 huge-dense-layer: one Linear layer holds most of the model's parameters."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import LINEAR_MAPS


@rule(codes.HUGE_DENSE_LAYER)
def huge_dense_layer(graph, facts):
    total = sum(n.params for n in graph.nodes)
    for node in graph.nodes:
        if node.op in LINEAR_MAPS and node.params > 10_000_000 and node.params * 2 > total:
            yield node, f"{node.id} has {node.params:,} of the model's {total:,} parameters"
