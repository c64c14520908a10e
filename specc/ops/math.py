"""Element-wise math, casts, masks and the gather/index family (functional ops).

Constants follow the tensor they meet, so a bf16 build stays bf16: a fill value of
``-inf`` or ``min`` (the dtype's most negative number, what HF's masks use) is written
as code on the input's dtype, and ``to`` can take its dtype from a second input.
"""
from __future__ import annotations

import math

from specc.ops._util import norm_dim
from specc.ops.base import (EmitCtx, InferCtx, OpDef, Param, register, saves_inputs,
                             saves_nothing, saves_output)
from specc.tensor import (
    DTYPES,
    INT_DTYPES,
    BroadcastError,
    TensorType,
    broadcast_shapes,
)


def _fn(name: str, params: list[Param], infer, template, doc: str, **kw) -> OpDef:
    """A functional op whose code is one expression ``template(ctx)``."""

    def emit(ctx: EmitCtx) -> list[str]:
        return [f"{ctx.outs[0]} = {template(ctx)}"]

    return register(OpDef(name, "function", params, infer, doc=doc, emit=emit, **kw))


def scalar_code(value, like: str) -> str:
    """Python code for a fill value; ``min``/``max`` are the dtype of tensor ``like``."""
    if value in ("min", "max"):
        return f"torch.finfo({like}.dtype).{value}"
    if isinstance(value, str) or not math.isfinite(value):
        return f"float({str(value)!r})"
    return repr(value)


# -- unary math ------------------------------------------------------------------------
def _float_result(ctx: InferCtx):
    t = ctx.inputs[0]
    return [t if t.is_float else TensorType(t.shape, "float32")]


_UNARY = {"exp": "e^x", "log": "natural logarithm", "sin": "sine", "cos": "cosine",
          "rsqrt": "1 / sqrt(x)", "sqrt": "square root"}
# autograd's derivative formulas: exp, rsqrt and sqrt differentiate through their result,
# log, sin, cos, abs, pow and clamp through their input
_SAVES_RESULT = {"exp", "rsqrt", "sqrt"}
for _name, _what in _UNARY.items():
    _fn(_name, [], _float_result, lambda ctx, n=_name: f"torch.{n}({ctx.args[0]})",
        f"torch.{_name}: {_what}, element-wise (integers become float32, as torch)",
        category="math", layout="keeps",
        saves=saves_output if _name in _SAVES_RESULT else saves_inputs(0))

_fn("abs", [], lambda ctx: [ctx.inputs[0]], lambda ctx: f"torch.abs({ctx.args[0]})",
    "torch.abs, element-wise", category="math", layout="keeps", saves=saves_inputs(0))
_fn("neg", [], lambda ctx: [ctx.inputs[0]], lambda ctx: f"torch.neg({ctx.args[0]})",
    "torch.neg: -x", category="math", layout="keeps", saves=saves_nothing)


def _pow(ctx: InferCtx):
    t = ctx.inputs[0]
    e = ctx.attrs["exponent"]
    if not t.is_float and isinstance(e, float):
        return [TensorType(t.shape, "float32")]
    if not t.is_float and e < 0:
        ctx.fail("pow: integers cannot be raised to negative integer powers (torch refuses)",
                 "exponent")
    return [t]


_fn("pow", [Param("exponent", "float")], _pow,
    lambda ctx: f"torch.pow({ctx.args[0]}, {ctx.attrs['exponent']!r})",
    "torch.pow(x, exponent)", category="math", layout="keeps", saves=saves_inputs(0))


def _clamp(ctx: InferCtx):
    a = ctx.attrs
    if a["min"] is None and a["max"] is None:
        ctx.fail("clamp needs min or max", "min")
    t = ctx.inputs[0]
    if not t.is_float and any(isinstance(a[k], float) for k in ("min", "max")):
        return [TensorType(t.shape, "float32")]
    return [t]


