"""Normalisation layers: BatchNorm, InstanceNorm, GroupNorm, LayerNorm (and the channels-first
LayerNorm2d), LocalResponseNorm."""
from __future__ import annotations

from specc import codes
from specc.dims import product
from specc.ops._util import numel
from specc.ops.base import POINTWISE, InferCtx, OpDef, Param, Saved, SaveCtx, register
from specc.ops.ptypes import as_tuple


def _running_params(affine_default: bool, track_default: bool) -> list[Param]:
    return [
        Param("num_features", "posint", inferred=True, doc="channels (inferred)"),
        Param("eps", "posfloat", 1e-5),  # torch: "batch_norm eps must be positive"
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


def _stats_saves(batched_rank: int | None):
    """The input, plus mean and invstd (in ``stats_dtype``): BatchNorm (batched_rank None)
    per channel (it also saves the running-stat buffers, which are counted as buffers),
    InstanceNorm per (sample, channel), with the running stats (track_running_stats) and
    the weight (affine) repeated per sample in the activation dtype."""
    def saves(ctx: SaveCtx) -> list:
        t, channels = ctx.inputs[0], ctx.attrs["num_features"]
        if batched_rank is None:
            return [Saved("input", 0), Saved("new", numel=2 * channels, dtype=ctx.stats_dtype)]
        samples = t.shape[0] if t.rank == batched_rank else 1
        repeated = 2 if ctx.attrs["track_running_stats"] else 0
        repeated += 1 if ctx.attrs["affine"] else 0  # the weight, repeated per sample
        return [Saved("input", 0),
                Saved("new", numel=2 * channels * samples, dtype=ctx.stats_dtype),
                Saved("new", numel=repeated * channels * samples)]
    return saves


def _affine(size: str):
    """``tensors`` of a channel norm: with ``affine``, a weight and a bias per channel."""
    return lambda a: {"weight": (a[size],), "bias": (a[size],)} if a["affine"] else {}


def elementwise_tensors(a: dict) -> dict:
    """``tensors`` of LayerNorm: weight (and bias) of normalized_shape, unless not affine."""
    if not a["elementwise_affine"]:
        return {}
    shape = tuple(as_tuple(a["normalized_shape"], 1))
    return {"weight": shape, **({"bias": shape} if a.get("bias", False) else {})}


def _running_buffers(a: dict) -> tuple:
    """running_mean, running_var (float) and num_batches_tracked (one int64)."""
    return (2 * a["num_features"], 8) if a["track_running_stats"] else (0, 0)


# BatchNorm's statistics are constants in eval mode, so for the receptive field it is
# point-wise; InstanceNorm and GroupNorm normalise with every position's statistics
# in eval mode too (their field is the whole input: left undefined).
for _nd, _ranks in ((1, (2, 3)), (2, (4,)), (3, (5,))):
    register(OpDef(f"BatchNorm{_nd}d", "module", _running_params(True, True),
                   _channel_norm_infer(_ranks), doc=f"torch.nn.BatchNorm{_nd}d.",
                   category="norm", parameter_input_dtypes="same_or_half", count_params=_affine_count, channel_norm=True,
                   batch_stats=True, layout="channels-first", keeps_shape=True,
                   spatial_rank=_nd, saves=_stats_saves(None),
                   buffers=_running_buffers,
                   tensors=_affine("num_features"),
                   receptive=POINTWISE))
    register(OpDef(f"InstanceNorm{_nd}d", "module", _running_params(False, False),
                   _channel_norm_infer((_nd + 1, _nd + 2)), doc=f"torch.nn.InstanceNorm{_nd}d.",
                   category="norm", parameter_input_dtypes="same_or_half", count_params=_affine_count, channel_norm=True,
                   layout="channels-first", keeps_shape=True, spatial_rank=_nd,
                   saves=_stats_saves(_nd + 2),
                   buffers=_running_buffers,
                   tensors=_affine("num_features")))


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
    _group_norm, doc="torch.nn.GroupNorm.", category="norm", parameter_input_dtypes="same_or_half", keeps_shape=True,
    count_params=lambda a: 2 * a["num_channels"] if a["affine"] else 0,
    # per group: a channel's own mean only when num_groups == num_channels
    channel_norm=True, layout="channels-first",
    saves=lambda ctx: [Saved("input", 0),
                       Saved("new", numel=2 * ctx.inputs[0].shape[0] * ctx.attrs["num_groups"])],
    tensors=_affine("num_channels")))


