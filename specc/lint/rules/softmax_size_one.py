"""L208 softmax-size-one: a softmax over an axis with one entry."""
from specc.lint.registry import rule


@rule("L208", "softmax-size-one", "warning",
      "Softmax / LogSoftmax over an axis of size 1",
      """
A softmax normalises over its axis; over a single entry the result is always 1 (0 for
LogSoftmax), whatever the input: the layer before it gets no gradient. A one-unit binary
output wants Sigmoid (or raw logits with bce_with_logits).

Bad:   [..., {op: Linear, out_features: 1}, {op: Softmax, dim: 1}]
Good:  [..., {op: Linear, out_features: 1}, Sigmoid]
""", "use Sigmoid for one unit, or softmax over the axis that holds the classes")
def softmax_size_one(graph, facts):
    for node in graph.nodes:
        if node.op not in ("Softmax", "LogSoftmax", "Softmin") or node.out_types is None:
            continue
        t, dim = node.inputs[0].type, node.attrs.get("dim")
        if dim is not None and t.rank and t.shape[dim % t.rank] == 1:
            value = "0" if node.op == "LogSoftmax" else "1"
            yield node, (f"{node.op} over dim {dim} of {t}, an axis of size 1: the result is "
                         f"always {value}"), node.attr_locs.get("dim")
