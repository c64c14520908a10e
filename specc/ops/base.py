"""The op registry: one :class:`OpDef` per op, in the spirit of ONNX operator schemas.

An OpDef holds everything specc knows about an op — its parameters (names, types,
defaults; they generate the JSON Schema), its shape/dtype rule, its parameter count,
its MACs, and how it becomes torch code. Adding an op means adding one declaration
in one file of :mod:`specc.ops`.
"""
from __future__ import annotations

from collections.abc import Callable

# typing.TYPE_CHECKING without importing typing: `specc check` never needs it at run time
# (annotations are strings here), and the import is ~2 ms of its start-up
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

from specc import codes
from specc.codes import Code
from specc.dims import Dim, Sym, product
from specc.tensor import FLOAT_MAX, HALF_DTYPES, TensorType
from specc.values import Record, Value

REQUIRED = object()  # marks a parameter without a default


class Param(Value):
    """One parameter of an op (it generates its JSON Schema)."""

    __slots__ = ("name", "type", "default", "doc", "choices", "inferred", "to_torch",
                 "list_of_one")
    name: str
    type: str  # see specc.ops.ptypes.PTYPES
    default: Any
    doc: str
    choices: tuple | None
    inferred: bool  # may be omitted: specc infers it from the input
    to_torch: bool  # passed to the torch constructor / function
    # A one-element list means "this value on every spatial dim": torch expands it for
    # strides, paddings, dilations and pool windows, but not for a conv kernel (the weight's
    # shape) or an output size, where [3] on a 2-D op fails when it runs.
    list_of_one: bool

    def __init__(self, name: str, type: str, default: Any = REQUIRED, doc: str = "",
                 choices: tuple | None = None, inferred: bool = False, to_torch: bool = True,
                 list_of_one: bool = True):
        self._set_fields(name, type, default, doc, choices, inferred, to_torch, list_of_one)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED and not self.inferred


class ShapeError(Exception):
    """Raised by a shape rule; ``param`` names the argument to point at, ``code`` is the
    entry of specc.codes the finding is reported under (its severity, name and hint)."""

    def __init__(self, message: str, param: str | None = None, hint: str | None = None,
                 code: Code | str = codes.SHAPE_MISMATCH):
        # a code string ("E306") is looked up in the table: an unknown one is a KeyError
        self.code = codes.CODES[code] if isinstance(code, str) else code
        self.param, self.hint = param, hint
        super().__init__(message)


