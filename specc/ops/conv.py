"""Conv1d/2d/3d and ConvTranspose1d/2d/3d."""
from __future__ import annotations

from specc import codes
from specc.dims import product
from specc.ops._util import check_len, numel, spatial_input, tuples, window_out
from specc.ops.base import InferCtx, OpDef, Param, Saved, SaveCtx, Window, register, saves_inputs
from specc.ops.linear import with_bias
from specc.ops.ptypes import as_tuple

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _conv_params(transposed: bool) -> list[Param]:
    params = [
        Param("in_channels", "posint", inferred=True, doc="channels of the input (inferred)"),
        Param("out_channels", "posint", doc="channels produced"),
        Param("kernel_size", "posints", list_of_one=False),
        Param("stride", "posints", 1),
        Param("padding", "nonnegints" if transposed else "padding", 0),
    ]
    if transposed:
        params.append(Param("output_padding", "nonnegints", 0))
    params += [
        Param("groups", "posint", 1),
        Param("bias", "bool", True),
        Param("dilation", "posints", 1),
        Param("padding_mode", "str", "zeros", choices=("zeros",) if transposed else _PADDING_MODES),
    ]
    return params


def _check_groups(ctx: InferCtx) -> None:
    a = ctx.attrs
    for name in ("in_channels", "out_channels"):
        if a[name] % a["groups"]:
            ctx.fail(f"{ctx.op.name}: {name}={a[name]} must be divisible by "
                     f"groups={a['groups']}", "groups", code=codes.GROUPS_NOT_DIVISIBLE)


def _check_padding_mode(ctx: InferCtx, spatial, pads) -> None:
    """reflect needs pad < size, circular pad <= size (torch's F.pad checks)."""
    mode = ctx.attrs["padding_mode"]
    for size, pad in zip(spatial, pads):
        if not isinstance(size, int) or mode in ("zeros", "replicate"):
            continue
        if (mode == "reflect" and pad >= size) or (mode == "circular" and pad > size):
            ctx.fail(f"{ctx.op.name}: padding {pad} with padding_mode='{mode}' needs an input "
                     f"size {'above' if mode == 'reflect' else 'of at least'} {pad}, got {size}",
                     "padding_mode", code=codes.NONPOSITIVE_SIZE)


def _conv_infer(nd: int):
    def infer(ctx: InferCtx):
        t, batch, channels, spatial = spatial_input(ctx, nd)
        ctx.infer_attr("in_channels", channels, "channel count")
        for name in ("kernel_size", "stride", "padding", "dilation"):
            check_len(ctx, name, nd)
        _check_groups(ctx)
        a = ctx.attrs
        k, s, d = tuples(a, ("kernel_size", "stride", "dilation"), nd)
        if a["padding"] == "same":
            if any(x != 1 for x in s):
                ctx.fail(f"{ctx.op.name}: padding='same' is not supported for strided "
                         "convolutions", "padding", code=codes.PADDING_SAME_STRIDED)
            out = list(spatial)
        else:
            p = (0,) * nd if a["padding"] == "valid" else as_tuple(a["padding"], nd)
            _check_padding_mode(ctx, spatial, p)
            for i in range(nd):
                if isinstance(spatial[i], int) and spatial[i] + 2 * p[i] < d[i] * (k[i] - 1) + 1:
                    ctx.fail(f"{ctx.op.name}: kernel size {d[i] * (k[i] - 1) + 1} (dilated) is "
                             f"larger than the padded input size {spatial[i] + 2 * p[i]} "
                             f"(input {t})", "kernel_size", code=codes.NONPOSITIVE_SIZE)
            out = [ctx.positive(window_out(spatial[i], k[i], s[i], p[i], d[i]), "output size")
                   for i in range(nd)]
        return [t.with_shape((*batch, a["out_channels"], *out))]
    return infer


def _convT_infer(nd: int):
    def infer(ctx: InferCtx):
        t, batch, channels, spatial = spatial_input(ctx, nd)
        ctx.infer_attr("in_channels", channels, "channel count")
        for name in ("kernel_size", "stride", "padding", "dilation", "output_padding"):
            check_len(ctx, name, nd)
        _check_groups(ctx)
        k, s, p, d, op = tuples(ctx.attrs, ("kernel_size", "stride", "padding", "dilation",
                                            "output_padding"), nd)
        for i in range(nd):
            if op[i] >= max(s[i], d[i]):
                ctx.fail(f"{ctx.op.name}: output_padding must be smaller than stride or "
                         f"dilation, got output_padding={op[i]}", "output_padding", code=codes.TORCH_REJECTS)
        out = [ctx.positive((spatial[i] - 1) * s[i] - 2 * p[i] + d[i] * (k[i] - 1) + op[i] + 1,
                            "output size") for i in range(nd)]
        return [t.with_shape((*batch, ctx.attrs["out_channels"], *out))]
    return infer


