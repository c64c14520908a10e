"""L309 rnn-layout-mismatch: the input's dim names contradict batch_first."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import BATCH_NAMES, TIME_NAMES


@rule(codes.RNN_LAYOUT_MISMATCH)
def rnn_layout_mismatch(graph, facts):
    for node in graph.nodes:
        if "batch_first" not in node.attrs or not node.inputs or node.out_types is None:
            continue
        t = node.inputs[0].type
        if t.rank != 3:
            continue
        first, second = str(t.shape[0]), str(t.shape[1])
        batch_first = node.attrs["batch_first"]
        if not batch_first and (first in BATCH_NAMES or second in TIME_NAMES):
            yield node, f"{node.op} reads {t} as (time, batch, features) because batch_first " \
                        "is false", node.attr_locs.get("batch_first")
        elif batch_first and (first in TIME_NAMES or second in BATCH_NAMES):
            yield node, f"{node.op} reads {t} as (batch, time, features) because batch_first " \
                        "is true", node.attr_locs.get("batch_first")