class InferCtx:
    """What a shape rule sees: the node's input types and its (mutable) attributes."""

    __slots__ = ("op", "inputs", "attrs", "given")

    def __init__(self, op: OpDef, inputs: list[TensorType], attrs: dict, given: set):
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
        self.given = given  # attribute names the spec wrote explicitly

    def fail(self, message: str, param: str | None = None, hint: str | None = None,
             code: Code | str = codes.SHAPE_MISMATCH):
        """Reject the node, reporting `message` under `code` (an entry of specc.codes)."""
        raise ShapeError(message, param, hint, code)

    def infer_attr(self, name: str, value, what: str = "") -> None:
        """Fill an inferable attribute, or check the one the spec gave."""
        if isinstance(value, Sym):
            if name in self.given:
                # A given size on a symbolic dim holds for one value of the symbol only,
                # while the inferred shapes claim every value: say so instead of building
                # a model that fails at the first other size.
                raise ShapeError(
                    f"{self.op.name} has {name}={self.attrs[name]!r} but its input's "
                    f"{what or 'size'} is symbolic ({value}): the layer accepts only "
                    f"{value} = {self.attrs[name]!r}", name,
                    hint=f"declare that size as {self.attrs[name]!r} in the input's shape, "
                         f"bind {', '.join(sorted(value.symbols()))} with --dim, or remove "
                         f"{name} to infer it", code=codes.SIZE_DISAGREES)
            raise ShapeError(f"{self.op.name} cannot infer {name}: the input's {what or 'size'} "
                             f"is symbolic ({value})"
                             + (f" (input {self.inputs[0]})" if self.inputs else ""), name,
                             hint=f"give {name} explicitly or bind "
                                  f"{', '.join(sorted(value.symbols()))} with --dim",
                             code=codes.NEEDS_CONCRETE)
        if name in self.given and self.attrs[name] != value:
            raise ShapeError(f"{self.op.name} has {name}={self.attrs[name]!r} but its input's "
                             f"{what or 'size'} is {value} (input {self.inputs[0]})", name,
                             hint=f"remove {name} to infer it, or fix the previous layer",
                             code=codes.SIZE_DISAGREES)
        self.attrs[name] = value

    def need_rank(self, *ranks: int, index: int = 0) -> TensorType:
        t = self.inputs[index]
        if t.rank not in ranks:
            want = " or ".join(f"{r}-D" for r in ranks)
            self.fail(f"{self.op.name} expects a {want} input, got {t.rank}-D {t}")
        return t

    def need_float(self, index: int = 0) -> TensorType:
        t = self.inputs[index]
        if not t.is_float:
            self.fail(f"{self.op.name} needs a floating-point input, got {t.dtype}",
                      code=codes.WRONG_DTYPE, hint="integer tensors feed Embedding; cast floats earlier")
        return t

    def positive(self, value: Dim, what: str) -> Dim:
        if isinstance(value, int) and value <= 0:
            self.fail(f"{self.op.name}: {what} would be {value} — the input is too small "
                      f"(input {self.inputs[0]})", code=codes.NONPOSITIVE_SIZE)
        return value

    def concrete(self, value: Dim, what: str) -> int:
        if isinstance(value, Sym):
            raise ShapeError(f"{self.op.name}: {what} needs a concrete size, but it is "
                             f"{value}", hint=f"bind {', '.join(sorted(value.symbols()))} "
                             "with --dim SYM=VALUE or give a concrete input shape",
                             code=codes.NEEDS_CONCRETE)
        return value


InferFn = Callable[[InferCtx], list]


# --- what autograd keeps for backward, and how outputs share storage -----------------
# Measured per op with torch.autograd.graph.saved_tensors_hooks (unique storages); the
# memory analysis (specc.analyses.memory) reads these declarations, never op names.

class Saved(Value):
    """One tensor autograd saves for the backward pass.

    ``what`` is "input" / "output" (the node's own tensor ``index``: its storage is
    shared, so a tensor saved by two ops counts once) or "new" (a private tensor of
    ``numel`` elements, e.g. a dropout mask or BatchNorm's saved mean). A "new"
    tensor's ``dtype`` is the activation dtype unless given ("int64" for max-pool
    indices, "float32" for what a low-precision kernel keeps in fp32), or a dict
    activation dtype -> bytes per element for opaque buffers (oneDNN's LSTM workspace).
    "new" items of one node with the same ``key`` are one tensor, counted once (e.g. a
    fused q/k/v projection that several of the op's steps keep)."""

    __slots__ = ("what", "index", "numel", "dtype", "key")
    what: str
    index: int
    numel: Dim
    dtype: str | dict | None
    key: str | None

    def __init__(self, what: str, index: int = 0, numel: Dim = 0,
                 dtype: str | dict | None = None, key: str | None = None):
        self._set_fields(what, index, numel, dtype, key)


