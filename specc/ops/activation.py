"""Element-wise activations, softmax-like ops, and the Dropout family.

Most activations keep the input's shape and need a float input; they are declared from
one table so each still has its own OpDef (and its own torch parameters).
"""
from __future__ import annotations

from specc import codes
from specc.ops._util import norm_dim, numel
from specc.ops.base import (POINTWISE, InferCtx, OpDef, Param, Saved, SaveCtx, register,
                            saves_inputs, saves_output)


def _same(ctx: InferCtx):
    return [ctx.need_float()]


_INPLACE = Param("inplace", "bool", False)

# name -> (extra params, output range, doc).  The range feeds the loss lint rules.
_ELEMENTWISE = {
    "ReLU": ([_INPLACE], "nonneg", "max(0, x)"),
    "ReLU6": ([_INPLACE], "bounded", "min(max(0, x), 6)"),
    "LeakyReLU": ([Param("negative_slope", "float", 0.01), _INPLACE], "real", ""),
    "ELU": ([Param("alpha", "float", 1.0), _INPLACE], "real", ""),
    "CELU": ([Param("alpha", "float", 1.0), _INPLACE], "real", ""),
    "SELU": ([_INPLACE], "real", ""),
    "GELU": ([Param("approximate", "str", "none", choices=("none", "tanh"))], "real", ""),
    "SiLU": ([_INPLACE], "real", "x * sigmoid(x)"),
    "Mish": ([_INPLACE], "real", ""),
    "Sigmoid": ([], "unit", "1 / (1 + exp(-x))"),
    "Tanh": ([], "bounded", ""),
    "Softplus": ([Param("beta", "float", 1.0), Param("threshold", "float", 20.0)], "nonneg", ""),
    "Softsign": ([], "bounded", ""),
    "Hardtanh": ([Param("min_val", "float", -1.0), Param("max_val", "float", 1.0), _INPLACE],
                 "bounded", ""),
    "Hardswish": ([_INPLACE], "real", ""),
    "Hardsigmoid": ([_INPLACE], "unit", ""),
    "Tanhshrink": ([], "real", ""),
    "Softshrink": ([Param("lambd", "nonnegfloat", 0.5)], "real", ""),
    "Hardshrink": ([Param("lambd", "float", 0.5)], "real", ""),
    "LogSigmoid": ([], "nonpos", ""),
    "Threshold": ([Param("threshold", "float"), Param("value", "float"), _INPLACE], "real", ""),
}
# What autograd saves for each activation (measured with saved_tensors_hooks, torch 2.x
# CPU): "out" = the result, "in" = the input, "in+tmp" = the input and a temporary of the
# same size, "tmp" = only a temporary. Unlisted ones save their input.
_SAVES = {"ReLU": "out", "Sigmoid": "out", "Tanh": "out", "Softsign": "in+tmp",
          "LogSigmoid": "in+tmp", "Tanhshrink": "tmp"}
# In place, these still save the (now overwritten) input storage; every other in-place
# activation saves a private copy of the size of its input.
_INPLACE_SAVES_INPUT = {"ReLU", "LeakyReLU", "ELU", "CELU", "SELU"}


def _activation_saves(name: str):
    kind = _SAVES.get(name, "in")

    def saves(ctx: SaveCtx) -> list:
        temp = Saved("new", numel=numel(ctx.inputs[0].shape))
        if ctx.attrs.get("inplace"):
            return [Saved("input", 0)] if name in _INPLACE_SAVES_INPUT else [temp]
        return {"out": [Saved("output", 0)], "in": [Saved("input", 0)],
                "in+tmp": [Saved("input", 0), temp], "tmp": [temp]}[kind]
    return saves


def _inplace_alias(attrs: dict) -> dict:
    """In place, the output is the input's storage."""
    return {0: 0} if attrs.get("inplace") else {}


def _hardtanh(ctx: InferCtx):
    if ctx.attrs["min_val"] >= ctx.attrs["max_val"]:
        ctx.fail(f"Hardtanh: max_val ({ctx.attrs['max_val']}) must be greater than min_val "
                 f"({ctx.attrs['min_val']})", "max_val", code=codes.TORCH_REJECTS)
    return _same(ctx)


_INFER = {"Hardtanh": _hardtanh}  # elementwise ops whose parameters constrain each other

for _name, (_params, _range, _doc) in _ELEMENTWISE.items():
    register(OpDef(_name, "module", list(_params), _INFER.get(_name, _same),
                   doc=f"torch.nn.{_name}{': ' + _doc if _doc else ''}.", category="activation",
                   output_range=_range, normalizes="sigmoid" if _name == "Sigmoid" else None,
                   saturates=_name in ("Sigmoid", "Tanh"), layout="keeps", keeps_shape=True,
                   saves=_activation_saves(_name), aliases=_inplace_alias, receptive=POINTWISE))


def _prelu(ctx: InferCtx):
    t = ctx.need_float()
    n = ctx.attrs["num_parameters"]
    if n != 1 and (t.rank < 2 or t.shape[1] != n):
        ctx.fail(f"PReLU: num_parameters={n} must be 1 or the channel count "
                 f"({t.shape[1] if t.rank >= 2 else '?'})", "num_parameters", code=codes.SIZE_DISAGREES)
    return [t]


# torch's `init` argument (the starting slope, 0.25) is the node's `init:` here, one key with
# one meaning: `init: {method: constant, value: 0.1}` sets the slope as torch's init=0.1 does
register(OpDef("PReLU", "module", [Param("num_parameters", "posint", 1)],
               _prelu, doc="torch.nn.PReLU: leaky ReLU with a learned slope (0.25; another "
                           "start: init: {method: constant, value: 0.1}).",
               category="activation", count_params=lambda a: a["num_parameters"], layout="keeps",
               keeps_shape=True,
               output_range="real",
               saves=saves_inputs(0), receptive=POINTWISE,
               tensors=lambda a: {"weight": (a["num_parameters"],)}))


