"""Will it fit? Parameter, gradient, optimizer, buffer and activation bytes, statically.

Training activations are the tensors autograd keeps for backward: each op declares them
on its OpDef (``saves``: its input, its output, or private tensors such as dropout masks
and BatchNorm statistics; ``aliases``: views and in-place ops share their input's
storage). A storage saved by several ops counts once, as torch's memory does. A value
needs a gradient when it is downstream of a parameter; an op whose inputs need none and
that has no parameters records nothing (e.g. a ReLU on the raw input). Block instances
marked ``checkpoint: true`` keep only their inputs (torch.utils.checkpoint recomputes
the rest in backward).

Inference peak: the live storages at each node in graph order (an output is allocated
while the node's inputs are still live; a storage is freed after its last reader).

Everything is counted in bytes for a chosen dtype: float tensors, parameters and float
buffers take that dtype; integer tensors keep theirs. Sizes that are still symbolic are
bound with ``env`` (see :func:`largest_batch`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from specc.dims import Sym, product, substitute
from specc.ir import Graph, Node, Ref, Scope
from specc.ops.base import Layout, LayoutCtx, OpDef, SaveCtx, Saved, get_op
from specc.tensor import FLOAT_DTYPES, ITEMSIZE, TensorType

# optimizer -> (state tensors per parameter, a scalar `step` tensor per parameter tensor)
OPTIMIZERS = {"sgd": (0, False), "sgd-momentum": (1, False), "adam": (2, True),
              "adamw": (2, True)}
DEVICES = ("cuda", "cpu")  # whose kernels the saves rules follow (see SaveCtx.device)
MAX_DEVICE_BYTES = 2**60  # 1 EiB: --device-memory past any device is a typo
STEP_BYTES = 4  # torch.optim.Adam keeps `step` as a float32 scalar tensor per parameter


class MemoryAnalysisError(Exception):
    """The graph cannot be measured (errors, or sizes left symbolic)."""


@dataclass
class NodeMemory:
    node_id: str
    op: str
    output_bytes: int  # new storage this node allocates (0 for views / in-place)
    activation_bytes: int  # saved-for-backward bytes attributed to this node
    parameter_bytes: int


@dataclass
class MemoryReport:
    dtype: str
    optimizer: str
    amp: bool
    parameters_bytes: int
    gradients_bytes: int
    optimizer_bytes: int
    buffers_bytes: int
    activations_train_bytes: int
    activations_inference_peak_bytes: int
    nodes: dict = field(default_factory=dict)  # node id -> NodeMemory
    undeclared: list = field(default_factory=list)  # ops without a `saves` rule
    peak_node: str | None = None  # where inference memory peaks
    device: str = "cuda"  # whose kernels the saves rules followed

    @property
    def total_train_bytes(self) -> int:
        return (self.parameters_bytes + self.gradients_bytes + self.optimizer_bytes
                + self.buffers_bytes + self.activations_train_bytes)

    @property
    def total_inference_bytes(self) -> int:
        return self.parameters_bytes + self.buffers_bytes + self.activations_inference_peak_bytes

    def largest(self, count: int = 3) -> list[NodeMemory]:
        """The nodes holding the most activation memory for backward."""
        ranked = sorted(self.nodes.values(), key=lambda n: -n.activation_bytes)
        return [n for n in ranked[:count] if n.activation_bytes]

    def to_json(self) -> dict:
        return {
            "dtype": self.dtype, "optimizer": self.optimizer, "amp": self.amp,
            "device": self.device,
            "parameters_bytes": self.parameters_bytes, "gradients_bytes": self.gradients_bytes,
            "optimizer_bytes": self.optimizer_bytes, "buffers_bytes": self.buffers_bytes,
            "activations_train_bytes": self.activations_train_bytes,
            "activations_inference_peak_bytes": self.activations_inference_peak_bytes,
            "total_train_bytes": self.total_train_bytes,
            "total_inference_bytes": self.total_inference_bytes,
            "undeclared_ops": sorted(set(self.undeclared)),
        }


def concrete(value, env: dict, what: str) -> int:
    """A size with its symbols bound by ``env`` (MemoryAnalysisError if some stay free)."""
    if isinstance(value, Sym):
        value = substitute(value, env)
        if isinstance(value, Sym):
            raise MemoryAnalysisError(
                f"{what} is symbolic ({value}): bind {', '.join(sorted(value.symbols()))} "
                "with --dim SYM=VALUE")
    return int(value)


def op_of(node: Node) -> OpDef:
    """The node's OpDef: a complete graph (what every analysis takes) knows each op."""
    op = get_op(node.op)
    if op is None:
        raise MemoryAnalysisError(f"{node.id}: unknown op {node.op!r}; fix the spec first")
    return op


