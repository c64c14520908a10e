"""Linear, Bilinear, Identity, Flatten, Unflatten and Embedding."""
from __future__ import annotations

from collections.abc import Callable

from specc import codes
from specc.dims import product
from specc.ops._util import norm_dim, numel
from specc.ops.base import (POINTWISE, InferCtx, OpDef, Param, Saved, SaveCtx, register,
                            same_storage, saves_inputs, saves_nothing)
from specc.tensor import INT_DTYPES


def _linear(ctx: InferCtx):
    t = ctx.need_float()
    if t.rank == 0:
        ctx.fail(f"{ctx.op.name} needs at least a 1-D input")
    ctx.infer_attr("in_features", t.shape[-1], "last dimension")
    return [t.with_shape((*t.shape[:-1], ctx.attrs["out_features"]))]


def linear_op(name: str, doc: str, **kw) -> OpDef:
    """A linear layer over the last dim: torch.nn.Linear, and HF's Conv1D (specc/ops/
    transformer.py), which stores the same weight transposed."""
    kw.setdefault("saves", saves_inputs(0))  # the input, for the weight gradient
    return register(OpDef(
        name, "module",
        [Param("in_features", "posint", inferred=True,
               doc="size of the last input dim (inferred)"),
         Param("out_features", "posint"), Param("bias", "bool", True)],
        _linear, doc=doc, category="linear", layout="features-last",
        count_params=lambda a: a["in_features"] * a["out_features"]
        + (a["out_features"] if a["bias"] else 0),
        macs=lambda ctx, outs: numel(outs[0].shape) * ctx.attrs["in_features"],
        key_args=lambda a: f"→ {a['out_features']}", weighted=True, **kw))


def with_bias(weight: Callable[[dict], tuple], size: str) -> Callable[[dict], dict]:
    """``tensors`` of a layer with a weight and, unless ``bias: false``, a 1-D bias of the
    attribute ``size``."""
    return lambda a: {"weight": weight(a), **({"bias": (a[size],)} if a["bias"] else {})}


def _strided_copy(ctx: SaveCtx) -> bool:
    """Does the layer copy its input first? torch.nn.Linear folds an input of 3 or more
    dims into a matrix for mm (input.reshape(-1, in_features)): a strided view whose
    leading dims cannot fold (a batch_first RNN's output, a transposed tensor) is copied."""
    if ctx.inputs[0].rank < 3 or not ctx.layouts:
        return False
    layout = ctx.layouts[0]
    return not layout.folds(0, len(layout.sizes) - 1)


def _linear_saves(ctx: SaveCtx) -> list:
    """The input (for the weight gradient), or the contiguous copy the layer made of it."""
    if _strided_copy(ctx):
        return [Saved("new", numel=numel(ctx.inputs[0].shape))]
    return [Saved("input", 0)]


def _linear_workspace(ctx: SaveCtx) -> list:
    """torch.nn.Linear on a strided input of 3 or more dims (a batch_first RNN's output)
    copies it and runs mm, then adds the bias out of place (a contiguous one folds into
    one addmm): at the add, the product and the result are both live; without a bias
    the copy and the product are."""
    if not _strided_copy(ctx):
        return []
    return [Saved("new", numel=numel(ctx.outputs[0].shape) if ctx.attrs["bias"]
                  else numel(ctx.inputs[0].shape))]


linear_op("Linear", "torch.nn.Linear: y = x Wᵀ + b over the last dim.",
          workspace=_linear_workspace, saves=_linear_saves,
          tensors=with_bias(lambda a: (a["out_features"], a["in_features"]), "out_features"))


def _bilinear(ctx: InferCtx):
    a, b = ctx.need_float(0), ctx.need_float(1)
    if a.rank == 0 or b.rank == 0:
        ctx.fail(f"Bilinear needs inputs of at least 1 dim, got {a} and {b} (a 0-D tensor: "
                 "a reduction without dim?)")
    if a.shape[:-1] != b.shape[:-1]:
        ctx.fail(f"Bilinear: inputs must agree on all but the last dim, got {a} and {b}")
    ctx.infer_attr("in1_features", a.shape[-1], "first input's last dim")
    ctx.infer_attr("in2_features", b.shape[-1], "second input's last dim")
    return [a.with_shape((*a.shape[:-1], ctx.attrs["out_features"]))]


