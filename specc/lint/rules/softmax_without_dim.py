"""softmax-without-dim: a softmax whose dim torch would guess from the input's rank."""
from __future__ import annotations

from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import op_of


@rule(codes.SOFTMAX_WITHOUT_DIM)
def softmax_without_dim(graph, facts):
    for node in graph.nodes:
        if op_of(node).normalizes in ("softmax", "log_softmax") and "dim" in node.attrs \
                and node.attrs["dim"] is None:
            yield node, (f"{node.op} needs an explicit dim (torch's implicit choice is "
                         "deprecated and differs by input rank)")
