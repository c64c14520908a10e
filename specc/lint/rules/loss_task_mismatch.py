"""L205 loss-task-mismatch: a classification loss on a regression task, or the other way round."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH
from specc.lint.rules._losses import (
    CLASSIFICATION_LOSSES,
    CLASSIFICATION_TASKS,
    REGRESSION_LOSSES,
    outputs_with_loss,
    over_size_one,
)
from specc.lint.rules._paths import OUTPUT_RANGE, SOFTMAXES, producer


@rule(codes.LOSS_TASK_MISMATCH)
def loss_task_mismatch(graph, facts):
    for name, node, loss in outputs_with_loss(graph):
        last = producer(node, through=PASS_THROUGH)
        if graph.task == "regression" and loss in CLASSIFICATION_LOSSES:
            if loss == "bce_with_logits" or (loss == "bce" and OUTPUT_RANGE.get(last.op) == "unit"):
                continue  # bce on targets in [0, 1]: a reconstruction, a legitimate regression
            yield node, f"task is regression but output '{name}' uses the {loss} loss"
        elif graph.task in CLASSIFICATION_TASKS and loss in REGRESSION_LOSSES:
            yield node, f"task is {graph.task} but output '{name}' uses the {loss} loss"
        elif graph.task is None and loss in REGRESSION_LOSSES and last.op in SOFTMAXES \
                and not over_size_one(last):
            classes = last.inputs[0].type.shape[last.attrs["dim"]]
            yield node, (f"output '{name}' is a {last.op} over {classes} classes — a "
                         f"classification head — but its loss is {loss}")