def _count(nd: int):
    def count(a: dict) -> int:
        k = product(as_tuple(a["kernel_size"], nd))
        weight = a["out_channels"] * (a["in_channels"] // a["groups"]) * k
        return weight + (a["out_channels"] if a["bias"] else 0)
    return count


def _tensors(nd: int, transposed: bool):
    """Conv: weight (out, in / groups, *kernel); transposed: (in, out / groups, *kernel)."""
    def tensors(a: dict) -> dict:
        k = as_tuple(a["kernel_size"], nd)
        first, second = ("in_channels", "out_channels") if transposed else \
            ("out_channels", "in_channels")
        return with_bias(lambda a: (a[first], a[second] // a["groups"], *k), "out_channels")(a)
    return tensors


def _conv_macs(nd: int):
    def macs(ctx: InferCtx, outs):
        a = ctx.attrs
        per_output = (a["in_channels"] // a["groups"]) * product(as_tuple(a["kernel_size"], nd))
        return numel(outs[0].shape) * per_output
    return macs


def _convT_macs(nd: int):
    def macs(ctx: InferCtx, _outs):
        a = ctx.attrs
        per_input = (a["out_channels"] // a["groups"]) * product(as_tuple(a["kernel_size"], nd))
        return numel(ctx.inputs[0].shape) * per_input
    return macs


def _label(nd: int):
    def label(a: dict) -> str:
        kernel = "×".join(str(x) for x in as_tuple(a["kernel_size"], nd))
        strides = set(as_tuple(a.get("stride", 1), nd))
        stride = "" if strides == {1} else "/" + (
            str(strides.pop()) if len(strides) == 1 else "×".join(map(str, a["stride"])))
        groups = f", groups {a['groups']}" if a.get("groups", 1) != 1 else ""
        return f"{kernel}{stride}, {a['out_channels']}{groups}"
    return label


def _windows(nd: int, transposed: bool):
    """Per spatial dim: kernel, stride, padding, dilation (padding='same' pads
    dilation·(k−1)//2 in front, as torch does)."""
    def windows(a: dict, _nd: int) -> list[Window]:
        k, s, d = tuples(a, ("kernel_size", "stride", "dilation"), nd)
        if a["padding"] in ("same", "valid"):
            p = tuple(d[i] * (k[i] - 1) // 2 if a["padding"] == "same" else 0
                      for i in range(nd))
        else:
            p = as_tuple(a["padding"], nd)
        return [Window(k[i], s[i], p[i], d[i], transposed) for i in range(nd)]
    return windows


def _conv_saves(nd: int):
    """The input, for the weight gradient. With padding_mode other than zeros, torch pads
    first (F.pad) and the convolution saves the padded copy; reflect and replicate
    padding also keep their input for their own backward. Zero 'same' padding that
    cannot be split evenly (an odd dilation·(k−1)) pads the odd element first (a copy,
    which is what the convolution keeps) and the rest symmetrically."""
    def saves(ctx: SaveCtx) -> list:
        mode, padding, t = ctx.attrs["padding_mode"], ctx.attrs["padding"], ctx.inputs[0]
        if padding == "same":  # total padding per dim: dilation·(k−1)
            pads = tuple(d * (k - 1) for k, d in zip(*tuples(ctx.attrs, ("kernel_size",
                                                                         "dilation"), nd)))
        else:
            pads = tuple(2 * p for p in (as_tuple(0 if padding == "valid" else padding, nd)))
        if mode == "zeros":
            if not any(p % 2 for p in pads):
                return [Saved("input", 0)]
            pads = tuple(p % 2 for p in pads)  # only the odd element is a copy
        padded = numel(t.shape[:-nd]) * product(t.shape[-nd + i] + pads[i] for i in range(nd))
        copy = Saved("new", numel=padded)
        return [copy] if mode in ("zeros", "circular") else [Saved("input", 0), copy]
    return saves


for _nd in (1, 2, 3):
    register(OpDef(
        f"Conv{_nd}d", "module", _conv_params(False), _conv_infer(_nd),
        doc=f"torch.nn.Conv{_nd}d: {_nd}-D convolution over (N, C, *spatial).",
        category="conv", count_params=_count(_nd), macs=_conv_macs(_nd), key_args=_label(_nd),
        weighted=True, spatial_rank=_nd, floors_windows=True, layout="channels-first",
        saves=_conv_saves(_nd), tensors=_tensors(_nd, False),
        receptive=_windows(_nd, False)))
    register(OpDef(
        f"ConvTranspose{_nd}d", "module", _conv_params(True), _convT_infer(_nd),
        doc=f"torch.nn.ConvTranspose{_nd}d: {_nd}-D transposed convolution.",
        category="conv", count_params=_count(_nd), macs=_convT_macs(_nd), key_args=_label(_nd),
        weighted=True, spatial_rank=_nd, layout="channels-first",
        saves=saves_inputs(0), tensors=_tensors(_nd, True),
        receptive=_windows(_nd, True)))
