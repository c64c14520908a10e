"""L206 dropout-on-output: Dropout right before an output."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import DROPOUTS, TRANSPARENT, producer


@rule(codes.DROPOUT_ON_OUTPUT)
def dropout_on_output(graph, facts):
    if not graph.loss and not graph.task:
        return  # a building block (embeddings, an encoder) may end in Dropout, as BERT's do
    for name, ref in graph.outputs:
        node = producer(ref.node, through=TRANSPARENT - DROPOUTS)
        if node.op in DROPOUTS and node.attrs.get("p", 0):
            yield node, f"{node.op} (p={node.attrs['p']}) feeds output '{name}' directly"
