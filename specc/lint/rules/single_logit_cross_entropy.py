"""L207 single-logit-cross-entropy: one class under a softmax-based loss."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back
from specc.lint.rules._paths import SOFTMAXES

_SOFTMAX_LOSSES = {"cross_entropy", "nll"}


@rule(codes.SINGLE_LOGIT_CROSS_ENTROPY)
def single_logit_cross_entropy(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        t = ref.type
        if loss in _SOFTMAX_LOSSES and t is not None and t.rank >= 2 and t.shape[1] == 1:
            yield back(ref.node, PASS_THROUGH | SOFTMAXES), (
                f"output '{name}' {t} has a single class on dim 1, so {loss}'s softmax over it "
                "is always 1 and the loss always 0")
