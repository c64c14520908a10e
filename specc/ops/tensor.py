"""Functional (lower-case) ops: arithmetic, merging, reshaping, reductions, indexing.

These hold no parameters (except ``parameter``, a learned tensor) and become plain
torch expressions in the generated forward.
"""
from __future__ import annotations

import math

from specc import codes
from specc.dims import Dim, Sym, product
from specc.ops._util import norm_dim, numel
from specc.ops.base import (POINTWISE, EmitCtx, InferCtx, Layout, LayoutCtx, OpDef, Param, Saved,
                            SaveCtx, register, same_storage, saves_nothing)
from specc.ops.linear import flatten_shape
from specc.tensor import (DTYPES, FLOAT_DTYPES, ITEMSIZE, BroadcastError, TensorType,
                          broadcast_shapes, promote_dtypes)

_SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/"}


def _fn(name: str, params: list[Param], infer, template, doc: str, **kw) -> OpDef:
    """A functional op whose code is one expression built by ``template(args, attrs, ctx)``."""

    # ops with a variable number of outputs (chunk, split, unbind) return a tuple even
    # when it holds one part: unpack it, or the next op receives a tuple
    returns_tuple = callable(kw.get("outputs"))

    def emit(ctx: EmitCtx) -> list[str]:
        value = template(ctx.args, ctx.attrs, ctx)
        if len(ctx.outs) == 1:
            return [f"{ctx.outs[0]}{',' if returns_tuple else ''} = {value}"]
        return [f"{', '.join(ctx.outs)} = {value}"]

    return register(OpDef(name, "function", params, infer, doc=doc, emit=emit, **kw))


def _product_saves(ctx: SaveCtx) -> list:
    """mul/div/matmul: each input's gradient needs the other operand (div's divisor is
    needed for both: a/b saves b, and a as well when b needs a gradient)."""
    if len(ctx.inputs) < 2:
        return []  # a scalar operand is kept as a Python number
    first, second = ctx.grad[0], ctx.grad[1]
    keep = set()
    if first or (second and ctx.attrs.get("_divide")):
        keep.add(1)
    if second:
        keep.add(0)
    return [Saved("input", i) for i in sorted(keep)]


def _arith(name: str):
    def infer(ctx: InferCtx):
        if len(ctx.inputs) == 1 and ctx.attrs["other"] is None:
            ctx.fail(f"{name} needs two inputs, or one input and `other`", "other")
        try:
            shape = broadcast_shapes(*(t.shape for t in ctx.inputs))
        except BroadcastError as exc:
            shapes = ", ".join(str(t) for t in ctx.inputs)
            ctx.fail(f"{name}: inputs {shapes} cannot be broadcast: {exc}")
        dtype = promote_dtypes(*(t.dtype for t in ctx.inputs))
        if name == "div" and dtype not in FLOAT_DTYPES:
            dtype = "float32"
        if isinstance(ctx.attrs["other"], float) and dtype not in FLOAT_DTYPES:
            dtype = "float32"
        return [TensorType(shape, dtype)]

    def template(args, attrs, ctx):
        terms = list(args) + ([ctx.constant(attrs["other"])] if attrs["other"] is not None
                              else [])
        return f" {_SYMBOLS[name]} ".join(terms)

    _fn(name, [Param("other", "optfloat", None, doc="a scalar operand")], infer, template,
        f"element-wise {name} of its inputs (torch broadcasting)", category="merge",
        n_inputs=(1, None), receptive=POINTWISE,
        saves=(_divide_saves if name == "div" else _product_saves if name == "mul"
               else saves_nothing))


def _divide_saves(ctx: SaveCtx) -> list:
    return _product_saves(ctx.replace(attrs={**ctx.attrs, "_divide": True}))


for _name in _SYMBOLS:
    _arith(_name)