class Layout(Value):
    """A tensor's concrete sizes and element strides in its storage: views change them
    without copying (a transpose swaps two strides), and whether a kernel can fold dims
    into one without a copy depends on them (torch.matmul's reshape to a batch of
    matrices, a Linear's flatten to a matrix)."""

    __slots__ = ("sizes", "strides")
    sizes: tuple
    strides: tuple

    def __init__(self, sizes: tuple, strides: tuple):
        self._set_fields(sizes, strides)

    @staticmethod
    def contiguous(sizes) -> Layout:
        strides, step = [], 1
        for size in reversed(tuple(sizes)):
            strides.append(step)
            step *= max(size, 1)
        return Layout(tuple(sizes), tuple(reversed(strides)))

    @property
    def is_contiguous(self) -> bool:
        """torch's is_contiguous: dense in row-major order; size-1 dims' strides do not
        matter."""
        step = 1
        for size, stride in zip(reversed(self.sizes), reversed(self.strides)):
            if size == 0:
                return True
            if size != 1 and stride != step:
                return False
            step *= size
        return True

    def reshaped(self, sizes) -> Layout | None:
        """The view of these sizes (torch's computeStride, what reshape and view use),
        or None when the dims cannot be regrouped without a copy."""
        sizes = tuple(sizes)
        old, old_strides = self.sizes, self.strides
        if not old:
            return Layout(sizes, (1,) * len(sizes))
        if any(size == 0 for size in old):
            return Layout.contiguous(sizes)
        strides = [0] * len(sizes)
        view_d = len(sizes) - 1
        chunk_base = old_strides[-1]
        tensor_numel = view_numel = 1
        for d in range(len(old) - 1, -1, -1):
            tensor_numel *= old[d]
            if d == 0 or (old[d - 1] != 1 and old_strides[d - 1] != tensor_numel * chunk_base):
                while view_d >= 0 and (view_numel < tensor_numel or sizes[view_d] == 1):
                    strides[view_d] = view_numel * chunk_base
                    view_numel *= sizes[view_d]
                    view_d -= 1
                if view_numel != tensor_numel:
                    return None
                if d > 0:
                    chunk_base, tensor_numel, view_numel = old_strides[d - 1], 1, 1
        return Layout(sizes, tuple(strides)) if view_d == -1 else None

    def folds(self, start: int, end: int) -> bool:
        """Can dims start..end-1 be read as one dim without a copy?"""
        merged = (*self.sizes[:start], product(self.sizes[start:end]), *self.sizes[end:])
        return self.reshaped(merged) is not None

    def permuted(self, dims) -> Layout:
        return Layout(tuple(self.sizes[d] for d in dims), tuple(self.strides[d] for d in dims))

    def expanded(self, sizes) -> Layout:
        """torch's expand: new leading dims, and size-1 dims that grow, get stride 0."""
        sizes = tuple(sizes)
        offset = len(sizes) - len(self.sizes)
        strides = [0] * offset + [
            0 if own == 1 and size != 1 else stride
            for own, stride, size in zip(self.sizes, self.strides, sizes[offset:])]
        return Layout(sizes, tuple(strides))


class LayoutCtx:
    """What a ``layouts`` rule sees: attributes, the inputs' layouts, the outputs' concrete
    sizes, which outputs are views of which input (``aliases``) and, in training, which
    inputs require grad (a kernel choice may depend on it)."""

    __slots__ = ("attrs", "inputs", "outputs", "aliases", "grad")

    def __init__(self, attrs: dict, inputs: list[Layout], outputs: list[tuple], aliases: dict,
                 grad: list | None = None):
        self.attrs = attrs
        self.inputs = inputs
        self.outputs = outputs
        self.aliases = aliases
        self.grad: list = [] if grad is None else grad


def view_layouts(ctx: LayoutCtx) -> dict:
    """The default ``layouts`` rule: a view re-reads its input at the output's sizes
    (reshape, view, flatten, squeeze, unsqueeze; in-place and pass-through ops keep the
    sizes), None where that needs a copy (reshaping a transposed tensor); every other
    output is a new contiguous tensor."""
    return {index: ctx.inputs[source].reshaped(ctx.outputs[index])
            for index, source in ctx.aliases.items()
            if source < len(ctx.inputs) and index < len(ctx.outputs)}