def _softmax_like(ctx: InferCtx):
    t = ctx.need_float()
    dim = ctx.attrs["dim"]
    if dim is not None:  # without one torch picks it from the rank (lint: softmax-without-dim)
        norm_dim(ctx, dim, t.rank, scalar_ok=True)
    return [t]


for _name, _range, _normalizes in (("Softmax", "unit", "softmax"),
                                   ("LogSoftmax", "nonpos", "log_softmax"),
                                   ("Softmin", "unit", "softmax")):
    register(OpDef(_name, "module", [Param("dim", "optint", None)], _softmax_like,
                   doc=f"torch.nn.{_name} along dim.", category="activation",
                   key_args=lambda a: f"dim={a['dim']}", output_range=_range,
                   normalizes=_normalizes, layout="keeps", keeps_shape=True, saves=saves_output))


def _glu(ctx: InferCtx):
    t = ctx.need_float()
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    size = t.shape[axis]
    if isinstance(size, int) and size % 2:
        ctx.fail(f"GLU: halving dim {axis} needs an even size, got {size}", "dim")
    if not isinstance(size, int) and size.exact_div(2) is None:
        ctx.fail(f"GLU: halving dim {axis} needs an even size; {size} is symbolic", "dim",
                 code="E304")
    shape = list(t.shape)
    shape[axis] = size // 2
    return [t.with_shape(shape)]


register(OpDef("GLU", "module", [Param("dim", "int", -1)], _glu,
               doc="torch.nn.GLU: a * sigmoid(b) over two halves of dim.", category="activation",
               output_range="real", layout="keeps", saves=saves_inputs(0)))


def check_dropout(ctx: InferCtx, param: str = "dropout") -> None:
    p = ctx.attrs.get(param, 0.0)
    if p is not None and not 0 <= p <= 1:
        ctx.fail(f"{ctx.op.name}: dropout probability has to be between 0 and 1, but got {p}",
                 param, code=codes.DROPOUT_P_RANGE)


def _dropout(min_rank: int | None):
    def infer(ctx: InferCtx):
        t = ctx.need_float()
        check_dropout(ctx, "p")
        if min_rank is not None and t.rank not in (min_rank, min_rank + 1):
            ctx.fail(f"{ctx.op.name} expects a {min_rank}-D or {min_rank + 1}-D input, "
                     f"got {t}")
        return [t]
    return infer


def _dropout_saves(batched_ranks: tuple | None):
    """Training keeps the scaled mask, in the activation dtype: one value per element, or
    for the channel-wise variants one per (sample, channel) when the input's rank is one
    torch treats as batched (``batched_ranks``; empty: always), else one per channel of
    dim 0 (torch unsqueezes a batch dim). p=0 is a no-op."""
    def saves(ctx: SaveCtx) -> list:
        t = ctx.inputs[0]
        if ctx.attrs["p"] == 0:
            return []
        if batched_ranks is None:
            return [Saved("new", numel=numel(t.shape))]
        batched = not batched_ranks or t.rank in batched_ranks
        return [Saved("new", numel=numel(t.shape[:2] if batched else t.shape[:1]))]
    return saves


# name -> (input rank it insists on, spatial rank, batched rank of the channel-wise mask).
# Dropout1d rejects other ranks; Dropout2d/3d only warn (and zero whole channels anyway).
_DROPOUTS = {"Dropout": (None, None, None), "Dropout1d": (2, 1, (3,)),
             "Dropout2d": (None, 2, ()), "Dropout3d": (None, 3, (5,)),
             "AlphaDropout": (None, None, None), "FeatureAlphaDropout": (None, None, ())}
for _name, (_rank, _spatial, _batched_rank) in _DROPOUTS.items():
    register(OpDef(_name, "module", [Param("p", "float", 0.5), _INPLACE], _dropout(_rank),
                   doc=f"torch.nn.{_name}: zeroes elements with probability p in training.",
                   category="dropout", key_args=lambda a: f"p={a['p']}", passes_through=True,
                   layout="keeps", keeps_shape=True,
                   spatial_rank=_spatial, saves=_dropout_saves(_batched_rank),
                   aliases=_inplace_alias, receptive=POINTWISE))


def _stochastic_depth(ctx: InferCtx):
    t = ctx.need_float()
    check_dropout(ctx, "p")
    return [t]


register(OpDef(
    "StochasticDepth", "module",
    [Param("p", "float", doc="probability of dropping the branch"),
     Param("mode", "str", choices=("row", "batch"),
           doc='"row": per sample; "batch": the whole batch at once')],
    _stochastic_depth, doc="torchvision.ops.StochasticDepth: in training, zeroes the whole "
    "input per sample (row) or per batch (batch) with probability p and scales the rest by "
    "1/(1-p); identity in eval", category="dropout", key_args=lambda a: f"p={a['p']:g}",
    runtime_class="StochasticDepth", receptive=POINTWISE, passes_through=True, layout="keeps",
    keeps_shape=True,
    # training multiplies by a new mask of one value per sample (row) or one (batch); the
    # mask needs no gradient, so only it is saved
    saves=lambda ctx: [] if ctx.attrs["p"] == 0 else [
        Saved("new", numel=ctx.inputs[0].shape[0] if ctx.attrs["mode"] == "row" else 1)]))