def _cat(stack: bool):
    def infer(ctx: InferCtx):
        ts = ctx.inputs
        if len(ts) < 1:
            ctx.fail("cat needs inputs")
        rank = ts[0].rank
        for t in ts:
            if t.rank != rank:
                ctx.fail(f"{ctx.op.name}: all inputs need the same rank, got "
                         + ", ".join(str(t) for t in ts))
        axis = norm_dim(ctx, ctx.attrs["dim"], rank + (1 if stack else 0))
        dtype = promote_dtypes(*(t.dtype for t in ts))
        if stack:
            if any(t.shape != ts[0].shape for t in ts):
                ctx.fail("stack: all inputs need the same shape, got "
                         + ", ".join(str(t) for t in ts))
            shape = list(ts[0].shape)
            shape.insert(axis, len(ts))
            return [TensorType(tuple(shape), dtype)]
        for t in ts[1:]:
            for i in range(rank):
                if i != axis and t.shape[i] != ts[0].shape[i]:
                    symbolic = isinstance(t.shape[i], Sym) or isinstance(ts[0].shape[i], Sym)
                    ctx.fail(f"cat along dim {axis}: inputs differ at dim {i}: "
                             + ", ".join(str(t) for t in ts),
                             hint="these sizes agree only for some input sizes: declare the "
                                  "input as a multiple (e.g. 8*h) or bind it with --dim"
                             if symbolic else None)
        shape = list(ts[0].shape)
        shape[axis] = sum((t.shape[axis] for t in ts[1:]), ts[0].shape[axis])
        return [TensorType(tuple(shape), dtype)]
    return infer


def _channel_cat(attrs: dict, nd: int):
    """Concatenating channels keeps positions; concatenating along a spatial dim does not."""
    return POINTWISE if attrs["dim"] in (1, -nd - 1) else None


for _name, _stack in (("cat", False), ("stack", True)):
    _fn(_name, [Param("dim", "int", 0)], _cat(_stack),
        lambda args, a, ctx, n=_name: f"torch.{n}([{', '.join(args)}], dim={a['dim']})",
        f"torch.{_name} of its inputs along dim", category="merge", n_inputs=(1, None),
        saves=saves_nothing, receptive=None if _stack else _channel_cat)


# Views: the output shares the input's storage and autograd saves nothing.
_VIEW = {"saves": saves_nothing, "aliases": same_storage}


def _restrided(rule):
    """A ``layouts`` rule for a view that re-strides its input: rule(input layout, attrs,
    output sizes) -> the view's strides."""
    def layouts(ctx: LayoutCtx) -> dict:
        source = ctx.inputs[0]
        return {0: Layout(ctx.outputs[0], tuple(rule(source, ctx.attrs, ctx.outputs[0])))}
    return layouts


def _axis(dim: int, rank: int) -> int:
    return dim % rank if rank else 0


def _flatten(ctx: InferCtx):
    t = ctx.inputs[0]
    return [t.with_shape(flatten_shape(ctx, t.shape, ctx.attrs["start_dim"], ctx.attrs["end_dim"]))]


_fn("flatten", [Param("start_dim", "int", 0), Param("end_dim", "int", -1)], _flatten,
    lambda args, a, ctx: f"torch.flatten({args[0]}, {a['start_dim']}, {a['end_dim']})",
    "torch.flatten: start_dim=0 by default, as in torch (flattens the batch dim too); the module `Flatten` starts at 1, like nn.Flatten.", category="shape",
    passes_through=True, **_VIEW)


def _target_shape(ctx: InferCtx, param: str):
    return [Sym.symbol(d) if isinstance(d, str) else d for d in ctx.attrs[param]]


def _reshape(ctx: InferCtx):
    t = ctx.inputs[0]
    shape = _target_shape(ctx, "shape")
    if shape.count(-1) > 1:
        ctx.fail(f"{ctx.op.name}: only one dimension can be -1", "shape")
    total = numel(t.shape)
    known = product(d for d in shape if not (isinstance(d, int) and d == -1))
    if isinstance(known, int) and known <= 0 or any(isinstance(d, int) and d < -1 for d in shape):
        ctx.fail(f"{ctx.op.name}: invalid target shape {ctx.attrs['shape']}", "shape")
    if -1 in shape:
        rest = _divide(total, known)
        if rest is None:
            ctx.fail(f"{ctx.op.name}: cannot infer -1: {total} elements are not divisible by "
                     f"{known} (input {t})", "shape",
                     code=codes.NEEDS_CONCRETE if isinstance(total, Sym) else codes.SHAPE_MISMATCH)
        shape[shape.index(-1)] = rest
    elif product(shape) != total:
        ctx.fail(f"{ctx.op.name}: shape {ctx.attrs['shape']} is invalid for an input of "
                 f"{total} elements ({t})", "shape")
    return [t.with_shape(shape)]


