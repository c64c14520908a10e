"""Normalisation layers: BatchNorm, InstanceNorm, GroupNorm, LayerNorm, LocalResponseNorm."""
from __future__ import annotations

from specc import codes
from specc.dims import product
from specc.ops.base import InferCtx, OpDef, Param, register
from specc.ops.ptypes import as_tuple


def _running_params(affine_default: bool, track_default: bool) -> list[Param]:
    return [
        Param("num_features", "posint", inferred=True, doc="channels (inferred)"),
        Param("eps", "float", 1e-5),
        Param("momentum", "optfloat", 0.1),
        Param("affine", "bool", affine_default),
        Param("track_running_stats", "bool", track_default),
    ]


def _channel_norm_infer(ranks: tuple[int, ...]):
    def infer(ctx: InferCtx):
        t = ctx.need_rank(*ranks)
        ctx.need_float()
        # BatchNorm1d takes (N, C) or (N, C, L); the others (N, C, *) or unbatched (C, *)
        channel_axis = 1 if ctx.op.name.startswith("BatchNorm") or t.rank == max(ranks) else 0
        ctx.infer_attr("num_features", t.shape[channel_axis], "channel count")
        uses_input_stats = ctx.op.name.startswith("InstanceNorm") and not \
            ctx.attrs["track_running_stats"]
        spatial = t.shape[channel_axis + 1:]
        if uses_input_stats and all(isinstance(d, int) for d in spatial) and product(spatial) == 1:
            # torch's _verify_spatial_size, which runs in eval mode too for these norms
            ctx.fail(f"{ctx.op.name}: expected more than 1 spatial element, got input {t}",
                     code=codes.NONPOSITIVE_SIZE)
        return [t]
    return infer


def _affine_count(a: dict) -> int:
    return 2 * a["num_features"] if a["affine"] else 0


for _nd, _ranks in ((1, (2, 3)), (2, (4,)), (3, (5,))):
    register(OpDef(f"BatchNorm{_nd}d", "module", _running_params(True, True),
                   _channel_norm_infer(_ranks), doc=f"torch.nn.BatchNorm{_nd}d.",
                   category="norm", count_params=_affine_count, channel_norm=True,
                   spatial_rank=_nd))
    register(OpDef(f"InstanceNorm{_nd}d", "module", _running_params(False, False),
                   _channel_norm_infer((_nd + 1, _nd + 2)), doc=f"torch.nn.InstanceNorm{_nd}d.",
                   category="norm", count_params=_affine_count, channel_norm=True,
                   spatial_rank=_nd))


def _group_norm(ctx: InferCtx):
    t = ctx.need_rank(2, 3, 4, 5, 6)
    ctx.need_float()
    ctx.infer_attr("num_channels", t.shape[1], "channel count")
    values = [t.shape[0] * (ctx.attrs["num_channels"] // ctx.attrs["num_groups"]), *t.shape[2:]]
    if all(isinstance(d, int) for d in values) and product(values) == 1:
        # torch's group_norm checks this in eval mode too (_verify_batch_size)
        ctx.fail(f"GroupNorm: expected more than 1 value per group, got input {t} with "
                 f"{ctx.attrs['num_groups']} groups", code=codes.NONPOSITIVE_SIZE)
    if ctx.attrs["num_channels"] % ctx.attrs["num_groups"]:
        ctx.fail(f"GroupNorm: num_channels={ctx.attrs['num_channels']} must be divisible by "
                 f"num_groups={ctx.attrs['num_groups']}", "num_groups", code=codes.GROUPS_NOT_DIVISIBLE)
    return [t]


register(OpDef(
    "GroupNorm", "module",
    [Param("num_groups", "posint"), Param("num_channels", "posint", inferred=True),
     Param("eps", "float", 1e-5), Param("affine", "bool", True)],
    _group_norm, doc="torch.nn.GroupNorm.", category="norm",
    count_params=lambda a: 2 * a["num_channels"] if a["affine"] else 0,
    channel_norm=True))  # per group: a channel's own mean only when num_groups == channels


def _layer_norm(ctx: InferCtx):
    t = ctx.need_float()
    given = ctx.attrs["normalized_shape"]
    if given is None:
        ctx.infer_attr("normalized_shape", [t.shape[-1]], "last dimension")
        given = ctx.attrs["normalized_shape"]
    shape = list(as_tuple(given, 1))
    if len(shape) > t.rank or list(t.shape[t.rank - len(shape):]) != shape:
        ctx.fail(f"LayerNorm: normalized_shape {shape} does not match the trailing dims of "
                 f"the input {t}", "normalized_shape", code=codes.SIZE_DISAGREES)
    return [t]


def _layer_norm_count(a: dict) -> int:
    n = product(as_tuple(a["normalized_shape"], 1))
    if not a["elementwise_affine"]:
        return 0
    return n * (2 if a["bias"] else 1)


register(OpDef(
    "LayerNorm", "module",
    [Param("normalized_shape", "posints", inferred=True,
           doc="trailing dims to normalise (default: the last one)"),
     Param("eps", "float", 1e-5), Param("elementwise_affine", "bool", True),
     Param("bias", "bool", True)],
    _layer_norm, doc="torch.nn.LayerNorm.", category="norm", count_params=_layer_norm_count))


def _lrn(ctx: InferCtx):
    ctx.need_rank(3, 4, 5)
    return [ctx.need_float()]


register(OpDef(
    "LocalResponseNorm", "module",
    [Param("size", "posint"), Param("alpha", "float", 1e-4), Param("beta", "float", 0.75),
     Param("k", "float", 1.0)],
    _lrn, doc="torch.nn.LocalResponseNorm.", category="norm"))
