"""L310 unused-node: a node whose output reaches no model output."""
from specc import codes
from specc.lint.registry import rule


@rule(codes.UNUSED_NODE)
def unused_node(graph, facts):
    used = set()
    stack = [ref.node for _, ref in graph.outputs]
    while stack:
        node = stack.pop()
        if node.id in used:
            continue
        used.add(node.id)
        stack += [r.node for r in node.inputs]
    for node in graph.nodes:
        if node.id not in used and not [u for u in facts.users(node)]:
            yield node, f"the output of {node.id} ({node.op}) is never used"
