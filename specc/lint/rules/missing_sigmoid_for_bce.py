"""L203 missing-sigmoid-for-bce: bce on an output that is not bounded to [0, 1]."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._losses import outputs_with_loss
from specc.lint.rules._paths import OUTPUT_RANGE, producer


@rule(codes.MISSING_SIGMOID_FOR_BCE)
def missing_sigmoid(graph, facts):
    for name, node, loss in outputs_with_loss(graph):
        last = producer(node)
        if loss == "bce" and OUTPUT_RANGE.get(last.op) != "unit":
            yield last, f"output '{name}' uses bce but comes from {last.op}, not a sigmoid"