def _divide(total: Dim, known: Dim):
    if isinstance(total, int) and isinstance(known, int):
        return total // known if known and total % known == 0 else None
    if isinstance(total, Sym) and isinstance(known, int):
        return total.exact_div(known)
    if isinstance(total, Sym) and isinstance(known, Sym):
        return total.div_by(known)
    return None


def _sizes(a, ctx: EmitCtx, param: str) -> str:
    out = []
    for d in a[param]:
        out.append(ctx.dim_expr(Sym.symbol(d)) if isinstance(d, str) else str(d))
    return ", ".join(out)


for _name in ("reshape", "view"):
    _fn(_name, [Param("shape", "shape", doc="target shape: ints, -1, or symbols such as N")],
        _reshape, lambda args, a, ctx, n=_name: f"{args[0]}.{n}({_sizes(a, ctx, 'shape')})",
        f"Tensor.{_name}", category="shape", passes_through=True, **_VIEW)


def _permute(ctx: InferCtx):
    t = ctx.inputs[0]
    dims = [norm_dim(ctx, d, t.rank, "dims") for d in ctx.attrs["dims"]]
    if sorted(dims) != list(range(t.rank)):
        ctx.fail(f"permute: dims {ctx.attrs['dims']} are not a permutation of the "
                 f"{t.rank} dims of {t}", "dims")
    return [t.with_shape([t.shape[d] for d in dims])]


_fn("permute", [Param("dims", "ints")], _permute,
    lambda args, a, ctx: f"{args[0]}.permute({', '.join(map(str, a['dims']))})",
    "Tensor.permute", category="shape", **_VIEW, layouts=_restrided(
        lambda t, a, _: [t.strides[_axis(d, len(t.sizes))] for d in a["dims"]]))


def _transpose(ctx: InferCtx):
    t = ctx.inputs[0]
    d0 = norm_dim(ctx, ctx.attrs["dim0"], t.rank, "dim0")
    d1 = norm_dim(ctx, ctx.attrs["dim1"], t.rank, "dim1")
    shape = list(t.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return [t.with_shape(shape)]


def _transposed_strides(t: Layout, a: dict, _sizes) -> list:
    strides = list(t.strides)
    d0, d1 = _axis(a["dim0"], len(strides)), _axis(a["dim1"], len(strides))
    strides[d0], strides[d1] = strides[d1], strides[d0]
    return strides


_fn("transpose", [Param("dim0", "int"), Param("dim1", "int")], _transpose,
    lambda args, a, ctx: f"{args[0]}.transpose({a['dim0']}, {a['dim1']})",
    "Tensor.transpose", category="shape", **_VIEW, layouts=_restrided(_transposed_strides))


def _unsqueeze(ctx: InferCtx):
    t = ctx.inputs[0]
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank + 1)
    shape = list(t.shape)
    shape.insert(axis, 1)
    return [t.with_shape(shape)]


_fn("unsqueeze", [Param("dim", "int")], _unsqueeze,
    lambda args, a, ctx: f"{args[0]}.unsqueeze({a['dim']})", "Tensor.unsqueeze",
    category="shape", passes_through=True, **_VIEW)


def _squeeze(ctx: InferCtx):
    t = ctx.inputs[0]
    if ctx.attrs["dim"] is None:
        if any(isinstance(d, Sym) for d in t.shape):
            ctx.fail("squeeze without dim on a symbolic shape: give dim", "dim", code=codes.NEEDS_CONCRETE)
        return [t.with_shape([d for d in t.shape if d != 1])]
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    shape = list(t.shape)
    if shape[axis] == 1:
        shape.pop(axis)
    return [t.with_shape(shape)]


_fn("squeeze", [Param("dim", "optint", None)], _squeeze,
    lambda args, a, ctx: f"{args[0]}.squeeze({'' if a['dim'] is None else a['dim']})",
    "Tensor.squeeze", category="shape", passes_through=True, **_VIEW)