def types_of(node: Node) -> list[TensorType]:
    """The node's inferred output types: a complete graph has them all."""
    if node.out_types is None:
        raise MemoryAnalysisError(f"{node.id}: its shapes are unknown; fix the spec first")
    return node.out_types


def type_of(ref: Ref) -> TensorType:
    t = ref.type
    if t is None:
        raise MemoryAnalysisError(f"{ref}: its shape is unknown; fix the spec first")
    return t


def learns(node: Node) -> bool:
    """Does the node hold learned weights: its own, or a weight it shares with another
    module (`tie:`, whose parameters are counted once, at their owner)?"""
    return node.params > 0 or node.tie is not None


def needs_grad(graph: Graph) -> dict:
    """value (Ref) -> does it require grad: a float tensor downstream of a parameter
    (integer and bool tensors never do: positions computed from a hidden state, a mask)."""
    grad: dict = {n.ref: False for n in graph.inputs}
    for node in graph.nodes:
        if node.out_types is None:
            continue
        flag = learns(node) or op_of(node).kind == "parameter" or any(input_grads(node, grad))
        for index, out in enumerate(node.out_types):
            grad[Ref(node, index)] = flag and out.is_float
    return grad


def input_grads(node: Node, grad: dict) -> list:
    """Per input of the node: does a gradient flow back into it (it requires grad and the
    op reads more than its shape)?"""
    shape_only = op_of(node).shape_inputs
    return [grad.get(r, False) and i not in shape_only for i, r in enumerate(node.inputs)]


def checkpointed_scopes(graph: Graph) -> list[Scope]:
    """Outermost scopes marked checkpoint (a checkpoint inside one changes nothing)."""
    found, stack = [], [graph.root]
    while stack:
        scope = stack.pop()
        if getattr(scope, "checkpoint", False):
            found.append(scope)
            continue
        stack.extend(item for item in scope.items if isinstance(item, Scope))
    return found


def scope_inputs(scope: Scope) -> list[Ref]:
    """Values a scope reads from outside itself (what checkpoint keeps for recompute)."""
    inside = {id(n) for n in scope.walk_nodes()}
    refs: list[Ref] = []
    for node in scope.walk_nodes():
        for ref in node.inputs:
            if id(ref.node) not in inside and ref not in refs:
                refs.append(ref)
    return refs


class _Storages:
    """Storage identity, size and layout for every value: views share their base's
    storage; a view that cannot re-read its input (reshaping a transposed tensor) is a
    copy, with a storage of its own."""

    def __init__(self, graph: Graph, dtype: str, env: dict, device: str = "cuda",
                 grad: dict | None = None):
        """``grad``: which values require grad, in training (None: inference), where a
        kernel choice depends on it (attention with a learned mask)."""
        self.dtype, self.env, self.device = dtype, env, device
        self.grad = grad or {}
        self.owner: dict = {}  # Ref -> storage key (the Ref that allocated it)
        self.size: dict = {}  # storage key -> bytes
        self.layout: dict = {}  # Ref -> Layout (concrete sizes and strides; OpDef.layouts)
        for node in graph.inputs:
            self._allocate(node.ref)
        for node in graph.nodes:
            if node.out_types is None:
                continue
            op = op_of(node)
            aliases = {index: source for index, source in op.aliases(node.attrs).items()
                       if source < len(node.inputs)}
            sizes = [self.sizes(t, f"{node.id}") for t in node.out_types]
            layouts = op.layouts(LayoutCtx(node.attrs, [self.layout[r] for r in node.inputs],
                                           sizes, aliases,
                                           input_grads(node, self.grad)))
            for index in range(len(node.out_types)):
                ref = Ref(node, index)
                source = aliases.get(index)
                layout = layouts.get(index)
                if source is not None and layout is not None:
                    self.owner[ref] = self.owner[node.inputs[source]]
                elif op.kind in ("parameter", "buffer"):
                    # the module's own tensor, counted as a parameter or buffer
                    self.owner[ref], self.size[ref] = ref, 0
                else:  # a new tensor, or a view that had to copy
                    self._allocate(ref)
                self.layout[ref] = layout or Layout.contiguous(sizes[index])

    def context(self, node: Node, grad: list) -> SaveCtx:
        """What the node's saves / workspace rules see."""
        return SaveCtx(node.attrs, [type_of(r) for r in node.inputs], types_of(node), grad,
                       self.dtype, self.device, [self.layout[r] for r in node.inputs])

    def _allocate(self, ref: Ref) -> None:
        self.owner[ref] = ref
        self.size[ref] = self.tensor_bytes(type_of(ref), str(ref))
        self.layout[ref] = Layout.contiguous(self.sizes(type_of(ref), str(ref)))

    def itemsize(self, dtype: str) -> int:
        return ITEMSIZE[self.dtype if dtype in FLOAT_DTYPES else dtype]

    def sizes(self, t, what: str) -> tuple:
        return tuple(concrete(d, self.env, f"the size of {what}") for d in t.shape)

    def tensor_bytes(self, t, what: str) -> int:
        return concrete(product(t.shape), self.env, f"the size of {what}") * self.itemsize(t.dtype)


