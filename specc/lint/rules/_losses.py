"""What the rules about outputs and losses share: which losses and tasks are which, and the
outputs that have a loss."""
from specc.lint.rules._paths import SOFTMAXES

LOGIT_LOSSES = {"cross_entropy", "bce_with_logits"}
REGRESSION_LOSSES = {"mse", "l1", "smooth_l1", "huber"}
CLASSIFICATION_LOSSES = {"cross_entropy", "nll", "bce", "bce_with_logits"}
CLASSIFICATION_TASKS = {"classification", "multilabel", "segmentation"}


def outputs_with_loss(graph):
    """(output name, producing node, loss) for every output that has a loss."""
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        if loss:
            yield name, ref.node, loss


def over_size_one(node) -> bool:
    """A softmax over an axis of one entry (softmax-size-one's finding, not another's)."""
    if node.op not in SOFTMAXES or not node.inputs:
        return False
    t = node.inputs[0].type
    dim = node.attrs.get("dim")
    return t is not None and dim is not None and t.rank > 0 and t.shape[dim % t.rank] == 1