_fn("clamp", [Param("min", "optfloat", None), Param("max", "optfloat", None)], _clamp,
    lambda ctx: f"torch.clamp({ctx.args[0]}, min={ctx.attrs['min']!r}, "
                f"max={ctx.attrs['max']!r})",
    "torch.clamp(x, min, max)", category="math", layout="keeps", saves=saves_inputs(0))


# -- casts -----------------------------------------------------------------------------
def _to(ctx: InferCtx):
    a = ctx.attrs
    if (a["dtype"] is None) == (len(ctx.inputs) == 1):
        ctx.fail("to: give dtype, or a second input whose dtype to take (not both)", "dtype")
    dtype = a["dtype"] or ctx.inputs[1].dtype
    return [TensorType(ctx.inputs[0].shape, dtype)]


def _to_code(ctx: EmitCtx) -> str:
    target = f"torch.{ctx.attrs['dtype']}" if ctx.attrs["dtype"] else f"{ctx.args[1]}.dtype"
    return f"{ctx.args[0]}.to({target})"


_fn("to", [Param("dtype", "str", None, choices=(*DTYPES, None))],
    _to, _to_code, "Tensor.to(dtype), or to the dtype of a second input (so a mask "
                   "follows the build dtype: from: [mask, hidden])",
    category="math", layout="keeps", n_inputs=(1, 2), saves=saves_nothing, shape_inputs=(1,))


# -- masks -----------------------------------------------------------------------------
def _broadcast(ctx: InferCtx, what: str):
    try:
        return broadcast_shapes(*(t.shape for t in ctx.inputs))
    except BroadcastError as exc:
        ctx.fail(f"{what}: inputs {', '.join(str(t) for t in ctx.inputs)} do not broadcast: "
                 f"{exc}")


def _masked_fill(ctx: InferCtx):
    x, mask = ctx.inputs
    if mask.dtype != "bool":
        ctx.fail(f"masked_fill: the mask must be bool, got {mask.dtype}", code="E305",
                 hint="compare it first, e.g. {op: eq, other: 0}")
    shape = _broadcast(ctx, "masked_fill")  # out-of-place: the result broadcasts both
    if ctx.attrs["value"] in ("min", "max", "-inf", "inf", "nan") and not x.is_float:
        ctx.fail(f"masked_fill: {ctx.attrs['value']} needs a float input, got {x.dtype}",
                 "value", code="E305")
    return [x.with_shape(shape)]


_FILL = Param("value", "fill", doc="a number, -inf, inf, or min/max: the input dtype's "
                                   "extremes (HF masks use min)")
_fn("masked_fill", [_FILL], _masked_fill,
    lambda ctx: f"{ctx.args[0]}.masked_fill({ctx.args[1]}, "
                f"{scalar_code(ctx.attrs['value'], ctx.args[0])})",
    "Tensor.masked_fill(mask, value): inputs x, bool mask", category="index", n_inputs=(2, 2),
    saves=saves_inputs(1))


def _where(ctx: InferCtx):
    cond, a, b = ctx.inputs
    if cond.dtype != "bool":
        ctx.fail(f"where: the condition must be bool, got {cond.dtype}", code="E305")
    from specc.tensor import promote_dtypes

    return [TensorType(tuple(_broadcast(ctx, "where")), promote_dtypes(a.dtype, b.dtype))]


_fn("where", [], _where,
    lambda ctx: f"torch.where({ctx.args[0]}, {ctx.args[1]}, {ctx.args[2]})",
    "torch.where(condition, a, b)", category="index", n_inputs=(3, 3), saves=saves_inputs(0))

_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}


def _compare(ctx: InferCtx):
    if len(ctx.inputs) == 1 and ctx.attrs["other"] is None:
        ctx.fail(f"{ctx.op.name} needs two inputs, or one input and `other`", "other")
    return [TensorType(tuple(_broadcast(ctx, ctx.op.name)), "bool")]


