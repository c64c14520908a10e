"""Stage 4 — infer: shapes, dtypes, parameter counts and MACs of every node, statically.

Runs each op's shape rule in graph order. A node whose rule fails gets a located
diagnostic; nodes downstream of it are skipped silently rather than reporting the same
mistake again.
"""
from __future__ import annotations

from specc import codes
from specc.dims import DimTooLarge, NeedsConcrete, Sym, substitute
from specc.errors import Diagnostic, Limits
from specc.ir import Graph, Node
from specc.ops.base import InferCtx, ShapeError, all_ops
from specc.tensor import HALF_DTYPES


def infer(graph: Graph, limits: Limits | None = None) -> list[Diagnostic]:
    """Fill every node's types, params and MACs; returns the diagnostics of the nodes whose
    shape rule failed."""
    limits = limits or Limits()
    memo: dict = {}
    diagnostics: list[Diagnostic] = []
    for node in graph.nodes:
        if node.broken or any(ref.type is None for ref in node.inputs):
            continue
        diagnostic = _infer_memoised(node, limits, memo)
        if diagnostic is not None:
            diagnostics.append(_better_hint(diagnostic, node, graph))
            if codes.CODES[diagnostic.code].output_kept:
                _continue_past(node, diagnostic, limits)
            given = node.inputs[0].type if node.inputs else None
            if node.out_types is None and given is not None \
                    and diagnostic.code in _SIZE_CODES and all_ops()[node.op].keeps_shape:
                # an activation, dropout or norm refused the input's size or rank: what
                # comes out is still the input (torch gives back its shape when it runs)
                node.out_types = [given]
    return diagnostics


_SIZE_CODES = (codes.SHAPE_MISMATCH.code, codes.SIZE_DISAGREES.code)  # not dtypes: those
# would reach the next node as the wrong dtype and report it again there


def _continue_past(node: Node, diagnostic: Diagnostic, limits: Limits) -> None:
    """Some mistakes do not change what the node produces (codes.Code.output_kept): a given
    size that disagrees with the input (then infer it as if left out), groups or heads that
    do not divide, a dropout p out of range (then take the parameter's default, or 1). The
    node is inferred so, the nodes after it are checked too and every independent error is
    reported in one run; lint skips everything downstream of an error."""
    wrong = next((name for name, loc in node.attr_locs.items()
                  if loc == diagnostic.loc and name in node.given), None)
    if wrong is None:
        return
    param = all_ops()[node.op].param(wrong)
    if param is not None and param.inferred:
        node.given = node.given - {wrong}
    elif param is not None:
        node.attrs[wrong] = param.default if not param.required else 1
    else:
        return
    if infer_node(node, limits) is not None:
        node.out_types = None


_CHANNELS_FIRST = ("Conv1d", "BatchNorm1d", "InstanceNorm1d", "ConvTranspose1d")
_FEATURES_LAST = ("Linear", "LSTM", "GRU", "RNN", "LayerNorm", "MultiheadAttention",
                  "TransformerEncoderLayer", "TransformerDecoderLayer")


def _better_hint(d: Diagnostic, node: Node, graph: Graph) -> Diagnostic:
    """A hint that leads to the right network: binding a symbol with --dim is the fix only
    when the symbol really is a free size, not the batch or a time axis in the wrong place."""
    if d.code != "E304" or not node.inputs or node.inputs[0].type is None:
        return d
    shape = node.inputs[0].type.shape
    batch = graph.batch_symbols
    hint = None
    folded = [dim for dim in shape
              if isinstance(dim, Sym) and dim.symbols() & batch and str(dim) not in batch]
    if folded:
        name = sorted(folded[0].symbols() & batch)[0]
        hint = (f"{name} is the batch size and has been folded into the features (a flatten "
                "from dim 0?): flatten with start_dim: 1")
    elif len(shape) == 3 and node.op in _CHANNELS_FIRST and isinstance(shape[1], Sym) \
            and isinstance(shape[2], int):
        hint = ("this looks like (N, T, C) fed to a layer expecting (N, C, T): add "
                "{op: permute, dims: [0, 2, 1]} before it")
    elif len(shape) == 3 and node.op in _FEATURES_LAST and isinstance(shape[2], Sym) \
            and isinstance(shape[1], int):
        hint = ("this looks like (N, C, T) fed to a layer expecting (N, T, C): add "
                "{op: permute, dims: [0, 2, 1]} before it")
    return d.replace(hint=hint) if hint else d


