"""L303 saturating-hidden-activation: sigmoid / tanh inside a deep feed-forward stack."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import WEIGHTED, op_of


@rule(codes.SATURATING_HIDDEN_ACTIVATION)
def saturating_hidden(graph, facts):
    output_nodes = {ref.node.id for _, ref in graph.outputs}
    depth: dict = {}
    for node in graph.nodes:
        before = max((depth.get(r.node.id, 0) for r in node.inputs), default=0)
        depth[node.id] = before + (1 if node.op in WEIGHTED else 0)
        if not op_of(node).saturates or node.id in output_nodes:
            continue
        users = facts.users(node)
        if users and all(u.op != "mul" for u in users) and depth[node.id] >= 2:
            yield node, f"{node.op} after {depth[node.id]} weighted layers saturates and slows " \
                        "training of the layers before it"
