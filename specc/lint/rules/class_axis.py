"""L210 class-axis: a classification loss on an output whose classes are not on dim 1."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back, layout

_CLASS_LOSSES = {"cross_entropy", "nll"}


@rule(codes.CLASS_AXIS)
def class_axis(graph, facts):
    for name, ref in graph.outputs:
        if graph.loss.get(name) not in _CLASS_LOSSES or ref.type is None:
            continue
        head = back(ref.node, PASS_THROUGH | {"Softmax", "LogSoftmax"})
        if head.op != "Linear" or head.inputs[0].type is None:
            continue
        t = head.inputs[0].type
        if t.rank >= 3 and layout(head.inputs[0].node) == "channels-first":
            yield head, (f"{head.id} (Linear) is applied to the feature map {t}: it mixes only "
                         f"the last axis, and {graph.loss[name]} will read dim 1 "
                         f"({t.shape[1]} channels) as the classes")
