"""L311 zero-init: all-zero weights before an activation."""
from specc import codes
from specc.initializers import parse, sets_zeros
from specc.lint.registry import rule
from specc.lint.rules._flow import AFFINE_NORMS, forward, reaches
from specc.lint.rules._paths import OUTPUT_RANGE, TRANSPARENT, WEIGHTED


@rule(codes.ZERO_INIT)
def zero_init(graph, facts):
    activations = set(OUTPUT_RANGE)
    for node in graph.nodes:
        if node.op not in WEIGHTED:
            continue
        # node.init is the node's own entry or its op type's (the expander resolved which
        # and reported an entry that is no initialiser)
        weight = parse(node.init).get("weight")
        if weight is not None and sets_zeros(*weight):
            # BN after a zero layer keeps every channel equal (affine per channel);
            # a last layer (nothing weighted after it, e.g. a PPO policy head before its
            # softmax) is safe: its units get different gradients from the targets
            users = forward(facts, node, TRANSPARENT | AFFINE_NORMS)
            nxt = users[0] if len(users) == 1 else None
            if nxt is not None and nxt.op in activations and reaches(facts, nxt, WEIGHTED):
                yield node, f"{node.id} starts with all-zero weights and feeds {nxt.op}"