class SaveCtx(Record):
    """What a ``saves`` rule sees: attributes, types, and which inputs need a gradient."""

    __slots__ = ("attrs", "inputs", "outputs", "grad", "dtype", "device", "layouts")

    def __init__(self, attrs: dict, inputs: list[TensorType], outputs: list[TensorType],
                 grad: list[bool], dtype: str = "float32", device: str = "cuda",
                 layouts: list | None = None):
        self.attrs = attrs
        self.inputs = inputs
        self.outputs = outputs
        # per input: does it require grad (is it downstream of a parameter)?
        self.grad = grad
        self.dtype = dtype  # the dtype the model runs in (kernels differ by precision)
        # the device family the model trains on: "cuda" (torch's meta kernels mirror
        # CUDA's, and the tests measure them) or "cpu" (the kernels the tests run); a few
        # kernels differ
        self.device = device
        # per input: its concrete sizes and strides (see Layout, OpDef.layouts): a kernel
        # that needs dims folded copies an input whose strides do not allow it
        self.layouts: list = [] if layouts is None else layouts

    @property
    def low_precision(self) -> bool:
        return self.dtype in HALF_DTYPES

    @property
    def stats_dtype(self) -> str | None:
        """The dtype BatchNorm, InstanceNorm and LayerNorm keep their saved mean and inverse
        std in: CUDA's kernels (and the meta kernels) accumulate a bfloat16/float16 input in
        float32, the CPU kernels keep the input's dtype (None: the activation dtype)."""
        return "float32" if self.device != "cpu" and self.low_precision else None

    @property
    def compute_dtype(self) -> str | None:
        """The dtype of what a composite op upcasts to (RMSNorm, the math attention path):
        float32 for a bfloat16/float16 model, else the activation dtype (None)."""
        return "float32" if self.low_precision else None


SavesFn = Callable[[SaveCtx], list]


def saves_inputs(*indices: int) -> SavesFn:
    """The rule "saves these inputs" (Conv, Linear: the input for the weight gradient)."""
    return lambda ctx: [Saved("input", i) for i in indices if i < len(ctx.inputs)]


def saves_output(_ctx: SaveCtx) -> list:
    """ReLU, Sigmoid, Tanh, Softmax: the backward reads the result."""
    return [Saved("output", 0)]


def saves_nothing(_ctx: SaveCtx) -> list:
    return []


def same_storage(_attrs: dict) -> dict:
    """``aliases`` of views and pass-throughs: output 0 shares input 0's storage."""
    return {0: 0}


class Window(Value):
    """One spatial dim of a sliding-window op, for the receptive field (Araujo et al.,
    Distill 2019). ``transposed`` windows (ConvTranspose, nearest upsampling) map
    an output position back to input positions divided by the stride."""

    __slots__ = ("kernel", "stride", "padding", "dilation", "transposed")
    kernel: int
    stride: int
    padding: int
    dilation: int
    transposed: bool

    def __init__(self, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1,
                 transposed: bool = False):
        self._set_fields(kernel, stride, padding, dilation, transposed)


# ``receptive`` of an OpDef: None (the op mixes or drops spatial positions: the field is
# not defined after it), POINTWISE (position i of the output reads position i of its
# inputs), or a function (attrs, nd) -> [Window per spatial dim], POINTWISE or None,
# nd being the number of spatial dims of the field's source.
POINTWISE = "pointwise"


class EmitCtx:
    """What code generation sees for one node."""

    __slots__ = ("module", "args", "outs", "attrs", "in_types", "out_types", "dim_expr",
                 "float_dtype")

    def __init__(self, module: str | None, args: list[str], outs: list[str], attrs: dict,
                 in_types: list[TensorType], out_types: list[TensorType],
                 dim_expr: Callable[[Dim], str], float_dtype: str = "float32"):
        self.module = module  # expression for the node's submodule (module ops)
        self.args = args  # expressions for the inputs
        self.outs = outs  # variable names for the outputs
        self.attrs = attrs
        self.in_types = in_types
        self.out_types = out_types
        self.dim_expr = dim_expr  # a symbolic size → runtime Python expression
        self.float_dtype = float_dtype  # the dtype the model is built in (`build --dtype`)

    def constant(self, value) -> str:
        """A scalar as code. A finite float beyond the build dtype's range becomes that
        dtype's finfo min/max (as HF writes masks), not an inf that turns 0 * x into NaN."""
        if isinstance(value, float) and abs(value) != float("inf") \
                and abs(value) > FLOAT_MAX[self.float_dtype]:
            return f"torch.finfo(torch.{self.float_dtype}).{'max' if value > 0 else 'min'}"
        return repr(value)


