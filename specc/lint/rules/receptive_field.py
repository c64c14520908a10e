"""L316 receptive-field: a prediction read from a conv stack that sees only part of the sequence."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import layout


@rule(codes.RECEPTIVE_FIELD)
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
        if fields is None:
            from specc.analyses.receptive_field import receptive_fields  # issue 17's fields

            fields = receptive_fields(graph)
        field = fields.get(source.node.id) if source.index == 0 else None
        seen = int(field.size[-1]) if field is not None and len(field.size) == 1 else None
        length = _declared_length(source)
        if seen is not None and length is not None and seen < length:
            yield node, (f"{node.id} reads one time step of {source.node.id}, whose receptive "
                         f"field is {seen} steps of the {length}-step input sequence: it never "
                         f"sees the other {length - seen}")


def _declared_length(ref):
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