register(OpDef(
    "Bilinear", "module",
    [Param("in1_features", "posint", inferred=True), Param("in2_features", "posint", inferred=True),
     Param("out_features", "posint"), Param("bias", "bool", True)],
    _bilinear, doc="torch.nn.Bilinear: y = x1ᵀ A x2 + b.", category="linear", n_inputs=(2, 2),
    count_params=lambda a: a["in1_features"] * a["in2_features"] * a["out_features"]
    + (a["out_features"] if a["bias"] else 0),
    macs=lambda ctx, outs: numel(outs[0].shape) * ctx.attrs["in1_features"] * ctx.attrs["in2_features"],
    weighted=True, layout="features-last", saves=saves_inputs(0, 1),
    tensors=with_bias(lambda a: (a["out_features"], a["in1_features"], a["in2_features"]),
                      "out_features")))

register(OpDef("Identity", "module", [], lambda ctx: [ctx.inputs[0]],
               doc="torch.nn.Identity: passes its input through.", category="misc",
               passes_through=True, layout="keeps", keeps_shape=True, saves=saves_nothing,
               aliases=same_storage,
               receptive=POINTWISE))


def flatten_shape(ctx: InferCtx, shape, start: int, end: int):
    rank = max(len(shape), 1)
    s, e = norm_dim(ctx, start, rank, "start_dim"), norm_dim(ctx, end, rank, "end_dim")
    if s > e:
        ctx.fail(f"flatten: start_dim {start} comes after end_dim {end}", "start_dim")
    if not shape:
        return (1,)
    return (*shape[:s], product(shape[s:e + 1]), *shape[e + 1:])


def _flatten(ctx: InferCtx):
    t = ctx.inputs[0]
    return [t.with_shape(flatten_shape(ctx, t.shape, ctx.attrs["start_dim"], ctx.attrs["end_dim"]))]


register(OpDef("Flatten", "module", [Param("start_dim", "int", 1), Param("end_dim", "int", -1)],
               _flatten, doc="torch.nn.Flatten: start_dim=1 by default (keeps the batch dim); the function `flatten` starts at 0, like torch.flatten.",
               category="shape", passes_through=True, saves=saves_nothing,
               aliases=same_storage))


def _unflatten(ctx: InferCtx):
    t = ctx.inputs[0]
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    sizes = list(ctx.attrs["unflattened_size"])
    if any(s == 0 or s < -1 for s in sizes):
        ctx.fail(f"Unflatten: sizes must be positive (or one -1), got {sizes}",
                 "unflattened_size", code="E104")
    if sizes.count(-1) > 1:
        ctx.fail("Unflatten: only one size may be -1", "unflattened_size")
    known = product(s for s in sizes if s != -1)
    if -1 in sizes:
        rest = t.shape[axis] // known if isinstance(t.shape[axis], int) else None
        if rest is None:
            ctx.fail("Unflatten: cannot infer -1 from a symbolic size", "unflattened_size",
                     code=codes.NEEDS_CONCRETE)
        sizes[sizes.index(-1)] = rest
    if product(sizes) != t.shape[axis]:
        ctx.fail(f"Unflatten: sizes {sizes} do not multiply to {t.shape[axis]} (dim {axis} of "
                 f"{t})", "unflattened_size")
    return [t.with_shape((*t.shape[:axis], *sizes, *t.shape[axis + 1:]))]


register(OpDef("Unflatten", "module", [Param("dim", "int"), Param("unflattened_size", "ints")],
               _unflatten, doc="torch.nn.Unflatten: splits one dim into several.",
               category="shape", saves=saves_nothing, aliases=same_storage))


def _embedding(ctx: InferCtx):
    t = ctx.inputs[0]
    if t.dtype not in INT_DTYPES:
        ctx.fail(f"Embedding needs an integer input (token ids), got {t.dtype}",
                 hint="declare the input with dtype: int64", code=codes.EMBEDDING_FLOAT_INPUT)
    n, pad = ctx.attrs["num_embeddings"], ctx.attrs["padding_idx"]
    if pad is not None and not -n <= pad < n:
        ctx.fail(f"Embedding: padding_idx {pad} must be within num_embeddings {n}",
                 "padding_idx", code=codes.TORCH_REJECTS)
    return [t.__class__((*t.shape, ctx.attrs["embedding_dim"]), "float32")]


register(OpDef(
    "Embedding", "module",
    [Param("num_embeddings", "posint"), Param("embedding_dim", "posint"),
     Param("padding_idx", "optint", None), Param("max_norm", "optfloat", None),
     Param("scale_grad_by_freq", "bool", False), Param("sparse", "bool", False)],
    _embedding, doc="torch.nn.Embedding: integer ids → vectors.", category="embedding",
    layout="features-last",
    count_params=lambda a: a["num_embeddings"] * a["embedding_dim"],
    key_args=lambda a: f"{a['num_embeddings']}×{a['embedding_dim']}",
    saves=saves_inputs(0),
    tensors=lambda a: {"weight": (a["num_embeddings"], a["embedding_dim"])}))
