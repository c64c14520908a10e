"""L301 bias-before-norm: a bias that the following normalisation cancels."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH, forward
from specc.lint.rules._paths import NORMS, WEIGHTED
from specc.ops.base import all_ops

# ... as long as the channels stay where they were (not through a flatten or reshape)
_BIAS_KEEPING = {op for op in PASS_THROUGH if all_ops()[op].layout is not None}


def _cancels_bias(norm) -> bool:
    if norm.op not in NORMS:
        return False
    if "num_groups" not in norm.attrs:  # BatchNorm, InstanceNorm: each channel's own mean
        return True
    # GroupNorm subtracts a per-group mean: only one channel per group cancels a bias
    return norm.attrs["num_groups"] == norm.attrs["num_channels"]


@rule(codes.BIAS_BEFORE_NORM)
def bias_before_norm(graph, facts):
    for node in graph.nodes:
        if node.op not in WEIGHTED or not node.attrs.get("bias") or node.out_types is None:
            continue
        # a per-channel constant survives max/avg pooling, dropout and upsampling unchanged
        users = forward(facts, node, _BIAS_KEEPING)
        if users and all(u.op in NORMS and _cancels_bias(u) for u in users):
            yield node, f"the bias of {node.op} is cancelled by {users[0].op} ({users[0].id})", \
                node.attr_locs.get("bias")