for _name, _symbol in _COMPARE.items():
    _fn(_name, [Param("other", "optfloat", None, doc="a scalar to compare with")], _compare,
        lambda ctx, s=_symbol: f"({ctx.args[0]} {s} "
                               f"{ctx.args[1] if len(ctx.args) > 1 else repr(ctx.attrs['other'])})",
        f"x {_symbol} other, element-wise → bool (torch broadcasting)", category="math",
        layout="keeps",
        n_inputs=(1, 2), saves=saves_nothing)


def _triangle(ctx: InferCtx):
    t = ctx.inputs[0]
    if t.rank < 2:
        ctx.fail(f"{ctx.op.name} needs at least a 2-D input, got {t}")
    return [t]


for _name in ("tril", "triu"):
    _fn(_name, [Param("diagonal", "int", 0)], _triangle,
        lambda ctx, n=_name: f"torch.{n}({ctx.args[0]}, diagonal={ctx.attrs['diagonal']})",
        f"torch.{_name}: the {'lower' if _name == 'tril' else 'upper'} triangle of the last "
        "two dims", category="index", saves=saves_nothing)


# -- gather / index --------------------------------------------------------------------
def _index_input(ctx: InferCtx, op: str):
    index = ctx.inputs[1]
    if index.dtype not in INT_DTYPES:
        ctx.fail(f"{op}: the index must be integer, got {index.dtype}", code="E305")
    return index


def _index_select(ctx: InferCtx):
    t = ctx.inputs[0]
    index = _index_input(ctx, "index_select")
    if index.rank > 1:
        ctx.fail(f"index_select: the index must be 0-D or 1-D, got {index}")
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    shape = list(t.shape)
    shape[axis] = index.shape[0] if index.rank else 1
    return [t.with_shape(shape)]


def _gather(ctx: InferCtx):
    t = ctx.inputs[0]
    index = _index_input(ctx, "gather")
    if index.rank != t.rank:
        ctx.fail(f"gather: the index {index} needs the input's rank ({t})")
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    for d in range(t.rank):
        ours, theirs = index.shape[d], t.shape[d]
        if d != axis and isinstance(ours, int) and isinstance(theirs, int) and ours > theirs:
            ctx.fail(f"gather: index size {ours} at dim {d} exceeds the input's {theirs}")
    return [t.with_shape(index.shape)]


# backward: index_select scatters into zeros of x's size (it keeps the index), gather's
# formula reads x itself (it keeps both)
for _name, _rule, _index, _saves in (
        ("index_select", _index_select, "1-D integer index", saves_inputs(1)),
        ("gather", _gather, "integer index of x's rank", saves_inputs(0, 1))):
    _fn(_name, [Param("dim", "int")], _rule,
        lambda ctx, n=_name: f"torch.{n}({ctx.args[0]}, {ctx.attrs['dim']}, {ctx.args[1]})",
        f"torch.{_name}(x, dim, index): inputs x, {_index}", category="index",
        n_inputs=(2, 2), saves=_saves)


def _roll(ctx: InferCtx):
    t = ctx.inputs[0]
    shifts, dims = ctx.attrs["shifts"], ctx.attrs["dims"]
    shifts = shifts if isinstance(shifts, list) else [shifts]
    if dims is None:
        if len(shifts) != 1:
            ctx.fail("roll: several shifts need dims", "dims")
        return [t]
    dims = dims if isinstance(dims, list) else [dims]
    if len(dims) != len(shifts):
        ctx.fail(f"roll: {len(shifts)} shifts but {len(dims)} dims", "dims")
    for d in dims:
        norm_dim(ctx, d, t.rank, "dims")
    return [t]


_fn("roll", [Param("shifts", "dims"), Param("dims", "optdims", None)], _roll,
    lambda ctx: f"torch.roll({ctx.args[0]}, {ctx.attrs['shifts']!r}, {ctx.attrs['dims']!r})",
    "torch.roll(x, shifts, dims) (Swin's shifted windows)", category="index",
    saves=saves_nothing)
