"""Helpers shared by the shape rules of several op families."""
from __future__ import annotations

from specc.dims import Dim, Sym, ceil_div, product
from specc.ops.base import InferCtx
from specc.ops.ptypes import as_tuple


def norm_dim(ctx: InferCtx, dim: int, rank: int, param: str = "dim",
             scalar_ok: bool = False) -> int:
    """A possibly negative dim index → 0..rank-1, with torch's IndexError as a message.

    A 0-D input (a reduction without dim) has no axis to index: refused unless the op
    accepts one (softmax of a scalar does; cat, chunk, split and slice do not)."""
    if rank == 0 and not scalar_ok:
        ctx.fail(f"{ctx.op.name} needs at least a 1-D input, got a 0-D tensor (a reduction "
                 "without dim?)", code="E301")
    if not -rank <= dim < max(rank, 1):
        ctx.fail(f"{ctx.op.name}: {param}={dim} is out of range for a {rank}-D input "
                 f"(expected in [{-rank}, {rank - 1}])", param)
    return dim % rank if rank else 0


def spatial_input(ctx: InferCtx, nd: int):
    """Split a (N, C, *spatial) or unbatched (C, *spatial) input, as torch accepts both."""
    t = ctx.need_rank(nd + 1, nd + 2)
    ctx.need_float()
    batch = t.shape[:-nd - 1]
    channels = t.shape[-nd - 1]
    return t, batch, channels, t.shape[-nd:]


def window_out(size: Dim, kernel: int, stride: int, pad: int, dilation: int = 1,
               ceil_mode: bool = False) -> Dim:
    """The conv/pool output size formula from torch.nn's docs."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if not ceil_mode:
        return span // stride + 1
    out = ceil_div(span, stride) + 1
    if isinstance(out, Sym):
        return out if pad == 0 or not isinstance(size, Sym) else _ceil_needs_concrete(size)
    # torch: the last window must start inside the input or the left padding
    if (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _ceil_needs_concrete(size: Sym):
    from specc.dims import NeedsConcrete

    raise NeedsConcrete(size, "ceil_mode with padding")


def floor_remainder(size: int, kernel: int, stride: int, pad: int, dilation: int = 1) -> int:
    """Padded positions past the last window: what window_out's floor division drops."""
    return (size + 2 * pad - dilation * (kernel - 1) - 1) % stride


def tuples(attrs: dict, names, nd: int) -> list[tuple]:
    return [as_tuple(attrs[n], nd) for n in names]


def check_len(ctx: InferCtx, name: str, nd: int) -> None:
    """A list value has nd entries, or one where the Param says torch expands it."""
    value = ctx.attrs.get(name)
    if not isinstance(value, list):
        return
    param = ctx.op.param(name)
    if len(value) == 1 and nd > 1 and param is not None and not param.list_of_one:
        ctx.fail(f"{ctx.op.name}: {name} needs {nd} values, got {value} (torch does not "
                 f"expand a one-element list here; write {value[0]} or {[value[0]] * nd})",
                 name, code="E306")
    if len(value) not in (1, nd):
        ctx.fail(f"{ctx.op.name}: {name} needs {nd} values, got {len(value)}", name)


def numel(shape) -> Dim:
    return product(shape)
