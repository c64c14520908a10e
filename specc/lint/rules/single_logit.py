"""L207 single-logit-cross-entropy: one class under a softmax-based loss."""
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back

_SOFTMAX_LOSSES = {"cross_entropy", "nll"}


@rule("L207", "single-logit-cross-entropy", "warning",
      "cross_entropy / nll on a single output unit: the loss is always 0",
      """
cross_entropy (and nll after LogSoftmax) normalise over the class axis, dim 1. With one
unit there, the softmax is always 1 and the loss always 0: nothing trains. A binary
classifier with one logit needs bce_with_logits; with cross_entropy it needs two logits.

Bad:   loss: cross_entropy      layers: [..., {op: Linear, out_features: 1}]
Good:  loss: bce_with_logits    layers: [..., {op: Linear, out_features: 1}]
Good:  loss: cross_entropy      layers: [..., {op: Linear, out_features: 2}]
""", "use bce_with_logits with one logit, or two outputs with cross_entropy")
def single_logit_cross_entropy(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        t = ref.type
        if loss in _SOFTMAX_LOSSES and t is not None and t.rank >= 2 and t.shape[1] == 1:
            yield back(ref.node, PASS_THROUGH | {"LogSoftmax", "Softmax"}), (
                f"output '{name}' {t} has a single class on dim 1, so {loss}'s softmax over it "
                "is always 1 and the loss always 0")