def emit_call(ctx: EmitCtx) -> list[str]:
    """Default code for an op: one call whose outputs are unpacked by position."""
    call = f"{ctx.module}({', '.join(ctx.args)})"
    if len(ctx.outs) == 1:
        return [f"{ctx.outs[0]} = {call}"]
    return [f"{', '.join(ctx.outs)} = {call}"]


def _weight_and_input_grads(ctx: SaveCtx, macs: Dim, has_params: bool) -> Dim:
    """OpDef.backward_macs undeclared: one product for the weight gradient, one for the
    input gradient."""
    return macs * (int(has_params) + int(any(ctx.grad)))


class OpDef:
    """Everything specc knows about one op. (A plain class, not a dataclass: see
    specc/values.py. Its fields are the parameters of ``__init__``; ``param_map`` and,
    for an op that does not declare it, ``param_tensors`` follow from the others.)"""

    def __init__(self, name: str, kind: str, params: list[Param], infer: InferFn, doc: str = "",
                 category: str = "misc", n_inputs: tuple[int, int | None] = (1, 1),
                 outputs: tuple[str, ...] | Callable[[dict], tuple[str, ...]] = ("out",),
                 count_params: Callable[[dict], int] = lambda attrs: 0,
                 macs: Callable[[InferCtx, list], Dim] = lambda ctx, outs: 0,
                 emit: Callable[[EmitCtx], list[str]] = emit_call, torch_class: str | None = None,
                 runtime_class: str | None = None,
                 tensors: Callable[[dict], dict] = lambda attrs: {},
                 parameter_input_dtypes: str = "same",
                 key_args: Callable[[dict], str] | None = None, passes_through: bool = False,
                 weighted: bool = False, channel_norm: bool = False,
                 output_range: str | None = None, normalizes: str | None = None,
                 spatial_rank: int | None = None, floors_windows: bool = False,
                 layout: str | None = None, keeps_meaning: bool = False,
                 batch_stats: bool = False, keeps_shape: bool = False, saturates: bool = False,
                 sequence_masks: tuple[str, ...] | None = None, mask_input: int | None = None,
                 key_input: Callable[[dict], int | None] = lambda attrs: None,
                 self_and_cross: bool = False, encodes_position: bool = False,
                 saves: SavesFn | None = None, aliases: Callable[[dict], dict] = lambda attrs: {},
                 shape_inputs: tuple[int, ...] = (),
                 param_tensors: Callable[[dict], int] | None = None,
                 buffers: Callable[[dict], tuple] = lambda attrs: (0, 0),
                 backward_macs: Callable[[SaveCtx, Dim, bool], Dim] = _weight_and_input_grads,
                 workspace: SavesFn = lambda ctx: [],
                 layouts: Callable[[LayoutCtx], dict] = view_layouts, receptive: Any = None,
                 module: str | None = None, plugin: str | None = None):
        self.name = name
        self.kind = kind  # "module" (an nn.Module), "function" (torch code), "parameter", "buffer"
        self.params = params
        self.infer = infer
        self.doc = doc
        self.category = category
        self.n_inputs = n_inputs  # (min, max); None = any number
        self.outputs = outputs
        self.count_params = count_params
        self.macs = macs
        self.emit = emit
        # for modules: attribute of torch.nn (the op's name unless given)
        if runtime_class is not None:
            torch_class = runtime_class
        elif kind == "module" and torch_class is None and module is None:
            torch_class = name
        self.torch_class = torch_class
        # For a module torch.nn lacks (torchvision's LayerNorm2d, HF's attention, ...): a class of
        # specc/compile/runtime.py, copied into the generated code with the runtime classes it
        # uses; torch_class is then that class's name. A function op may name one too: its
        # emitted code calls that class's static methods (Swin's SpeccWindows)
        self.runtime_class = runtime_class
        # the module's own `weight` and `bias` (those it has with these attributes, inferred
        # ones filled in) and their shapes: what `init:` can set and `tie:` shares. A
        # `parameter` node's one tensor is its weight. tests/test_init.py checks it against torch.
        self.tensors = tensors
        # which float input dtypes torch's CPU kernel takes against its (float32) parameters:
        # "same" (Linear, conv, RNNs, PReLU refuse any other dtype: "mat1 and mat2 must have
        # the same dtype"), "same_or_half" (the norm kernels also take a bfloat16/float16 input,
        # never float64), "any" (RMSNorm). A declared float32 stands for the model's float
        # dtype (`build --dtype` casts the parameters with it); only another declared float
        # dtype reaching a parameter can fail. infer.infer_node checks it (E305)
        self.parameter_input_dtypes = parameter_input_dtypes
        self.key_args = key_args  # short label for tables and diagrams
        # -- traits: what lint and render know about the op (tests/test_op_traits.py checks
        # that every op of a category carries its category's traits) --
        # the output is the input, unchanged in range and meaning (dropout, identity,
        # reshaping): rules look through it to find what really produced a value
        self.passes_through = passes_through
        self.weighted = weighted  # a layer with a weight matrix or kernel (and maybe a bias)
        self.channel_norm = channel_norm  # subtracts a per-channel mean (cancels a preceding bias)
        # the range of the output for activations: "real", "nonneg", "nonpos", "bounded",
        # "unit" ([0, 1]); None for ops that are not activations
        self.output_range = output_range
        # a normalisation the loss may do again: "softmax" (softmax-like), "log_softmax",
        # "sigmoid" (sigmoid-like); None: unbounded logits
        self.normalizes = normalizes
        self.spatial_rank = spatial_rank  # N of an N-d op (Conv2d: 2)
        # a window slides with a stride and the output size floors (conv, max/avg pool)
        self.floors_windows = floors_windows
        # where a rank-3+ output keeps its features: "channels-first" (N, C, *spatial: conv,
        # batch norm, pooling), "features-last" (N, ..., C: Linear, Embedding, LayerNorm, RNNs,
        # attention), "keeps" (element-wise: the input's layout); None: unknown (reshapes, merges)
        self.layout = layout
        # keeps the sign, range and per-channel meaning of its input without passing its values
        # through (max/avg pooling, upsampling): rules that follow a value look through it
        self.keeps_meaning = keeps_meaning
        self.batch_stats = batch_stats  # normalises with statistics over the batch (BatchNorm)
        # the output has exactly the input's shape and dtype (activations, dropout, norms): when
        # its shape rule refuses the input's size, inference still knows what comes out
        self.keeps_shape = keeps_shape
        self.saturates = saturates  # a squashing activation whose gradient vanishes (sigmoid, tanh)
        # attention: the flags that give its self-attention a mask over the sequence (a causal
        # mask: src_mask / is_causal, causal); None for ops that do not attend
        self.sequence_masks = sequence_masks
        self.mask_input = mask_input  # the input that is an attention mask, when one is given
        # the input holding the keys when they may come from another tensor than the queries
        # (cross-attention, query/key/value calls), by the attributes; None: its first input
        self.key_input = key_input
        # self-attends its first input AND cross-attends keys (decoder)
        self.self_and_cross = self_and_cross
        # its output tells positions apart (rotary tables, positions)
        self.encodes_position = encodes_position
        # --- memory and receptive-field facts (read by specc.analyses) ---
        # What autograd saves when the node runs in training (None: not declared — the
        # analysis then assumes it saves its inputs and says so).
        self.saves = saves
        # output index -> input index whose storage it shares (views, in-place ops)
        self.aliases = aliases
        # inputs read only for their shape, dtype or device (`to` a second input's dtype, a
        # window mask sized like its input): no gradient flows back into them
        self.shape_inputs = shape_inputs
        # how many parameter tensors (Adam keeps a 4-byte `step` per tensor) and buffers
        # (float elements, which take the model's dtype; bytes of integer and bool buffers)
        # the module registers. param_tensors is declared only by modules with tensors besides
        # their `tensors` (an LSTM's weight_ih_l0, attention's in_proj_weight); every other op
        # registers exactly its `tensors`, and counts them
        self.param_tensors: Callable[[dict], int] = param_tensors if param_tensors \
            is not None else (lambda attrs: len(tensors(attrs)))
        self.buffers = buffers
        # backward MACs: (the node's SaveCtx: ctx.grad says which inputs need a gradient; its
        # forward MACs; has it parameters) -> MACs. The default: one product for the weight
        # gradient, one for the input gradient
        self.backward_macs = backward_macs
        # temporaries the forward allocates and frees within the op, even under no_grad
        # (max pooling computes int64 indices): they raise the inference peak
        self.workspace = workspace
        # output index -> its Layout (sizes and strides): views re-stride their input
        # (transpose, select, slice, expand; reshape may need a copy: None), and a few kernels
        # return a non-contiguous result (a batch_first RNN's output is a transpose). Outputs
        # left out are new contiguous tensors. (Element-wise ops really keep a strided input's
        # stride order; that changes no byte count, so they are taken as contiguous.)
        self.layouts = layouts
        self.receptive = receptive  # None, POINTWISE or attrs, nd -> list[Window]
        # A module op outside torch.nn: "package.module:Class", imported only by `build` (and
        # `specc import`), so `check` never imports it. Built-ins use torch_class instead.
        self.module = module
        self.plugin = plugin  # the plugin that declared the op (None: built into specc)
        self.param_map = {p.name: p for p in params}

    @property
    def is_dropout(self) -> bool:
        return self.category == "dropout"

    def param(self, name: str) -> Param | None:
        return self.param_map.get(name)

    def module_class(self):
        """The torch module class this op builds, when it is one a user's model can hold:
        torch.nn's, or a plugin's (``module``, imported here). None for a class of
        specc/compile/runtime.py: a built model holds a copy of it made by its generated code."""
        if self.module is not None:
            import importlib

            module_name, _, attr = self.module.partition(":")
            value = importlib.import_module(module_name)
            for part in attr.split("."):
                value = getattr(value, part)
            return value
        if self.runtime_class is not None:
            return None
        from torch import nn

        return getattr(nn, self.torch_class or "", None)

    def output_names(self, attrs: dict) -> tuple[str, ...]:
        return self.outputs(attrs) if callable(self.outputs) else self.outputs




