"""L201 softmax-before-loss: the output activation does not fit the loss."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH
from specc.lint.rules._losses import outputs_with_loss, over_size_one
from specc.lint.rules._paths import producer

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
    for name, node, loss in outputs_with_loss(graph):
        last = producer(node, through=PASS_THROUGH)
        why = ACTIVATION_VS_LOSS.get((loss, last.op))
        if why is None or over_size_one(last):
            continue  # a softmax over one entry is softmax-size-one's finding
        yield last, f"{last.op} feeds output '{name}' whose loss is {loss}: {why}"