def _infer_memoised(node: Node, limits: Limits, memo: dict) -> Diagnostic | None:
    """Infer a node, reusing the result of an identical earlier node.

    The copies of a repeated block (80 decoder layers of a 70B model) are the same op with
    the same attributes on the same input types, so each shape rule runs once per distinct
    node, not once per copy: analysis time does not grow with depth beyond expansion.
    Copies that differ (``i``-dependent params, a stride on the first copy only) have other
    keys and are inferred on their own."""
    key = _memo_key(node)
    if key is None:
        return infer_node(node, limits)
    hit = memo.get(key)
    if hit is None:
        diagnostic = infer_node(node, limits)
        if diagnostic is not None:
            return diagnostic  # errors are located per node: never reused
        memo[key] = (node.out_types, node.params, node.macs, dict(node.attrs))
        if node.twin is None:  # the copies of this node (Node.twin) find it by _copy_key
            memo[_copy_key(node, node)] = memo[key]
        return None
    if node.twin is None:
        memo.setdefault(_copy_key(node, node), hit)
    out_types, node.params, node.macs, attrs = hit
    node.out_types = list(out_types)
    node.attrs = dict(attrs)
    return None


def _copy_key(node: Node, original: Node) -> tuple:
    return ("copy", id(original), tuple(ref.type for ref in node.inputs))


def _memo_key(node: Node):
    if node.twin is not None:
        # a copy made by copying (specc/expand/copies.py) has its original's attributes and
        # given names, so the original's result for the same input types is its result;
        # the original is earlier in graph order (its key is filled or it failed)
        return _copy_key(node, node.twin)
    try:
        key = (node.op, repr(sorted(node.attrs.items())), tuple(ref.type for ref in node.inputs),
               frozenset(node.given))
        hash(key)
    except TypeError:  # an unhashable attribute value: infer this node on its own
        return None
    return key


def _check_parameter_input_dtypes(op, ctx: InferCtx, params) -> None:
    """A float input of another declared dtype than the parameters' fails in torch
    (OpDef.parameter_input_dtypes says which the op's kernel takes)."""
    if op.parameter_input_dtypes == "any" or params == 0:
        return
    for index, t in enumerate(ctx.inputs):
        if index in op.shape_inputs or not t.is_float or t.dtype == "float32":
            continue
        if op.parameter_input_dtypes == "same" or t.dtype not in HALF_DTYPES:
            raise ShapeError(
                f"{op.name}'s parameters are built in the model's float dtype (float32, or "
                f"build --dtype), but its input is {t.dtype}: torch refuses the mix",
                code=codes.WRONG_DTYPE,
                hint="cast the input with `op: to` to float32 (it stands for the model's "
                     "dtype), or declare the model input float32 and build with --dtype")


def infer_node(node: Node, limits: Limits) -> Diagnostic | None:
    op = all_ops()[node.op]  # expansion made every other node broken, and those are skipped
    # (and a node runs only when every input's type is known)
    ctx = InferCtx(op, [ref.type for ref in node.inputs if ref.type is not None], node.attrs,
                   node.given)
    try:
        outs = op.infer(ctx)
        if op.plugin is not None:
            _check_rule_result("shape rule", outs, node)
        _check_dims(outs, limits, op.name)
        params, macs = op.count_params(node.attrs), op.macs(ctx, outs)
        if op.plugin is not None:
            _check_rule_result("count_params", params, node)
            _check_rule_result("macs", macs, node)
        _check_counts(params, macs, outs, limits, op.name)
        _check_parameter_input_dtypes(op, ctx, params)
        node.params, node.macs = params, macs
    except _WrongResult as exc:
        return Diagnostic(codes.PLUGIN_RULE.code, f"{op.name} (plugin {op.plugin}): {exc}",
                          "error", node.loc,
                          node.id, "fix the plugin's declaration (docs/plugins.md)")
    except ShapeError as exc:
        loc = node.attr_locs.get(exc.param, node.loc) if exc.param else node.loc
        code = exc.code
        return Diagnostic(code.code, str(exc), code.severity, loc, node.id,
                          exc.hint or code.hint or None, rule=code.name if code.is_rule else None)
    except NeedsConcrete as exc:
        return Diagnostic(codes.NEEDS_CONCRETE.code, f"{op.name}: {exc}", "error", node.loc, node.id,
                          f"bind {', '.join(sorted(exc.dim.symbols()))} with --dim SYM=VALUE")
    except DimTooLarge as exc:
        return Diagnostic(codes.RESOURCE_LIMIT.code, f"{op.name}: {exc}", "error", node.loc,
                          node.id)
    except Exception as exc:
        if op.plugin is not None:  # a plugin's rule failed: name the plugin, no traceback
            return Diagnostic(codes.PLUGIN_RULE.code, f"{op.name} (plugin {op.plugin}): its "
                              f"rule raised {type(exc).__name__}: {exc}", "error", node.loc,
                              node.id, "fix the plugin, or report it to its authors")
        if not isinstance(exc, (ArithmeticError, ValueError, TypeError, LookupError)):
            raise
        return Diagnostic(codes.SHAPE_MISMATCH.code,
                          f"{op.name}: cannot compute the output shape ({exc})",
                          "error", node.loc, node.id)
    node.out_types = list(outs)
    return None