def _reduce(ctx: InferCtx):
    t = ctx.inputs[0]
    dim = ctx.attrs["dim"]
    if ctx.op.name == "mean":
        ctx.need_float()
    if dim is None:
        return [t.with_shape(())]
    dims = {norm_dim(ctx, d, t.rank) for d in (dim if isinstance(dim, list) else [dim])}
    keep = ctx.attrs["keepdim"]
    shape = [1 if i in dims else d for i, d in enumerate(t.shape) if keep or i not in dims]
    dtype = t.dtype if ctx.op.name == "mean" or t.is_float else "int64"
    return [TensorType(tuple(shape), dtype)]


for _name in ("mean", "sum", "amax", "amin"):
    _fn(_name, [Param("dim", "dims", None), Param("keepdim", "bool", False)], _reduce,
        lambda args, a, ctx, n=_name: (f"{args[0]}.{n}()" if a["dim"] is None else
                                       f"{args[0]}.{n}(dim={a['dim']!r}, keepdim={a['keepdim']})"),
        f"Tensor.{_name} over dim (all dims when omitted)", category="reduce",
        saves=saves_nothing if _name in ("mean", "sum") else
        lambda ctx: [Saved("input", 0), Saved("output", 0)])


def _select(ctx: InferCtx):
    t = ctx.inputs[0]
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    index, size = ctx.attrs["index"], t.shape[axis]
    if isinstance(size, int) and not -size <= index < size:
        ctx.fail(f"select: index {index} is out of range for dim {axis} of size {size}", "index")
    return [t.with_shape(t.shape[:axis] + t.shape[axis + 1:])]


_fn("select", [Param("dim", "int"), Param("index", "int")], _select,
    lambda args, a, ctx: f"{args[0]}.select({a['dim']}, {a['index']})",
    "Tensor.select: index one position of dim, removing it", category="index", **_VIEW,
    layouts=_restrided(lambda t, a, _: [stride for d, stride in enumerate(t.strides)
                                        if d != _axis(a["dim"], len(t.strides))]))


def _slice(ctx: InferCtx):
    t = ctx.inputs[0]
    a = ctx.attrs
    axis = norm_dim(ctx, a["dim"], t.rank)
    size = t.shape[axis]
    start, end, step = a["start"], a["end"], a["step"]
    if isinstance(end, str):  # to a symbolic length: a table of max_positions cut to T
        if start not in (None, 0) or step != 1:
            ctx.fail("slice: a symbolic end needs start 0 and step 1", "end")
        shape = list(t.shape)
        shape[axis] = Sym.symbol(end)  # torch clamps past the end; T ≤ the size is the contract
        return [t.with_shape(shape)]
    if isinstance(size, int):
        length = len(range(*slice(start, end, step).indices(size)))
    else:
        lo = 0 if start is None else (size + start if start < 0 else start)
        hi = size if end is None else (size + end if end < 0 else end)
        length = (hi - lo + step - 1) // step
    shape = list(t.shape)
    shape[axis] = length  # torch allows empty slices
    return [t.with_shape(shape)]


def _slice_code(args, a, ctx) -> str:
    index = ["slice(None)"] * (a["dim"] % ctx.in_types[0].rank)
    end = a["end"]
    if isinstance(end, str):
        end = ctx.dim_expr(Sym.symbol(end))  # read off a tensor that has that size
    parts = ("" if a["start"] is None else str(a["start"])) + ":" + \
        ("" if end is None else str(end)) + ("" if a["step"] == 1 else f":{a['step']}")
    return f"{args[0]}[{', '.join([':'] * len(index) + [parts])}]"


_fn("slice", [Param("dim", "int", 0), Param("start", "optint", None),
              Param("end", "optintsym", None, doc="an index, or a symbol such as T: cut to "
                                                  "that (symbolic) length"),
              Param("step", "posint", 1)], _slice, _slice_code,
    "x[..., start:end:step] along dim; `end: T` cuts to a symbolic length (e.g. a position "
    "table to the sequence length)", category="index", **_VIEW,
    layouts=_restrided(lambda t, a, _: [stride * (a["step"] if d == _axis(a["dim"], len(t.strides))
                                                  else 1) for d, stride in enumerate(t.strides)]))


