"""Rules about how the model's outputs meet its loss (`loss:` / `task:` in the spec)."""
from __future__ import annotations

from specc.lint.registry import rule
from specc.lint.rules._paths import TRANSPARENT, producer
from specc.ops.activation import OUTPUT_RANGE

LOGIT_LOSSES = {"cross_entropy", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1", "huber"}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits"}
_DROPOUTS = {op for op in TRANSPARENT if "Dropout" in op}
_SOFTMAX_LIKE = {"Softmax", "LogSoftmax", "Sigmoid", "Softmin"}


def _outputs_with_loss(graph):
    """(output name, producing node, loss) for every output that has a loss."""
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        if loss:
            yield name, ref.node, loss


@rule("L201", "softmax-before-loss", "warning",
      "the output is already normalised but the loss normalises again",
      """
CrossEntropyLoss applies log_softmax itself and BCEWithLogitsLoss applies sigmoid itself:
feeding them probabilities squashes the gradients and the model trains badly or not at
all. NLLLoss expects log-probabilities, so it needs LogSoftmax, not Softmax.

Bad:   loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}, {op: Softmax, dim: 1}]
Good:  loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}]
Good:  loss: nll                layers: [..., {op: Linear, out_features: 10}, {op: LogSoftmax, dim: 1}]
""", "output raw logits for cross_entropy / bce_with_logits; use LogSoftmax for nll")
def softmax_before_loss(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node)
        bad = {"cross_entropy": {"Softmax", "LogSoftmax", "Softmin"},
               "bce_with_logits": {"Sigmoid"}, "nll": {"Softmax", "Softmin"}}.get(loss, set())
        if last.op in bad:
            yield last, (f"{last.op} feeds output '{name}' whose loss is {loss}, which "
                         f"normalises on its own")


@rule("L202", "double-softmax", "warning",
      "two softmax / log_softmax / sigmoid in a row",
      """
Applying a softmax (or sigmoid) to something that is already a probability distribution
flattens it towards uniform and kills the gradient.

Bad:   [{op: Softmax, dim: 1}, {op: Softmax, dim: 1}]
Good:  [{op: Softmax, dim: 1}]
""", "remove one of them")
def double_softmax(graph, facts):
    for node in graph.nodes:
        if node.op in _SOFTMAX_LIKE and node.inputs and node.out_types is not None:
            before = producer(node.inputs[0].node)
            if before.op in _SOFTMAX_LIKE:
                yield node, f"{node.op} is applied to the output of {before.op} ({before.id})"


@rule("L203", "missing-sigmoid-for-bce", "warning",
      "bce on an output that is not bounded to [0, 1]",
      """
BCELoss takes probabilities; on unbounded values it raises at run time (or produces nan).
Either end the model with Sigmoid, or (better, numerically) keep the logits and use
bce_with_logits.

Bad:   loss: bce               layers: [..., {op: Linear, out_features: 1}]
Good:  loss: bce_with_logits   layers: [..., {op: Linear, out_features: 1}]
""", "use loss: bce_with_logits, or end with Sigmoid")
def missing_sigmoid(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node)
        if loss == "bce" and OUTPUT_RANGE.get(last.op) != "unit":
            yield last, f"output '{name}' uses bce but comes from {last.op}, not a sigmoid"


_RESTRICTING = {op for op, r in OUTPUT_RANGE.items() if r in ("nonneg", "bounded", "nonpos")}


@rule("L204", "activation-on-output", "warning",
      "a range-restricting activation on logits or a regression output",
      """
Logits and regression targets range over all reals. A ReLU (or ReLU6, Tanh, Softplus, …)
on the output makes negative values impossible and gives zero gradient to every sample
whose output it clips.

Bad:   loss: cross_entropy   layers: [..., {op: Linear, out_features: 10}, ReLU]
Good:  loss: cross_entropy   layers: [..., {op: Linear, out_features: 10}]
""", "remove the activation after the last layer")
def activation_on_output(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        logits = loss in LOGIT_LOSSES
        regression = loss in REGRESSION_LOSSES or (loss is None and graph.task == "regression")
        last = producer(ref.node)
        if logits and last.op in _SOFTMAX_LIKE:
            continue  # softmax-before-loss reports these
        if (logits or regression) and last.op in _RESTRICTING:
            use = "logits" if logits else "a regression output"
            yield last, f"{last.op} restricts output '{name}', which is used as {use}"


@rule("L205", "loss-task-mismatch", "warning",
      "a classification loss on a regression task, or the other way round",
      """
`task:` says what the model predicts; the loss must fit it. Mean-squared error on class
labels, or cross-entropy on continuous targets, is almost always a mistake.

Bad:   task: regression       loss: cross_entropy
Good:  task: regression       loss: mse
""", "change the loss or the task")
def loss_task_mismatch(graph, facts):
    if graph.task not in ("classification", "regression", "multilabel"):
        return
    for name, node, loss in _outputs_with_loss(graph):
        wrong = (graph.task == "regression" and loss in CLASSIFICATION_LOSSES) or (
            graph.task in ("classification", "multilabel") and loss in REGRESSION_LOSSES)
        if wrong:
            yield node, f"task is {graph.task} but output '{name}' uses the {loss} loss"


@rule("L206", "dropout-on-output", "warning",
      "Dropout right before an output",
      """
Dropout on the model's output randomly zeroes predictions during training, which the loss
then punishes as errors. Dropout belongs before the last layer, not after it.

Bad:   [..., {op: Linear, out_features: 10}, {op: Dropout, p: 0.5}]
Good:  [..., {op: Dropout, p: 0.5}, {op: Linear, out_features: 10}]
""", "move the Dropout before the last weighted layer")
def dropout_on_output(graph, facts):
    for name, ref in graph.outputs:
        node = producer(ref.node, through=TRANSPARENT - _DROPOUTS)
        if node.op in _DROPOUTS and node.attrs.get("p", 0):
            yield node, f"{node.op} (p={node.attrs['p']}) feeds output '{name}' directly"
