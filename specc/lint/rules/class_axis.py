"""L210 class-axis: a classification loss on an output whose classes are not on dim 1."""
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back, layout

_CLASS_LOSSES = {"cross_entropy", "nll"}


@rule("L210", "class-axis", "warning",
      "a classifier Linear applied to a feature map: the classes end up on the last axis",
      """
cross_entropy / nll read [N, C] or [N, C, d1, ...]: classes on dim 1. A Linear applied to a
[N, C, H, W] feature map mixes only the last axis (W), giving [N, C, H, classes] — it runs,
and the loss reads C as the classes. Pool (or flatten) the map first.

Bad:   [..., {op: Conv2d, out_channels: 64, ...}, {op: Linear, out_features: 10}]
Good:  [..., {op: Conv2d, out_channels: 64, ...}, {op: AdaptiveAvgPool2d, output_size: 1},
        {op: flatten, start_dim: 1}, {op: Linear, out_features: 10}]
""", "pool and flatten the feature map (start_dim: 1) before the classifier Linear")
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