def _layer_norm(ctx: InferCtx):
    t = ctx.need_float()
    if t.rank == 0:
        ctx.fail("LayerNorm needs at least a 1-D input, got a 0-D tensor (a reduction "
                 "without dim?)")
    given = ctx.attrs["normalized_shape"]
    if given is None:
        ctx.concrete(t.shape[-1], "inferring normalized_shape from the last dim")
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


def _layer_norm_saves(ctx: SaveCtx) -> list:
    """The input, and mean and rstd per normalised row."""
    t = ctx.inputs[0]
    rows = numel(t.shape[:t.rank - len(as_tuple(ctx.attrs["normalized_shape"], 1))])
    return [Saved("input", 0), Saved("new", numel=2 * rows, dtype=ctx.stats_dtype)]


register(OpDef(
    "LayerNorm", "module",
    [Param("normalized_shape", "posints", inferred=True,
           doc="trailing dims to normalise (default: the last one)"),
     Param("eps", "float", 1e-5), Param("elementwise_affine", "bool", True),
     Param("bias", "bool", True)],
    _layer_norm, doc="torch.nn.LayerNorm.", category="norm", parameter_input_dtypes="same_or_half", keeps_shape=True,
    count_params=_layer_norm_count,
    saves=_layer_norm_saves, layout="features-last",
    tensors=elementwise_tensors))


def _layer_norm_2d(ctx: InferCtx):
    t = ctx.need_rank(4)
    ctx.need_float()
    ctx.infer_attr("normalized_shape", [t.shape[1]], "channel count")
    if list(as_tuple(ctx.attrs["normalized_shape"], 1)) != [t.shape[1]]:
        ctx.fail(f"LayerNorm2d: normalized_shape {ctx.attrs['normalized_shape']} must be the "
                 f"channel count of the input {t}", "normalized_shape", code="E302")
    return [t]


register(OpDef(
    "LayerNorm2d", "module",
    [Param("normalized_shape", "posints", inferred=True, doc="the channel count (inferred)"),
     Param("eps", "float", 1e-5), Param("elementwise_affine", "bool", True),
     Param("bias", "bool", True)],
    _layer_norm_2d, doc="channels-first LayerNorm: torchvision's LayerNorm2d (ConvNeXt), "
    "nn.LayerNorm over dim 1 of (N, C, H, W); keys `weight`, `bias`",
    category="norm", parameter_input_dtypes="same_or_half", keeps_shape=True, count_params=_layer_norm_count,
    runtime_class="LayerNorm2d",
    spatial_rank=2, layout="channels-first",
    # layer_norm of the permuted view: the input's storage, and mean and rstd per position
    saves=lambda ctx: [Saved("input", 0),
                       Saved("new", numel=2 * numel(ctx.inputs[0].shape[:1] + ctx.inputs[0].shape[2:]),
                             dtype=ctx.stats_dtype)],
    tensors=elementwise_tensors,
    receptive=POINTWISE))


def _lrn(ctx: InferCtx):
    ctx.need_rank(3, 4, 5)
    return [ctx.need_float()]


def _lrn_saves(ctx: SaveCtx) -> list:
    """torch's composite LRN: the input, the channel-padded squares (C + size − 1
    channels) and two more tensors of the input's size."""
    t = ctx.inputs[0]
    padded = numel(t.shape) // t.shape[1] * (t.shape[1] + ctx.attrs["size"] - 1)
    return [Saved("input", 0), Saved("new", numel=padded),
            Saved("new", numel=2 * numel(t.shape))]


register(OpDef(
    "LocalResponseNorm", "module",
    [Param("size", "posint"), Param("alpha", "float", 1e-4), Param("beta", "float", 0.75),
     Param("k", "float", 1.0)],
    _lrn, doc="torch.nn.LocalResponseNorm.", category="norm", parameter_input_dtypes="same_or_half", keeps_shape=True,
    saves=_lrn_saves,
    receptive=POINTWISE, layout="channels-first"))
