"""Upsample, PixelShuffle/Unshuffle and the padding layers."""
from __future__ import annotations

from specc import codes

import math

from specc.dims import Sym
from specc.ops.base import InferCtx, OpDef, Param, Window, register, saves_inputs, saves_nothing
from specc.ops._util import check_len
from specc.ops.ptypes import as_tuple


def _upsample(ctx: InferCtx):
    t = ctx.need_rank(3, 4, 5)
    ctx.need_float()
    nd, a = t.rank - 2, ctx.attrs
    if (a["size"] is None) == (a["scale_factor"] is None):
        ctx.fail("Upsample needs exactly one of size and scale_factor", "size", code=codes.TORCH_REJECTS)
    modes = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
    if a["align_corners"] is not None and a["mode"] not in modes:
        ctx.fail(f"Upsample: align_corners applies to the interpolating modes "
                 f"({', '.join(modes)}), not '{a['mode']}'", "align_corners", code="E306")
    if a["mode"] in modes and modes[a["mode"]] != nd:
        ctx.fail(f"Upsample: mode '{a['mode']}' needs a {modes[a['mode']] + 2}-D input, got {t}",
                 "mode", code=codes.TORCH_REJECTS)
    for name in ("size", "scale_factor"):
        check_len(ctx, name, nd)
    if a["size"] is not None:
        out = list(as_tuple(a["size"], nd))
    else:
        scales = as_tuple(a["scale_factor"], nd)
        out = []
        for size, scale in zip(t.shape[2:], scales):
            if isinstance(size, Sym):
                if float(scale).is_integer():
                    out.append(size * int(scale))
                    continue
                ctx.concrete(size, "a fractional scale_factor")
            out.append(ctx.positive(math.floor(size * scale), "output size"))
    return [t.with_shape((*t.shape[:2], *out))]


def _upsample_windows(a: dict, nd: int):
    """Nearest upsampling by an integer factor s reads input ⌊u/s⌋: the window of a
    transposed convolution with kernel s and stride s. Other modes: not modelled."""
    scales = a["scale_factor"]
    if a["mode"] != "nearest" or scales is None:
        return None
    factors = as_tuple(scales, nd)
    if not all(float(f).is_integer() for f in factors):
        return None
    return [Window(int(f), int(f), transposed=True) for f in factors]


register(OpDef(
    "Upsample", "module",
    [Param("size", "outsize", None, list_of_one=False),
     Param("scale_factor", "scale", None, list_of_one=False),
     Param("mode", "str", "nearest", choices=("nearest", "linear", "bilinear", "bicubic",
                                               "trilinear", "nearest-exact")),
     Param("align_corners", "bool", None)],
    _upsample, doc="torch.nn.Upsample.", category="resample",
    key_args=lambda a: f"×{a['scale_factor']}" if a["scale_factor"] else f"→ {a['size']}",
    layout="channels-first", keeps_meaning=True, saves=saves_nothing,
    receptive=_upsample_windows))


def _pixel_shuffle(ctx: InferCtx):
    t = ctx.need_rank(3, 4, 5, 6)
    r = ctx.attrs["upscale_factor"]
    c, h, w = t.shape[-3:]
    if not isinstance(c, int) and c.exact_div(r * r) is None:
        ctx.fail(f"PixelShuffle: channels {c} must be divisible by upscale_factor² = {r * r}, "
                 "which a symbolic size cannot promise", "upscale_factor", code="E304")
    if isinstance(c, int) and c % (r * r):
        ctx.fail(f"PixelShuffle: channels {c} must be divisible by upscale_factor² = {r * r}",
                 "upscale_factor", code=codes.TORCH_REJECTS)
    return [t.with_shape((*t.shape[:-3], c // (r * r), h * r, w * r))]


def _pixel_unshuffle(ctx: InferCtx):
    t = ctx.need_rank(3, 4, 5, 6)
    r = ctx.attrs["downscale_factor"]
    c, h, w = t.shape[-3:]
    for size in (h, w):
        if isinstance(size, int) and size % r:
            ctx.fail(f"PixelUnshuffle: spatial size {size} must be divisible by "
                     f"downscale_factor {r}", "downscale_factor", code=codes.TORCH_REJECTS)
    return [t.with_shape((*t.shape[:-3], c * r * r, h // r, w // r))]


register(OpDef("PixelShuffle", "module", [Param("upscale_factor", "posint")], _pixel_shuffle,
               doc="torch.nn.PixelShuffle: (C·r², H, W) → (C, H·r, W·r).", category="resample",
               layout="channels-first", saves=saves_nothing))
register(OpDef("PixelUnshuffle", "module", [Param("downscale_factor", "posint")],
               _pixel_unshuffle, doc="torch.nn.PixelUnshuffle.", category="resample",
               layout="channels-first", saves=saves_nothing))


def _pad_infer(nd: int):
    def infer(ctx: InferCtx):
        t = ctx.need_rank(nd + 1, nd + 2)
        pad = ctx.attrs["padding"]
        if isinstance(pad, list) and len(pad) != 2 * nd:
            ctx.fail(f"{ctx.op.name}: padding needs {2 * nd} values "
                     f"(left, right, top, bottom, …), got {len(pad)}", "padding")
        pads = as_tuple(pad, 2 * nd)
        shape = list(t.shape)
        for i in range(nd):  # pads run from the last dim backwards, in (before, after) pairs
            axis = t.rank - 1 - i
            if ctx.op.name.startswith("Reflection") and isinstance(shape[axis], int) and \
                    max(pads[2 * i], pads[2 * i + 1]) >= shape[axis]:
                ctx.fail(f"{ctx.op.name}: padding {pads[2 * i]}, {pads[2 * i + 1]} must be "
                         f"smaller than the input size {shape[axis]} (it mirrors the input)",
                         "padding", code=codes.NONPOSITIVE_SIZE)
            shape[axis] = ctx.positive(shape[axis] + pads[2 * i] + pads[2 * i + 1], "padded size")
        return [t.with_shape(shape)]
    return infer


def _pad_windows(nd: int):
    """Padding shifts positions by the leading pad of each dim (pads list the last dim
    first, as (before, after) pairs)."""
    def windows(a: dict, _nd: int) -> list[Window]:
        pads = as_tuple(a["padding"], 2 * nd)
        return [Window(1, 1, pads[2 * (nd - 1 - i)]) for i in range(nd)]
    return windows


for _nd in (1, 2, 3):
    for _kind in ("Zero", "Constant", "Reflection", "Replication"):
        if _kind == "Zero" and _nd == 0:
            continue
        _params = [Param("padding", "nonnegints")]
        if _kind == "Constant":
            _params.append(Param("value", "float"))
        register(OpDef(f"{_kind}Pad{_nd}d", "module", _params, _pad_infer(_nd),
                       doc=f"torch.nn.{_kind}Pad{_nd}d.", category="resample",
                       spatial_rank=_nd, layout="keeps",
                       # constant padding's backward is a slice; mirrored ones read the input
                       saves=saves_nothing if _kind in ("Zero", "Constant") else saves_inputs(0),
                       receptive=_pad_windows(_nd)))
