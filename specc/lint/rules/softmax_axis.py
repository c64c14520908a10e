"""L209 softmax-axis: a softmax over the batch, or over an axis that does not hold the classes."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back, is_batch_dim, layout

_CLASS_DIM1_LOSSES = {"cross_entropy", "nll"}
_SOFTMAXES = ("Softmax", "LogSoftmax", "Softmin")


@rule(codes.SOFTMAX_AXIS)
def softmax_axis(graph, facts):
    class_axis_for = {}
    for name, ref in graph.outputs:
        if graph.loss.get(name) in _CLASS_DIM1_LOSSES:
            class_axis_for[back(ref.node, PASS_THROUGH).id] = graph.loss[name]
    for node in graph.nodes:
        if node.op not in _SOFTMAXES or node.out_types is None or node.attrs.get("dim") is None:
            continue
        t = node.inputs[0].type
        axis = node.attrs["dim"] % t.rank if t.rank else 0
        loc = node.attr_locs.get("dim")
        if t.rank >= 2 and axis == 0 and is_batch_dim(t.shape[0], graph):
            yield node, (f"{node.op} over dim {node.attrs['dim']} of {t} normalises across the "
                         "samples of the batch"), loc
        elif node.id in class_axis_for and t.rank >= 3 and axis != 1 \
                and layout(node.inputs[0].node) == "channels-first":
            yield node, (f"{node.op} over dim {node.attrs['dim']} of {t}, but "
                         f"{class_axis_for[node.id]} reads the classes on dim 1"), loc
