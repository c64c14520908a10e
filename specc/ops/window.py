"""Swin's shifted windows (torchvision.models.swin_transformer.shifted_window_attention):
cut an [N, H, W, C] map into windows of tokens, put them back, and the attention mask of
shifted windows. The attention between them is ordinary ops in the spec (Linear, matmul,
Softmax), so its names and MACs are the spec's; the code is specc/compile/runtime.py's
SpeccWindows, copied into generated models.

Padding (to whole windows) and the cyclic shift are part of the window ops because they
must happen in that order around the cut and be undone in the reverse order after it; the
shift is 0 on a dim whose padded size fits in one window, as torchvision decides at run
time (shapes never depend on it).
"""
from __future__ import annotations

from specc.dims import Dim, ceil_div
from specc.ops._util import check_len
from specc.ops.base import EmitCtx, InferCtx, OpDef, Param, register, saves_nothing
from specc.ops.ptypes import as_tuple
from specc.tensor import TensorType

_WINDOW = Param("window_size", "posints", doc="tokens per window along H and W (Swin: 7)",
                list_of_one=True)
_SHIFT = Param("shift_size", "nonnegints", 0,
               doc="the cyclic shift along H and W (Swin: 0 in even blocks, window // 2 in odd)")


def _window(ctx: InferCtx) -> tuple[tuple, tuple]:
    for name in ("window_size", "shift_size"):
        check_len(ctx, name, 2)
    return as_tuple(ctx.attrs["window_size"], 2), as_tuple(ctx.attrs["shift_size"], 2)


def _map(ctx: InferCtx, index: int, what: str) -> tuple:
    """The [N, H, W, C] map (channels last); every size must be positive (torch cannot
    reshape an empty tensor into windows)."""
    t = ctx.inputs[index]
    if t.rank != 4:
        ctx.fail(f"{ctx.op.name}: {what} must be 4-D [N, H, W, C] (channels last: permute "
                 f"a conv's output with dims [0, 2, 3, 1]), got {t}")
    for size, name in zip(t.shape, "NHWC"):
        ctx.positive(size, f"{what}'s {name}")
    return t.shape


def _windows_per_image(shape: tuple, window: tuple) -> Dim:
    return ceil_div(shape[1], window[0]) * ceil_div(shape[2], window[1])


def _partition(ctx: InferCtx):
    window, _ = _window(ctx)
    shape = _map(ctx, 0, "the input")
    tokens = window[0] * window[1]
    return [ctx.inputs[0].with_shape(
        (shape[0] * _windows_per_image(shape, window), tokens, shape[3]))]


def _merge(ctx: InferCtx):
    window, _ = _window(ctx)
    windows = ctx.inputs[0]
    shape = _map(ctx, 1, "the second input (the map before window_partition)")
    if windows.rank != 3:
        ctx.fail(f"window_merge: the windows must be 3-D [N * windows, tokens, C], got "
                 f"{windows}")
    want = (shape[0] * _windows_per_image(shape, window), window[0] * window[1])
    if tuple(windows.shape[:2]) != want:
        ctx.fail(f"window_merge: windows {windows} do not tile the map {ctx.inputs[1]} in "
                 f"{window[0]}x{window[1]} windows (expected [{want[0]}, {want[1]}, C])")
    return [windows.with_shape((*shape[:3], windows.shape[2]))]


def _mask(ctx: InferCtx):
    window, _ = _window(ctx)
    shape = _map(ctx, 0, "the input")
    ctx.need_float()
    tokens = window[0] * window[1]
    return [TensorType((_windows_per_image(shape, window), tokens, tokens),
                       ctx.inputs[0].dtype)]


def _call(method: str):
    def emit(ctx: EmitCtx) -> list[str]:
        window = as_tuple(ctx.attrs["window_size"], 2)
        shift = as_tuple(ctx.attrs["shift_size"], 2)
        args = ", ".join(ctx.args)
        return [f"{ctx.outs[0]} = SpeccWindows.{method}({args}, {window!r}, {shift!r})"]
    return emit


def _window_op(name: str, method: str, infer, doc: str, n_inputs: tuple = (1, 1),
               shape_inputs: tuple = ()) -> OpDef:
    return register(OpDef(
        name, "function", [_WINDOW, _SHIFT], infer, doc=doc, category="window",
        n_inputs=n_inputs, emit=_call(method), shape_inputs=shape_inputs,
        runtime_class="SpeccWindows", saves=saves_nothing,
        key_args=lambda a: f"{a['window_size']}, shift {a['shift_size']}"))


_window_op("window_partition", "partition", _partition,
           "[N, H, W, C] → [N·windows, wh·ww, C]: pad to whole windows, roll by -shift, cut "
           "into windows (torchvision's shifted_window_attention, before the attention)")
_window_op("window_merge", "merge", _merge,
           "inputs windows [N·windows, wh·ww, C] and the map x [N, H, W, C] they came from → "
           "[N, H, W, C]: the inverse of window_partition (un-cut, roll back, un-pad)",
           n_inputs=(2, 2), shape_inputs=(1,))
_window_op("shifted_window_mask", "mask", _mask,
           "x [N, H, W, C] → [windows, wh·ww, wh·ww] in x's dtype: -100 between tokens of a "
           "rolled window that come from different regions of the map, else 0 "
           "(torchvision's attn_mask; add it to the scores viewed [N, windows, heads, t, t])",
           shape_inputs=(0,))
