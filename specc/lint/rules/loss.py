"""Rules about how the model's outputs meet its loss (`loss:` / `task:` in the spec)."""
from __future__ import annotations

from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import op_of, passes_through, producer

LOGIT_LOSSES = {"cross_entropy", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1", "huber"}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits"}
# loss -> the normalisations (OpDef.normalizes) it does itself, so its input must not have
_NORMALISES_AGAIN = {"cross_entropy": {"softmax", "log_softmax"},
                     "bce_with_logits": {"sigmoid"}, "nll": {"softmax"}}


def _normalizes(node) -> str | None:
    return op_of(node).normalizes


def _outputs_with_loss(graph):
    """(output name, producing node, loss) for every output that has a loss."""
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        if loss:
            yield name, ref.node, loss


@rule(codes.SOFTMAX_BEFORE_LOSS)
def softmax_before_loss(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node)
        if _normalizes(last) in _NORMALISES_AGAIN.get(loss, ()):
            yield last, (f"{last.op} feeds output '{name}' whose loss is {loss}, which "
                         f"normalises on its own")


@rule(codes.DOUBLE_SOFTMAX)
def double_softmax(graph, facts):
    for node in graph.nodes:
        if _normalizes(node) and node.inputs and node.out_types is not None:
            before = producer(node.inputs[0].node)
            if _normalizes(before):
                yield node, f"{node.op} is applied to the output of {before.op} ({before.id})"


@rule(codes.MISSING_SIGMOID_FOR_BCE)
def missing_sigmoid(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node)
        if loss == "bce" and op_of(last).output_range != "unit":
            yield last, f"output '{name}' uses bce but comes from {last.op}, not a sigmoid"


_RESTRICTING = ("nonneg", "bounded", "nonpos")  # output ranges that clip real values


@rule(codes.ACTIVATION_ON_OUTPUT)
def activation_on_output(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        logits = loss in LOGIT_LOSSES
        regression = loss in REGRESSION_LOSSES or (loss is None and graph.task == "regression")
        last = producer(ref.node)
        if logits and _normalizes(last):
            continue  # softmax-before-loss reports these
        if (logits or regression) and op_of(last).output_range in _RESTRICTING:
            use = "logits" if logits else "a regression output"
            yield last, f"{last.op} restricts output '{name}', which is used as {use}"


@rule(codes.LOSS_TASK_MISMATCH)
def loss_task_mismatch(graph, facts):
    if graph.task not in ("classification", "regression", "multilabel"):
        return
    for name, node, loss in _outputs_with_loss(graph):
        wrong = (graph.task == "regression" and loss in CLASSIFICATION_LOSSES) or (
            graph.task in ("classification", "multilabel") and loss in REGRESSION_LOSSES)
        if wrong:
            yield node, f"task is {graph.task} but output '{name}' uses the {loss} loss"


@rule(codes.DROPOUT_ON_OUTPUT)
def dropout_on_output(graph, facts):
    for name, ref in graph.outputs:
        node = producer(ref.node, through=lambda n: passes_through(n) and not op_of(n).is_dropout)
        if op_of(node).is_dropout and node.attrs.get("p", 0):
            yield node, f"{node.op} (p={node.attrs['p']}) feeds output '{name}' directly"
