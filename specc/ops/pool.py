"""Max/Avg pooling and adaptive pooling, 1-D to 3-D."""
from __future__ import annotations

from specc import codes
from specc.ops._util import check_len, numel, spatial_input, window_out
from specc.ops.base import InferCtx, OpDef, Param, Saved, SaveCtx, Window, register
from specc.ops.ptypes import as_tuple
from specc.tensor import TensorType


def _with_indices(ctx: InferCtx, result: TensorType) -> list[TensorType]:
    """With return_indices, max pools also return int64 indices of the output's shape."""
    if ctx.attrs.get("return_indices"):
        return [result, TensorType(result.shape, "int64")]
    return [result]


def _pool_params(kind: str, nd: int) -> list[Param]:
    params = [Param("kernel_size", "posints"), Param("stride", "optposints", None, doc="default: kernel_size"),
              Param("padding", "nonnegints", 0)]
    if kind == "Max":
        params += [Param("dilation", "posints", 1), Param("return_indices", "bool", False),
                   Param("ceil_mode", "bool", False)]
    else:
        params += [Param("ceil_mode", "bool", False), Param("count_include_pad", "bool", True)]
        if nd > 1:
            params.append(Param("divisor_override", "optpos", None))
    return params


def _pool_infer(kind: str, nd: int):
    def infer(ctx: InferCtx):
        t, batch, channels, spatial = spatial_input(ctx, nd)
        a = ctx.attrs
        for name in ("kernel_size", "stride", "padding", "dilation"):
            if a.get(name) is not None:
                check_len(ctx, name, nd)
        k = as_tuple(a["kernel_size"], nd)
        s = k if a["stride"] is None else as_tuple(a["stride"], nd)
        p = as_tuple(a["padding"], nd)
        d = as_tuple(a.get("dilation", 1), nd)
        out = []
        for i in range(nd):
            if p[i] * 2 > k[i]:  # torch compares with the undilated kernel size
                ctx.fail(f"{ctx.op.name}: padding {p[i]} should be at most half of the kernel "
                         f"size {k[i]}", "padding", code=codes.TORCH_REJECTS)
            if kind == "Avg" and nd == 3 and isinstance(spatial[i], int) and spatial[i] < k[i]:
                # avg_pool3d checks the unpadded input against the kernel (pool3d_shape_check)
                ctx.fail(f"{ctx.op.name}: input size {spatial[i]} is smaller than the kernel "
                         f"size {k[i]} (input {t})", "kernel_size", code=codes.NONPOSITIVE_SIZE)
            size = window_out(spatial[i], k[i], s[i], p[i], d[i], a["ceil_mode"])
            out.append(ctx.positive(size, "output size"))
        result = t.with_shape((*batch, channels, *out))
        return _with_indices(ctx, result)
    return infer


def _pool_label(nd: int):
    def label(a: dict) -> str:
        k = "×".join(str(x) for x in as_tuple(a["kernel_size"], nd))
        s = a.get("stride")
        strides = set(as_tuple(s, nd)) if s is not None else set()
        if s is None or len(strides) == 1:
            return k + ("" if s is None else f"/{strides.pop()}")
        return k + "/" + "×".join(str(x) for x in as_tuple(s, nd))
    return label


def _adaptive_infer(nd: int):
    def infer(ctx: InferCtx):
        t, batch, channels, spatial = spatial_input(ctx, nd)
        size = ctx.attrs["output_size"]
        check_len(ctx, "output_size", nd)
        if nd == 1 and isinstance(size, list) and None in size:
            ctx.fail(f"{ctx.op.name}: output_size must be an integer (None keeps a size only "
                     "in 2-D and 3-D pooling)", "output_size", code=codes.TORCH_REJECTS)
        sizes = as_tuple(size, nd)
        out = [spatial[i] if sizes[i] is None else sizes[i] for i in range(nd)]
        result = t.with_shape((*batch, channels, *out))
        return _with_indices(ctx, result)
    return infer


def _pool_saves(kind: str, adaptive: bool, nd: int):
    """Max pools save the input and int64 indices (the `indices` output when returned);
    average pools save the input, except adaptive ones down to 1×1, which torch runs as
    a mean that saves nothing."""
    def saves(ctx: SaveCtx) -> list:
        if adaptive and kind == "Avg" and all(d == 1 for d in ctx.outputs[0].shape[-nd:]):
            return []
        if kind == "Avg":
            return [Saved("input", 0)]
        if ctx.attrs.get("return_indices"):
            return [Saved("input", 0), Saved("output", 1)]
        return [Saved("input", 0), Saved("new", numel=numel(ctx.outputs[0].shape),
                                         dtype="int64")]
    return saves


def _indices_workspace(ctx: SaveCtx) -> list:
    """torch's CPU max pooling computes int64 indices even when it returns none."""
    if ctx.attrs.get("return_indices"):
        return []
    return [Saved("new", numel=numel(ctx.outputs[0].shape), dtype="int64")]


def _pool_windows(nd: int):
    def windows(a: dict, _nd: int) -> list[Window]:
        k = as_tuple(a["kernel_size"], nd)
        s = k if a["stride"] is None else as_tuple(a["stride"], nd)
        p, d = as_tuple(a["padding"], nd), as_tuple(a.get("dilation", 1), nd)
        return [Window(k[i], s[i], p[i], d[i]) for i in range(nd)]
    return windows


def _outputs(attrs: dict):
    return ("out", "indices") if attrs.get("return_indices") else ("out",)


for _nd in (1, 2, 3):
    for _kind in ("Max", "Avg"):
        register(OpDef(
            f"{_kind}Pool{_nd}d", "module", _pool_params(_kind, _nd), _pool_infer(_kind, _nd),
            doc=f"torch.nn.{_kind}Pool{_nd}d.", category="pool", outputs=_outputs,
            key_args=_pool_label(_nd), spatial_rank=_nd, floors_windows=True,
            layout="channels-first", keeps_meaning=True,
            saves=_pool_saves(_kind, False, _nd),
            workspace=_indices_workspace if _kind == "Max" else lambda ctx: [],
            receptive=_pool_windows(_nd)))
        adaptive = [Param("output_size", "outsize", list_of_one=False)]
        if _kind == "Max":
            adaptive.append(Param("return_indices", "bool", False))
        register(OpDef(
            f"Adaptive{_kind}Pool{_nd}d", "module", adaptive, _adaptive_infer(_nd),
            doc=f"torch.nn.Adaptive{_kind}Pool{_nd}d: pools to a fixed output size.",
            category="pool", outputs=_outputs,
            key_args=lambda a: f"→ {a['output_size']}", spatial_rank=_nd,
            layout="channels-first", keeps_meaning=True,
            saves=_pool_saves(_kind, True, _nd),
            workspace=_indices_workspace if _kind == "Max" else lambda ctx: []))