class _WrongResult(Exception):
    pass


def _check_rule_result(what: str, value, node: Node) -> None:
    """A plugin's rule must return what specc's own rules return."""
    from specc.dims import Sym
    from specc.tensor import TensorType

    if what == "shape rule":
        if not isinstance(value, (list, tuple)) or not all(isinstance(t, TensorType)
                                                           for t in value):
            raise _WrongResult(f"its shape rule returned {type(value).__name__}, not a list "
                               "of TensorType")
        if len(value) != len(node.output_names):
            raise _WrongResult(f"its shape rule returned {len(value)} outputs for "
                               f"{len(node.output_names)} declared "
                               f"({', '.join(node.output_names)})")
    elif isinstance(value, bool) or not isinstance(value, (int, Sym)) or (
            isinstance(value, int) and value < 0):
        raise _WrongResult(f"its {what} returned {value!r}, not a non-negative integer")


def _check_dims(outs, limits: Limits, op_name: str) -> None:
    for t in outs:
        for d in t.shape:
            if isinstance(d, int) and d > limits.max_dim:
                raise ShapeError(f"{op_name}: output size {d} is over the limit max_dim "
                                 f"({limits.max_dim})", code=codes.RESOURCE_LIMIT)


def _largest(value) -> int:
    """|value|, or for a symbolic value its largest coefficient (a lower bound on growth)."""
    if isinstance(value, Sym):
        return max(abs(c) for _, c in value.terms)
    return abs(int(value or 0))


def _check_counts(params, macs, outs, limits: Limits, op_name: str) -> None:
    """Elements, parameters and MACs are bounded by max_count: a spec with 10**30
    parameters is a mistake, and counting past ~10**4300 would fail in int→str."""
    for what, value in (("parameters", params), ("MACs", macs)):
        if _largest(value) > limits.max_count:
            raise ShapeError(f"{op_name}: {what} over the limit max_count ({limits.max_count})",
                             code="E004")
    for t in outs:
        numel = 1
        for d in t.shape:
            numel *= _largest(d) or 1
            if numel > limits.max_count:
                raise ShapeError(f"{op_name}: an output of over {limits.max_count} elements is "
                                 "over the limit max_count", code="E004")


def per_sample(value, graph: Graph):
    """Bind the batch symbol(s) to 1 (MACs are reported per sample)."""
    if isinstance(value, Sym):
        return substitute(value, {s: 1 for s in graph.batch_symbols})
    return value


def totals(graph: Graph) -> dict:
    """Parameters (training-only branches included: they are built and saved) and MACs
    per sample of an eval forward (``macs``; training-only branches do not run in eval,
    ``training_only_macs`` is what they add to a training forward)."""
    params = sum(n.params for n in graph.nodes if n.out_types is not None)
    macs = training_only_macs = 0
    for n in graph.nodes:
        if n.out_types is None:
            continue
        if n.training_only:
            training_only_macs = training_only_macs + per_sample(n.macs, graph)
        else:
            macs = macs + per_sample(n.macs, graph)
    # every parameter a spec declares is trained (a spec cannot freeze one); buffers such as
    # BatchNorm's running statistics are not parameters at all
    return {"params": params, "trainable": params, "macs": macs,
            "training_only_macs": training_only_macs}