def _matmul(ctx: InferCtx):
    a, b = ctx.inputs
    if a.rank == 0 or b.rank == 0:
        ctx.fail("matmul: both inputs need at least one dim")
    sa = a.shape if a.rank > 1 else (1, *a.shape)
    sb = b.shape if b.rank > 1 else (*b.shape, 1)
    if sa[-1] != sb[-2]:
        ctx.fail(f"matmul: inner sizes differ: {a} @ {b} ({sa[-1]} vs {sb[-2]})")
    try:
        batch = broadcast_shapes(sa[:-2], sb[:-2])
    except BroadcastError as exc:
        ctx.fail(f"matmul: batch dims of {a} and {b} do not broadcast: {exc}")
    shape = list(batch) + ([sa[-2]] if a.rank > 1 else []) + ([sb[-1]] if b.rank > 1 else [])
    return [TensorType(tuple(shape), promote_dtypes(a.dtype, b.dtype))]


def _matmul_saves(ctx: SaveCtx) -> list:
    """torch.matmul (aten's _matmul_impl): each operand is kept for the other's gradient,
    as the mm/mv/bmm it dispatches to sees it. Matrices and vectors: the inputs. One
    operand of 3+ dims and one of at most 2 fold the larger into a matrix (reshape: a
    copy when its leading dims do not merge; the right operand is folded transposed) when
    the smaller needs a gradient or the fold is free. Otherwise both are expanded to the
    broadcast batch and reshaped to [batch, rows, cols]: an operand whose batch dims
    cannot merge (a transpose of heads selected from a fused q/k/v) or that really
    broadcasts is a copy."""
    a, b = ctx.inputs
    if a.rank <= 2 and b.rank <= 2:
        return _product_saves(ctx)
    grad_a, grad_b = ctx.grad[0], ctx.grad[1]
    layout_a, layout_b = ctx.layouts[0], ctx.layouts[1]
    if _matmul_folds(a.rank, b.rank, layout_a, layout_b, grad_a, grad_b):
        # t1: the larger operand (the right one transposed), read as a matrix; t2: the other
        transpose = b.rank > a.rank
        larger, index = (_mT(layout_b), 1) if transpose else (layout_a, 0)
        folded = larger.folds(0, len(larger.sizes) - 1)
        small_grad, large_grad = (grad_a, grad_b) if transpose else (grad_b, grad_a)
        kept = []
        if small_grad:  # the folded larger operand, for the smaller one's gradient
            kept.append(Saved("input", index) if folded
                        else Saved("new", numel=product(larger.sizes)))
        if large_grad:
            kept.append(Saved("input", 1 - index))
        return kept
    batch = broadcast_shapes(layout_a.sizes[:-2], layout_b.sizes[:-2])
    shared = product(batch)

    def operand(index: int, layout: Layout) -> Saved:
        rows = _bmm_matrix(layout.sizes, index == 0)
        expanded = layout.expanded((*batch, *rows))
        if expanded.reshaped((shared, *rows)) is not None:
            return Saved("input", index)
        return Saved("new", numel=shared * product(rows))

    return ([operand(0, layout_a)] if grad_b else []) + ([operand(1, layout_b)] if grad_a else [])


def _mT(layout: Layout) -> Layout:
    order = list(range(len(layout.sizes)))
    order[-2], order[-1] = order[-1], order[-2]
    return layout.permuted(order)


def _bmm_matrix(sizes: tuple, left: bool) -> tuple:
    """The matrix each batch element of an operand is, as bmm sees it (a vector on the
    left is one row; on the right torch expands it as [*, m] and unsqueezes a column)."""
    if len(sizes) == 1:
        return (1, sizes[0]) if left else (sizes[0],)
    return tuple(sizes[-2:])


def _matmul_folds(rank_a: int, rank_b: int, a: Layout, b: Layout, grad_a: bool,
                  grad_b: bool) -> bool:
    """aten's should_fold: the larger operand (3+ dims) becomes a matrix when the other
    has at most 2 dims and either needs a gradient or the fold needs no copy."""
    a_larger = rank_a >= rank_b
    larger = a if a_larger else _mT(b)
    if not (len(larger.sizes) >= 3 and (rank_b if a_larger else rank_a) <= 2):
        return False
    if grad_b if a_larger else grad_a:
        return True
    if rank_a == 2:
        return False
    sizes, strides = larger.sizes, larger.strides
    return product(sizes) == 0 or all(strides[i] == strides[i + 1] * sizes[i + 1]
                                          for i in range(len(sizes) - 2))


