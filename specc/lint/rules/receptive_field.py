"""L316 receptive-field: a prediction read from a conv stack that sees only part of the sequence."""
from specc.lint.registry import rule
from specc.lint.rules._flow import ReceptiveField, layout


@rule("L316", "receptive-field", "warning",
      "a time step read from a conv stack whose receptive field is shorter than the sequence",
      """
One output step of a stack of 1-d convolutions sees only its receptive field: for L layers of
kernel k it is L·(k−1)+1 input steps; with dilations d_i and strides s_i it is
1 + Σ d_i·(k_i−1)·Π_{j<i} s_j. A TCN that predicts from its last step, declared for sequences
longer than that, never sees the beginning of them. (Pooling over the whole sequence, an RNN
or attention afterwards, see all of it — no finding then.)

Bad:   x: [N, 8, 1000], 3 × {Conv1d, kernel_size: 3, dilation: 2**i}, then select index -1   # 15 steps
Good:  x: [N, 8, 1000], 9 × {Conv1d, kernel_size: 3, dilation: 2**i}, then select index -1   # 1023 steps
""", "add dilated layers (dilation doubling per layer) or a larger kernel until the receptive "
     "field covers the sequence, or pool over time")
def receptive_field(graph, facts):
    fields = None
    for node in graph.nodes:
        if node.op != "select" or node.out_types is None:
            continue
        source = node.inputs[0]
        t = source.type
        if t is None or t.rank != 3 or node.attrs["dim"] % 3 != 2 \
                or layout(source.node) != "channels-first" or not isinstance(t.shape[2], int):
            continue
        fields = fields or ReceptiveField(graph)
        seen = fields.of(source.node)
        length = _declared_length(source, graph)
        if seen is not None and length is not None and seen < length:
            yield node, (f"{node.id} reads one time step of {source.node.id}, whose receptive "
                         f"field is {seen} steps of the {length}-step input sequence: it never "
                         f"sees the other {length - seen}")


def _declared_length(ref, graph):
    """The length of the model input sequence this value was computed from (last axis)."""
    stack, seen = [ref.node], set()
    while stack:
        node = stack.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        if node.op == "input":
            t = node.out_types[0]
            if t.rank == 3 and isinstance(t.shape[2], int):
                return t.shape[2]
        stack += [r.node for r in node.inputs]
    return None
