"""L302 linear-without-activation: two linear layers in a row with nothing nonlinear between them."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import AFFINE_NORMS, forward
from specc.lint.rules._paths import LINEAR_MAPS, TRANSPARENT, is_pointwise_conv


@rule(codes.LINEAR_WITHOUT_ACTIVATION)
def linear_without_activation(graph, facts):
    for node in graph.nodes:
        if node.out_types is None or not (node.op in LINEAR_MAPS or is_pointwise_conv(node)):
            continue
        # BatchNorm & co. are affine per channel: they add no nonlinearity
        users = forward(facts, node, TRANSPARENT | AFFINE_NORMS)
        nxt = users[0] if len(users) == 1 else None
        if nxt is not None and (nxt.op in LINEAR_MAPS or is_pointwise_conv(nxt)) \
                and not _low_rank_pair(node, nxt):
            yield nxt, f"{nxt.op} ({nxt.id}) directly follows {node.op} ({node.id}) with no " \
                       "nonlinearity between them"


def _low_rank_pair(first, second) -> bool:
    """A deliberate bottleneck (LoRA adapter, MobileNetV2's linear bottleneck): the middle
    width is at most half of both outer widths, so the pair is a low-rank factorisation."""
    try:
        outer_in = first.inputs[0].type.shape[-1 if first.op in LINEAR_MAPS else 1]
        middle = first.out_types[0].shape[-1 if first.op in LINEAR_MAPS else 1]
        outer_out = second.out_types[0].shape[-1 if second.op in LINEAR_MAPS else 1]
    except (AttributeError, IndexError, TypeError):
        return False
    sizes = (outer_in, middle, outer_out)
    return all(isinstance(d, int) for d in sizes) and 2 * middle <= min(outer_in, outer_out)
