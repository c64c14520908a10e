"""L210 class-axis: a classification loss on an output whose classes are not on dim 1.

cross_entropy and nll read [N, C] or [N, C, d1, ...]. Two layouts put the classes elsewhere:
a classifier Linear applied to a [N, C, H, W] feature map (classes on the last axis of a map
whose dim 1 is channels), and per-step scores [N, T, C] from a Linear / RNN / attention
(classes last, so the loss reads T as the classes). A conv head's [N, C, T] is right.
"""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back, layout
from specc.lint.rules._paths import LINEAR_MAPS, SOFTMAXES

_CLASS_LOSSES = {"cross_entropy", "nll"}


@rule(codes.CLASS_AXIS)
def class_axis(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        if loss not in _CLASS_LOSSES or ref.type is None or ref.type.rank < 3:
            continue
        head = back(ref.node, PASS_THROUGH | SOFTMAXES)
        source = head.inputs[0] if head.inputs else None
        if head.op in LINEAR_MAPS and source is not None and source.type is not None \
                and layout(source.node) == "channels-first":
            yield head, (f"{head.id} ({head.op}) is applied to the feature map {source.type}: it "
                         f"mixes only the last axis, and {loss} will read dim 1 "
                         f"({source.type.shape[1]} channels) as the classes")
        elif layout(ref.node) == "features-last" and graph.task != "generation":
            # next-token models (task: generation) are trained on the flattened
            # [N·T, vocab] logits by every LM training loop: that is their per-token loss
            t = ref.type
            yield head, (f"output '{name}' {t} has its classes on the last axis, but {loss} "
                         f"reads dim 1 ({t.shape[1]}) as the classes: for one label per step "
                         "permute to [N, C, T] ({op: permute, dims: [0, 2, 1]}); for one label "
                         "per sequence read one step or the final state first (a next-token "
                         "model trained on logits flattened to [N·T, vocab] declares "
                         "task: generation)")
