"""Rules about how the model's outputs meet its loss (`loss:` / `task:` in the spec)."""
from __future__ import annotations

from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH
from specc.lint.rules._paths import TRANSPARENT, producer
from specc.ops.activation import OUTPUT_RANGE

LOGIT_LOSSES = {"cross_entropy", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1", "huber"}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits"}
CLASSIFICATION_TASKS = {"classification", "multilabel", "segmentation"}
_DROPOUTS = {op for op in TRANSPARENT if "Dropout" in op}
_SOFTMAX_LIKE = {"Softmax", "LogSoftmax", "Sigmoid", "Softmin"}


def _outputs_with_loss(graph):
    """(output name, producing node, loss) for every output that has a loss."""
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        if loss:
            yield name, ref.node, loss


# What each loss expects, and what it makes of an output that was already normalised.
# (loss, op at the output) -> why that is wrong.  One table: the rule and its docs read it.
ACTIVATION_VS_LOSS = {
    ("cross_entropy", "Softmax"): "cross_entropy applies log_softmax itself: on probabilities "
                                  "it squashes the gradients and trains badly or not at all",
    ("cross_entropy", "Softmin"): "cross_entropy applies log_softmax itself and expects raw "
                                  "logits, not probabilities",
    ("cross_entropy", "LogSoftmax"): "cross_entropy applies log_softmax itself; a LogSoftmax "
                                     "before it is redundant (log_softmax is idempotent), not "
                                     "fatal — drop it, or use nll",
    ("cross_entropy", "Sigmoid"): "cross_entropy expects raw logits; a sigmoid squashes them "
                                  "into (0, 1), so the softmax over them is nearly uniform and "
                                  "the gradients vanish",
    ("bce_with_logits", "Sigmoid"): "bce_with_logits applies the sigmoid itself: this one "
                                    "squashes twice and the loss can never reach 0",
    ("bce_with_logits", "Softmax"): "bce_with_logits applies an independent sigmoid per label "
                                    "and expects raw logits; a softmax makes the labels compete "
                                    "(they sum to 1)",
    ("bce", "Softmax"): "bce scores each label independently; a softmax makes the labels "
                        "compete (they sum to 1), so two true labels can never both be 1 — "
                        "use Sigmoid",
}
for _loss in ("nll", "kl_div", "ctc"):
    for _op in ("Softmax", "Sigmoid", "Softmin"):
        ACTIVATION_VS_LOSS[(_loss, _op)] = (
            f"{_loss} expects log-probabilities (it does not normalise its input); {_op} gives "
            "probabilities — use LogSoftmax")


@rule("L201", "softmax-before-loss", "warning",
      "the output activation does not fit the loss",
      """
Each loss expects one kind of output. cross_entropy and bce_with_logits take raw logits and
normalise them themselves (log_softmax, sigmoid): feeding them probabilities squashes the
gradients. nll, kl_div and ctc take log-probabilities (LogSoftmax) and do not normalise
anything. Multi-label bce takes independent probabilities (Sigmoid), not a softmax.
LogSoftmax before cross_entropy is redundant rather than wrong.

Bad:   loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}, {op: Softmax, dim: 1}]
Good:  loss: cross_entropy      layers: [..., {op: Linear, out_features: 10}]
Good:  loss: nll                layers: [..., {op: Linear, out_features: 10}, {op: LogSoftmax, dim: 1}]
""", "output raw logits for cross_entropy / bce_with_logits; LogSoftmax for nll, kl_div, ctc; "
     "Sigmoid for multi-label bce")
def softmax_before_loss(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node, through=PASS_THROUGH)
        why = ACTIVATION_VS_LOSS.get((loss, last.op))
        if why is None or _over_size_one(last):
            continue  # a softmax over one entry is softmax-size-one's finding
        yield last, f"{last.op} feeds output '{name}' whose loss is {loss}: {why}"


def _over_size_one(node) -> bool:
    if node.op not in ("Softmax", "LogSoftmax", "Softmin") or not node.inputs:
        return False
    t = node.inputs[0].type
    dim = node.attrs.get("dim")
    return t is not None and dim is not None and t.rank > 0 and t.shape[dim % t.rank] == 1


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
        logits = loss in LOGIT_LOSSES or (loss is None and graph.task in CLASSIFICATION_TASKS)
        regression = loss in REGRESSION_LOSSES or (loss is None and graph.task == "regression")
        last = producer(ref.node, through=PASS_THROUGH)
        if logits and last.op in _SOFTMAX_LIKE:
            continue  # softmax-before-loss reports these
        if (logits or regression) and last.op in _RESTRICTING:
            use = "logits" if logits else "a regression output"
            via = "" if last is ref.node else f" (through {ref.node.op})"
            yield last, f"{last.op} restricts output '{name}'{via}, which is used as {use}"


@rule("L205", "loss-task-mismatch", "warning",
      "a classification loss on a regression task, or the other way round",
      """
`task:` says what the model predicts; the loss must fit it. Mean-squared error on class
labels, or cross-entropy on continuous targets, is almost always a mistake.

Without `task:`, the head says it: a Softmax over classes is a classification head, whatever
the loss. (bce on a Sigmoid output under `task: regression` is a [0, 1] reconstruction and
fine.)

Bad:   task: regression       loss: cross_entropy
Good:  task: regression       loss: mse
""", "change the loss or the task: cross_entropy on raw logits for classes, mse/l1 for values")
def loss_task_mismatch(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node, through=PASS_THROUGH)
        if graph.task == "regression" and loss in CLASSIFICATION_LOSSES:
            if loss == "bce_with_logits" or (loss == "bce" and OUTPUT_RANGE.get(last.op) == "unit"):
                continue  # bce on targets in [0, 1]: a reconstruction, a legitimate regression
            yield node, f"task is regression but output '{name}' uses the {loss} loss"
        elif graph.task in CLASSIFICATION_TASKS and loss in REGRESSION_LOSSES:
            yield node, f"task is {graph.task} but output '{name}' uses the {loss} loss"
        elif graph.task is None and loss in REGRESSION_LOSSES and last.op in ("Softmax",
                                                                               "LogSoftmax") \
                and not _over_size_one(last):
            classes = last.inputs[0].type.shape[last.attrs["dim"]]
            yield node, (f"output '{name}' is a {last.op} over {classes} classes — a "
                         f"classification head — but its loss is {loss}")


@rule("L206", "dropout-on-output", "warning",
      "Dropout right before an output",
      """
Dropout on the model's output randomly zeroes predictions during training, which the loss
then punishes as errors. Dropout belongs before the last layer, not after it.

Bad:   [..., {op: Linear, out_features: 10}, {op: Dropout, p: 0.5}]
Good:  [..., {op: Dropout, p: 0.5}, {op: Linear, out_features: 10}]
""", "move the Dropout before the last weighted layer")
def dropout_on_output(graph, facts):
    if not graph.loss and not graph.task:
        return  # a building block (embeddings, an encoder) may end in Dropout, as BERT's do
    for name, ref in graph.outputs:
        node = producer(ref.node, through=TRANSPARENT - _DROPOUTS)
        if node.op in _DROPOUTS and node.attrs.get("p", 0):
            yield node, f"{node.op} (p={node.attrs['p']}) feeds output '{name}' directly"