_fn("matmul", [], _matmul, lambda args, a, ctx: f"torch.matmul({args[0]}, {args[1]})",
    "torch.matmul (batched, broadcasting)", category="merge", n_inputs=(2, 2),
    saves=_matmul_saves, backward_macs=lambda ctx, macs, has_params: macs * sum(ctx.grad),
    macs=lambda ctx, outs: numel(outs[0].shape) * (
        ctx.inputs[0].shape[-1]))


def _split_sizes(ctx: InferCtx, size: Dim) -> list[Dim]:
    a = ctx.attrs
    if ctx.op.name == "chunk":
        n = a["chunks"]
        if isinstance(size, Sym):
            part = size.exact_div(n)
            if part is None:
                ctx.fail(f"chunk: cannot split symbolic size {size} into {n}", "chunks",
                         code=codes.NEEDS_CONCRETE)
            return [part] * n
        part = -(-size // n)
        sizes = [part] * (size // part) + ([size % part] if size % part else [])
        return sizes
    sections = a["split_size_or_sections"]
    if isinstance(sections, list):
        if sum(sections) != size:
            ctx.fail(f"split: sections {sections} do not add up to {size}",
                     "split_size_or_sections")
        return list(sections)
    size = ctx.concrete(size, "split with a fixed split size")
    return [sections] * (size // sections) + ([size % sections] if size % sections else [])


def _split(ctx: InferCtx):
    t = ctx.inputs[0]
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    sizes = _split_sizes(ctx, t.shape[axis])
    if len(sizes) != len(_part_names(ctx.attrs)):
        ctx.fail(f"{ctx.op.name}: splitting {t.shape[axis]} gives {len(sizes)} parts, but "
                 f"names lists {len(_part_names(ctx.attrs))}", "names", code="E301")
    if len(sizes) != _n_parts(ctx.attrs):
        ctx.fail(f"{ctx.op.name}: splitting {t.shape[axis]} gives {len(sizes)} parts, "
                 f"not {_n_parts(ctx.attrs)}", code=codes.SHAPE_MISMATCH)
    return [t.with_shape(t.shape[:axis] + (s,) + t.shape[axis + 1:]) for s in sizes]


def _n_parts(a: dict) -> int:
    if "chunks" in a:
        return a["chunks"]
    sections = a["split_size_or_sections"]
    return len(sections) if isinstance(sections, list) else a.get("parts") or 1


def _part_names(a: dict):
    return tuple(a.get("names") or [str(i) for i in range(_n_parts(a))])


def _parts_layouts(ctx: LayoutCtx) -> dict:
    """chunk / split: each part is a narrow of the input, with its strides."""
    return {i: Layout(sizes, ctx.inputs[0].strides) for i, sizes in enumerate(ctx.outputs)}


_fn("chunk", [Param("chunks", "posint"), Param("dim", "int", 0),
              Param("names", "names", None, to_torch=False, doc="names for the parts")],
    _split, lambda args, a, ctx: f"torch.chunk({args[0]}, {a['chunks']}, dim={a['dim']})",
    "torch.chunk into named outputs (`from: node.0` or the given names)", category="index",
    saves=saves_nothing, aliases=lambda a: {i: 0 for i in range(_n_parts(a))},
    layouts=_parts_layouts, outputs=_part_names)
_fn("split", [Param("split_size_or_sections", "posints"), Param("dim", "int", 0),
              Param("parts", "optpos", None, to_torch=False,
                    doc="number of parts when split_size is an int"),
              Param("names", "names", None, to_torch=False)],
    _split, lambda args, a, ctx: f"torch.split({args[0]}, {a['split_size_or_sections']!r}, "
                                 f"dim={a['dim']})",
    "torch.split into named outputs", category="index", outputs=_part_names,
    saves=saves_nothing, aliases=lambda a: {i: 0 for i in range(_n_parts(a))},
    layouts=_parts_layouts)


def _expand(ctx: InferCtx):
    t = ctx.inputs[0]
    size = _target_shape(ctx, "size")
    if len(size) < t.rank:
        ctx.fail(f"expand: size {ctx.attrs['size']} has fewer dims than the input {t}", "size")
    offset = len(size) - t.rank
    out = []
    for i, d in enumerate(size):
        own = t.shape[i - offset] if i >= offset else None
        if isinstance(d, int) and d == -1:
            if own is None:
                ctx.fail("expand: -1 is not allowed for a new leading dim", "size")
            out.append(own)
        elif own is not None and own != 1 and own != d:
            ctx.fail(f"expand: cannot expand size {own} to {d} (input {t})", "size")
        else:
            out.append(d)
    return [t.with_shape(out)]


_fn("expand", [Param("size", "shape", doc="target sizes; -1 keeps a dim; symbols like N")],
    _expand, lambda args, a, ctx: f"{args[0]}.expand({_sizes(a, ctx, 'size')})",
    "Tensor.expand (broadcast view)", category="shape", **_VIEW,
    layouts=lambda ctx: {0: ctx.inputs[0].expanded(ctx.outputs[0])})


def _parameter(ctx: InferCtx):
    shape = ctx.attrs["shape"]
    if any(d < 0 for d in shape):
        ctx.fail(f"parameter: sizes cannot be negative, got {shape}", "shape", code="E104")
    return [TensorType(tuple(shape), "float32")]


def _flat(values) -> list:
    if isinstance(values, list):
        return [x for v in values for x in _flat(v)]
    return [values]


def _buffer_bytes(a: dict) -> tuple:
    """(float elements, bytes of an integer or bool buffer): see OpDef.buffers."""
    count = product(a["shape"])
    if a["dtype"] in FLOAT_DTYPES:
        return count, 0
    return 0, count * ITEMSIZE[a["dtype"]]


def _buffer(ctx: InferCtx):
    a = ctx.attrs
    shape = a["shape"]
    if any(s < 0 for s in shape):
        ctx.fail(f"buffer: shape {list(shape)} has a negative size", "shape", code="E104")
    if a["values"] is not None:
        flat = _flat(a["values"])
        if len(flat) != product(shape):
            ctx.fail(f"buffer: {len(flat)} values do not fill the shape {shape} "
                     f"({product(shape)} elements)", "values", code="E302")
        if a["dtype"] not in FLOAT_DTYPES and any(
                isinstance(x, float) for x in flat):
            ctx.fail(f"buffer: a {a['dtype']} buffer cannot hold {next(x for x in flat if isinstance(x, float))}",
                     "values", code="E305")
    elif isinstance(a["fill"], str) and a["dtype"] not in FLOAT_DTYPES:
        ctx.fail(f"buffer: fill {a['fill']} needs a float dtype, not {a['dtype']}", "fill",
                 code="E305")
    return [TensorType(tuple(shape), a["dtype"])]


register(OpDef(
    "buffer", "buffer",
    [Param("shape", "ints", doc="shape of the tensor"),
     Param("dtype", "str", "float32", choices=DTYPES),
     Param("persistent", "bool", True, doc="saved in the state_dict (register_buffer's "
                                           "persistent)"),
     Param("values", "values", None, doc="the values, a (nested) list filling the shape in "
                                         "order (e.g. Swin's relative position index)"),
     Param("fill", "fill", 0, doc="the value of every element when values is not given: a "
                                  "number, -inf, inf, or min/max of the dtype")],
    _buffer, doc="a constant tensor registered as a buffer (register_buffer) under the node's "
                 "name: not a parameter, saved in the state_dict unless persistent: false; a "
                 "float32 buffer follows the build dtype",
    category="parameter", n_inputs=(0, 0), saves=saves_nothing, buffers=_buffer_bytes,
    key_args=lambda a: f"{a['dtype']}{'' if a['persistent'] else ', not saved'}"))


register(OpDef(
    "parameter", "parameter",
    [Param("shape", "ints", doc="shape of the learned tensor")],
    _parameter, doc="a learned tensor (nn.Parameter) registered under the node's name, "
                    "e.g. a class token or a position embedding; zeros unless the node's "
                    "`init:` says otherwise (e.g. {method: normal, std: 0.02})",
    category="parameter", n_inputs=(0, 0), count_params=lambda a: math.prod(a["shape"]),
    saves=saves_nothing,
    tensors=lambda a: {"weight": tuple(a["shape"])}))