def analyse_memory(graph: Graph, *, dtype: str = "float32", optimizer: str = "adamw",
                   amp: bool = False, env: dict | None = None,
                   device: str = "cuda") -> MemoryReport:
    """The memory a training step and an inference pass hold (see the module doc), on
    ``device``'s kernels ("cuda", or "cpu": see SaveCtx.device)."""
    if graph is None or not graph.complete:
        raise MemoryAnalysisError("the spec has errors; fix them first")
    if dtype not in FLOAT_DTYPES:
        raise MemoryAnalysisError(f"dtype must be one of {', '.join(FLOAT_DTYPES)}")
    if optimizer not in OPTIMIZERS:
        raise MemoryAnalysisError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
    if device not in DEVICES:
        raise MemoryAnalysisError(f"device must be one of {', '.join(DEVICES)}")
    env = dict(env or {})
    report = _weights(graph, dtype, optimizer, amp, env)
    report.device = device
    report.nodes = {n.id: NodeMemory(n.id, n.op, 0, 0, concrete(n.params, env, n.id)
                                     * ITEMSIZE[dtype]) for n in graph.nodes}
    _train_activations(graph, _Storages(graph, dtype, env, device, needs_grad(graph)), report)
    _inference_peak(graph, _Storages(graph, dtype, env, device), report)
    return report


def _weights(graph: Graph, dtype: str, optimizer: str, amp: bool, env: dict) -> MemoryReport:
    params = tensors = buffer_floats = buffer_fixed = 0
    for node in graph.nodes:
        op = op_of(node)
        params += concrete(node.params, env, node.id)
        if node.params:
            tensors += max(op.param_tensors(node.attrs), 1)
        floats, fixed = op.buffers(node.attrs)
        buffer_floats, buffer_fixed = buffer_floats + floats, buffer_fixed + fixed
    size = ITEMSIZE[dtype]
    states, has_step = OPTIMIZERS[optimizer]
    # --amp: the model runs in `dtype`; the optimizer keeps fp32 master weights and its
    # state in fp32 (16 bytes per parameter for Adam in bf16, as in ZeRO's accounting)
    state_size = 4 if amp else size
    optimizer_bytes = params * states * state_size + (tensors * STEP_BYTES if has_step else 0)
    if amp:
        optimizer_bytes += params * 4
    return MemoryReport(dtype, optimizer, amp, parameters_bytes=params * size,
                        gradients_bytes=params * size, optimizer_bytes=optimizer_bytes,
                        buffers_bytes=buffer_floats * size + buffer_fixed,
                        activations_train_bytes=0, activations_inference_peak_bytes=0)


def _train_activations(graph: Graph, storages: _Storages, report: MemoryReport) -> None:
    grad = storages.grad
    kept: dict = {}  # storage key (a Ref, or a private tuple) -> (bytes, node charged)
    skipped: set = set()
    for scope in checkpointed_scopes(graph):
        skipped.update(id(n) for n in scope.walk_nodes())
        for ref in scope_inputs(scope):
            key = storages.owner[ref]
            kept.setdefault(key, (storages.size[key], _producer_id(key)))
    for node in graph.nodes:
        if id(node) in skipped:
            continue
        op = op_of(node)
        in_grad = input_grads(node, grad)
        if not (learns(node) or any(in_grad)):
            continue  # no graph is recorded: nothing is saved
        ctx = storages.context(node, in_grad)
        if op.saves is None:
            report.undeclared.append(node.op)
            items = [Saved("input", i) for i in range(len(node.inputs))]
        else:
            items = op.saves(ctx)
        for position, item in enumerate(items):
            if item.what in ("input", "output"):
                ref = node.inputs[item.index] if item.what == "input" else Ref(node, item.index)
                key = storages.owner[ref]
                kept.setdefault(key, (storages.size[key], _producer_id(key)))
            else:
                private = (node.id, position if item.key is None else item.key)
                kept[private] = (_private_bytes(item, storages, node), node.id)
    for size, node_id in kept.values():
        report.activations_train_bytes += size
        if node_id in report.nodes:
            report.nodes[node_id].activation_bytes += size


def _producer_id(key: Ref) -> str:
    return key.node.id


def _private_bytes(item: Saved, storages: _Storages, node: Node) -> int:
    count = concrete(item.numel, storages.env, f"a tensor saved by {node.id}")
    if isinstance(item.dtype, dict):  # an opaque buffer: bytes per element by dtype
        return int(count * item.dtype[storages.dtype])
    return count * ITEMSIZE[item.dtype or storages.dtype]


