"""L305 rnn-dropout-single-layer: RNN dropout with a single layer does nothing."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import RECURRENT


@rule(codes.RNN_DROPOUT_SINGLE_LAYER)
def rnn_dropout_single_layer(graph, facts):
    for node in graph.nodes:
        if node.op in RECURRENT and node.attrs.get("dropout", 0) > 0 \
                and node.attrs.get("num_layers") == 1:
            yield node, f"{node.op} has dropout={node.attrs['dropout']} but num_layers=1, so the " \
                        "dropout is never applied", node.attr_locs.get("dropout")
