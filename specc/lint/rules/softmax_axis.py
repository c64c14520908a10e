"""L209 softmax-axis: a softmax over the batch, or over an axis that does not hold the classes.

Where the loss reads the classes, per layout: cross_entropy / nll on dim 1 of [N, C] and of
every [N, C, d1, ...] (a segmentation map [N, C, H, W], per-step scores [N, C, T]); ctc on
the last axis of its (T, N, C) log-probabilities. The output's softmax must normalise that
axis. A softmax anywhere over an axis holding the batch size mixes the samples.
"""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, back, is_batch_dim, layout
from specc.lint.rules._paths import op_of

_DIM1_LOSSES = {"cross_entropy", "nll"}
_DIM1_TASKS = {"classification", "segmentation"}


def _class_axis(loss, task, rank: int, output) -> int | None:
    """The axis that holds the classes of an output of this rank, for its loss (or task)."""
    if loss == "ctc":
        return rank - 1  # (T, N, C), or (T, C) unbatched
    if loss in _DIM1_LOSSES or (loss is None and task in _DIM1_TASKS):
        if rank >= 3 and layout(output) == "features-last":
            return None  # classes last under a dim-1 loss: class-axis reports the output
        return 1 if rank >= 2 else 0
    return None


@rule(codes.SOFTMAX_AXIS)
def softmax_axis(graph, facts):
    class_axis_of: dict = {}  # softmax node id -> (axis the loss reads the classes on, loss)
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        last = back(ref.node, PASS_THROUGH)
        if ref.type is None or op_of(last).normalizes not in ("softmax", "log_softmax"):
            continue
        axis = _class_axis(loss, graph.task, ref.type.rank, ref.node)
        if axis is not None:
            class_axis_of[last.id] = (axis, loss or f"task: {graph.task}")
    for node in graph.nodes:
        if op_of(node).normalizes not in ("softmax", "log_softmax") or node.out_types is None \
                or node.attrs.get("dim") is None:
            continue
        t = node.inputs[0].type
        axis = node.attrs["dim"] % t.rank if t.rank else 0
        loc = node.attr_locs.get("dim")
        if t.rank >= 2 and is_batch_dim(t.shape[axis], facts):
            yield node, (f"{node.op} over dim {node.attrs['dim']} of {t} normalises across the "
                         "samples of the batch"), loc
        elif node.id in class_axis_of and axis != class_axis_of[node.id][0]:
            wanted, reader = class_axis_of[node.id]
            yield node, (f"{node.op} over dim {node.attrs['dim']} of {t} ({t.shape[axis]}), but "
                         f"{reader} reads the classes on dim {wanted} ({t.shape[wanted]})"), loc
