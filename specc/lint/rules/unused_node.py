"""L310 unused-node: a node whose output reaches no model output."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import reaching_outputs


@rule(codes.UNUSED_NODE)
def unused_node(graph, facts):
    used = reaching_outputs(graph)
    for node in graph.nodes:
        if node.id not in used and not [u for u in facts.users(node)]:
            yield node, f"the output of {node.id} ({node.op}) is never used"