def _inference_peak(graph: Graph, storages: _Storages, report: MemoryReport) -> None:
    """Sweep the nodes in order: allocate each new output, free storages after their
    last reader. The model's inputs and outputs stay live throughout (the caller holds
    them). Training-only nodes (aux heads) do not run in inference."""
    nodes = [node for node in graph.nodes if not node.training_only]
    last_use: dict = {}
    for step, node in enumerate(nodes):
        for ref in node.inputs:
            last_use[storages.owner[ref]] = step
    end = len(nodes)
    for ref in [ref for _, ref in graph.eval_outputs] + [n.ref for n in graph.inputs]:
        last_use[storages.owner[ref]] = end  # the caller holds its inputs and outputs
    frees: dict = {}
    live = 0
    for node in graph.inputs:
        live += storages.size[node.ref]
        frees.setdefault(last_use.get(node.ref, -1), []).append(node.ref)
    for key in frees.pop(-1, []):
        live -= storages.size[key]
    peak, peak_node = live, None
    for step, node in enumerate(nodes):
        for index in range(len(types_of(node))):
            ref = Ref(node, index)
            if storages.owner[ref] == ref:
                live += storages.size[ref]
                report.nodes[node.id].output_bytes += storages.size[ref]
                frees.setdefault(max(last_use.get(ref, step), step), []).append(ref)
        ctx = storages.context(node, [False] * len(node.inputs))
        scratch = sum(_private_bytes(item, storages, node)
                      for item in op_of(node).workspace(ctx))
        if live + scratch > peak:
            peak, peak_node = live + scratch, node.id
        for key in frees.pop(step, []):
            live -= storages.size[key]
    report.activations_inference_peak_bytes = peak
    report.peak_node = peak_node


def parse_bytes(text: str) -> int:
    """'24GiB', '24GB', '80G', '512MiB', '1e9' -> bytes (GB = 10⁹, GiB = 2³⁰)."""
    units = {"": 1, "B": 1, "K": 1024, "KB": 1000, "KIB": 1024, "M": 2**20, "MB": 10**6,
             "MIB": 2**20, "G": 2**30, "GB": 10**9, "GIB": 2**30, "T": 2**40, "TB": 10**12,
             "TIB": 2**40, "P": 2**50, "PB": 10**15, "PIB": 2**50, "E": 2**60, "EB": 10**18,
             "EIB": 2**60}  # up to MAX_DEVICE_BYTES, 1 EiB, which the refusal names
    raw = text.strip().upper().replace(" ", "")
    number = raw.rstrip("KMGTPEIB")
    unit = raw[len(number):]
    try:
        if not number.isascii():  # float() reads any script's digits: '２４GB' is 24 GB
            raise ValueError
        value = float(number)
    except ValueError:
        raise ValueError(f"cannot read {text!r} as a size (e.g. 24GiB, 80GB; digits 0-9)"
                         ) from None
    if unit not in units or value != value:  # NaN is no size either
        raise ValueError(f"cannot read {text!r} as a size (e.g. 24GiB, 80GB)")
    if not 1 <= value * units[unit] <= MAX_DEVICE_BYTES:  # also inf, which int() refuses
        raise ValueError(f"{text!r} is not a device's size: give one from 1 B to 1 EiB "
                         "(e.g. 24GiB, 80GB)")
    return int(value * units[unit])


def largest_batch(graph: Graph, budget: int, *, train: bool = True, limit: int = 1 << 128,
                  **options) -> int | None:
    """The largest binding of the batch symbol(s) whose total fits in ``budget`` bytes:
    0 when even batch 1 does not, None when batch 1 fits and the total does not grow with
    the batch (any batch fits: e.g. a model that reduces over the batch before anything
    it keeps). Totals grow with the batch, so double until past the budget, then bisect;
    ``limit`` only bounds the doubling for budgets past any real device."""
    if not graph.batch_symbols:
        raise MemoryAnalysisError("the spec has no symbolic batch dimension")
    base = dict(options.pop("env", None) or {})

    def total(batch: int) -> int:
        env = {**base, **{s: batch for s in graph.batch_symbols}}
        report = analyse_memory(graph, env=env, **options)
        return report.total_train_bytes if train else report.total_inference_bytes

    at_one = total(1)
    if at_one > budget:
        return 0
    if total(limit) == at_one:
        return None
    low, high = 1, 2
    while high < limit and total(high) <= budget:
        low, high = high, high * 2
    while high - low > 1:
        middle = (low + high) // 2
        if total(middle) <= budget:
            low = middle
        else:
            high = middle
    return low
