"""Rules about how the model's outputs meet its loss (`loss:` / `task:` in the spec)."""
from __future__ import annotations

from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH
from specc.lint.rules._paths import DROPOUTS, OUTPUT_RANGE, SOFTMAX_LIKE, TRANSPARENT, producer

LOGIT_LOSSES = {"cross_entropy", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1", "huber"}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits"}
CLASSIFICATION_TASKS = {"classification", "multilabel", "segmentation"}


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


@rule(codes.SOFTMAX_BEFORE_LOSS)
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


@rule(codes.DOUBLE_SOFTMAX)
def double_softmax(graph, facts):
    for node in graph.nodes:
        if node.op in SOFTMAX_LIKE and node.inputs and node.out_types is not None:
            before = producer(node.inputs[0].node)
            if before.op in SOFTMAX_LIKE:
                yield node, f"{node.op} is applied to the output of {before.op} ({before.id})"


@rule(codes.MISSING_SIGMOID_FOR_BCE)
def missing_sigmoid(graph, facts):
    for name, node, loss in _outputs_with_loss(graph):
        last = producer(node)
        if loss == "bce" and OUTPUT_RANGE.get(last.op) != "unit":
            yield last, f"output '{name}' uses bce but comes from {last.op}, not a sigmoid"


_RESTRICTING = {op for op, r in OUTPUT_RANGE.items() if r in ("nonneg", "bounded", "nonpos")}


@rule(codes.ACTIVATION_ON_OUTPUT)
def activation_on_output(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        logits = loss in LOGIT_LOSSES or (loss is None and graph.task in CLASSIFICATION_TASKS)
        regression = loss in REGRESSION_LOSSES or (loss is None and graph.task == "regression")
        last = producer(ref.node, through=PASS_THROUGH)
        if logits and last.op in SOFTMAX_LIKE:
            continue  # softmax-before-loss reports these
        if (logits or regression) and last.op in _RESTRICTING:
            use = "logits" if logits else "a regression output"
            via = "" if last is ref.node else f" (through {ref.node.op})"
            yield last, f"{last.op} restricts output '{name}'{via}, which is used as {use}"


@rule(codes.LOSS_TASK_MISMATCH)
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


@rule(codes.DROPOUT_ON_OUTPUT)
def dropout_on_output(graph, facts):
    if not graph.loss and not graph.task:
        return  # a building block (embeddings, an encoder) may end in Dropout, as BERT's do
    for name, ref in graph.outputs:
        node = producer(ref.node, through=TRANSPARENT - DROPOUTS)
        if node.op in DROPOUTS and node.attrs.get("p", 0):
            yield node, f"{node.op} (p={node.attrs['p']}) feeds output '{name}' directly"