# Every built-in op by name. Complete whenever this module can be reached from outside
# specc.ops: importing specc.ops.base runs the package's __init__ first, which imports every
# op module (each registers its ops), so get_op and all_ops need no import of their own.
REGISTRY: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in REGISTRY:
        raise ValueError(f"op {op.name} declared twice")
    REGISTRY[op.name] = op
    return op


# Plugin ops enabled by the configuration in use (specc.plugin_loading activates them).
# Kept apart from REGISTRY so a spec outside that configuration never sees them.
ACTIVE_PLUGIN_OPS: dict[str, OpDef] = {}


def get_op(name: str) -> OpDef | None:
    op = REGISTRY.get(name)
    return op if op is not None else ACTIVE_PLUGIN_OPS.get(name)


def all_ops() -> dict[str, OpDef]:
    if not ACTIVE_PLUGIN_OPS:
        return REGISTRY
    return {**REGISTRY, **ACTIVE_PLUGIN_OPS}


__all__ = ["OpDef", "Param", "REQUIRED", "InferCtx", "EmitCtx", "ShapeError", "register",
           "get_op", "all_ops", "Saved", "SaveCtx", "Layout", "LayoutCtx", "view_layouts",
           "Window", "POINTWISE", "saves_inputs", "saves_output", "saves_nothing",
           "same_storage"]
