"""L314 channels-layout: a tensor in one layout fed to a layer that expects the other."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import RECURRENT, layout
from specc.lint.rules._paths import ops_where

# layers that read channels on dim 1: (N, C, T) for the 1-d ones, (N, C, H, W) for images
_CHANNELS_FIRST_1D = ops_where(lambda op: op.layout == "channels-first" and op.spatial_rank == 1)
_IMAGE_OPS = ops_where(lambda op: op.layout == "channels-first" and op.spatial_rank == 2)
# norms over the last axis (LayerNorm, RMSNorm)
_LAST_AXIS_NORMS = ops_where(lambda op: op.layout == "features-last" and op.category == "norm")


@rule(codes.CHANNELS_LAYOUT)
def channels_layout(graph, facts):
    for node in graph.nodes:
        if not node.inputs or node.out_types is None:
            continue
        source = node.inputs[0]
        t = source.type
        if t is None:
            continue
        if node.op in _CHANNELS_FIRST_1D and t.rank == 3 \
                and layout(source.node) == "features-last":
            yield node, (f"{node.op} reads {t} as (N, C, T), but {source.node.id} produces "
                         "(N, T, C): this looks like (N, T, C) fed to a layer expecting "
                         "(N, C, T) — permute(0, 2, 1) first")
        elif node.op in RECURRENT and t.rank == 3 and layout(source.node) == "channels-first":
            yield node, (f"{node.op} reads {t} as sequence × features, but {source.node.id} "
                         "produces (N, C, T): this looks like (N, C, T) fed to a layer "
                         "expecting (N, T, C) — permute(0, 2, 1) first")
        elif node.op in _LAST_AXIS_NORMS and t.rank >= 3 and "normalized_shape" not in node.given \
                and layout(source.node) == "channels-first":
            yield node, (f"{node.op} normalises the last axis of {t}, but {source.node.id} "
                         "produces channels on dim 1: this looks like (N, C, …) fed to a layer "
                         "expecting channels last — permute the channels to the end first")
        elif node.op in _IMAGE_OPS and source.node.op == "input" and t.rank == 4 \
                and _looks_channels_last(t):
            yield node, (f"input '{source.node.id}' {t} looks channels-last (N, H, W, C) but "
                         f"{node.op} reads (N, C, H, W) — permute(0, 3, 1, 2) first")


def _looks_channels_last(t) -> bool:
    c, h, w = t.shape[3], t.shape[1], t.shape[2]
    return isinstance(c, int) and c in (1, 3, 4) and not (isinstance(h, int) and h <= 4) \
        and not (isinstance(w, int) and w <= 4)
