"""Rules about the architecture itself: wasted parameters, dead code, silent corruption."""
from __future__ import annotations

from specc import codes
from specc.dims import Sym
from specc.lint.registry import rule
from specc.lint.rules._flow import (AFFINE_NORMS, BATCH_NAMES, PASS_THROUGH, TIME_NAMES, forward,
                                    reaches)
from specc.lint.rules._paths import (FLOORING_WINDOWS, NORMS, OUTPUT_RANGE, TRANSPARENT,
                                     WEIGHTED, is_pointwise_conv, op_of, single_consumer)
from specc.ops._util import floor_remainder
from specc.ops.ptypes import as_tuple

_BIAS_KEEPING = PASS_THROUGH - {"flatten", "Flatten", "reshape", "view"}


def _cancels_bias(norm) -> bool:
    if norm.op not in NORMS:
        return False
    if "num_groups" not in norm.attrs:  # BatchNorm, InstanceNorm: each channel's own mean
        return True
    # GroupNorm subtracts a per-group mean: only one channel per group cancels a bias
    return norm.attrs["num_groups"] == norm.attrs["num_channels"]


@rule(codes.BIAS_BEFORE_NORM)
def bias_before_norm(graph, facts):
    for node in graph.nodes:
        if node.op not in WEIGHTED or not node.attrs.get("bias") or node.out_types is None:
            continue
        # a per-channel constant survives max/avg pooling, dropout and upsampling unchanged
        users = forward(facts, node, _BIAS_KEEPING)
        if users and all(u.op in NORMS and _cancels_bias(u) for u in users):
            yield node, f"the bias of {node.op} is cancelled by {users[0].op} ({users[0].id})", \
                node.attr_locs.get("bias")


@rule(codes.LINEAR_WITHOUT_ACTIVATION)
def linear_without_activation(graph, facts):
    for node in graph.nodes:
        if node.out_types is None or not (node.op == "Linear" or is_pointwise_conv(node)):
            continue
        # BatchNorm & co. are affine per channel: they add no nonlinearity
        users = forward(facts, node, TRANSPARENT | AFFINE_NORMS)
        nxt = users[0] if len(users) == 1 else None
        if nxt is not None and (nxt.op == "Linear" or is_pointwise_conv(nxt)) \
                and not _low_rank_pair(node, nxt):
            yield nxt, f"{nxt.op} ({nxt.id}) directly follows {node.op} ({node.id}) with no " \
                       "nonlinearity between them"


def _low_rank_pair(first, second) -> bool:
    """A deliberate bottleneck (LoRA adapter, MobileNetV2's linear bottleneck): the middle
    width is at most half of both outer widths, so the pair is a low-rank factorisation."""
    try:
        outer_in = first.inputs[0].type.shape[-1 if first.op == "Linear" else 1]
        middle = first.out_types[0].shape[-1 if first.op == "Linear" else 1]
        outer_out = second.out_types[0].shape[-1 if second.op == "Linear" else 1]
    except (AttributeError, IndexError, TypeError):
        return False
    sizes = (outer_in, middle, outer_out)
    return all(isinstance(d, int) for d in sizes) and 2 * middle <= min(outer_in, outer_out)


@rule(codes.SATURATING_HIDDEN_ACTIVATION)
def saturating_hidden(graph, facts):
    output_nodes = {ref.node.id for _, ref in graph.outputs}
    depth: dict = {}
    for node in graph.nodes:
        before = max((depth.get(r.node.id, 0) for r in node.inputs), default=0)
        depth[node.id] = before + (1 if node.op in WEIGHTED else 0)
        if node.op not in ("Sigmoid", "Tanh") or node.id in output_nodes:
            continue
        users = facts.users(node)
        if users and all(u.op != "mul" for u in users) and depth[node.id] >= 2:
            yield node, f"{node.op} after {depth[node.id]} weighted layers saturates and slows " \
                        "training of the layers before it"


@rule(codes.DROPOUT_BEFORE_BATCHNORM)
def dropout_before_batchnorm(graph, facts):
    activations = set(OUTPUT_RANGE)
    for node in graph.nodes:
        if not op_of(node).is_dropout or not node.attrs.get("p"):
            continue
        nxt = single_consumer(facts, node, through=activations)
        if nxt is not None and nxt.op.startswith("BatchNorm"):
            yield nxt, f"{nxt.op} ({nxt.id}) normalises the output of {node.op} ({node.id})"


@rule(codes.RNN_DROPOUT_SINGLE_LAYER)
def rnn_dropout_single_layer(graph, facts):
    for node in graph.nodes:
        if node.op in ("RNN", "LSTM", "GRU") and node.attrs.get("dropout", 0) > 0 \
                and node.attrs.get("num_layers") == 1:
            yield node, f"{node.op} has dropout={node.attrs['dropout']} but num_layers=1, so the " \
                        "dropout is never applied", node.attr_locs.get("dropout")


@rule(codes.INPLACE_ON_SHARED_TENSOR)
def inplace_on_shared(graph, facts):
    for node in graph.nodes:
        if not node.attrs.get("inplace") or not node.inputs:
            continue
        source = node.inputs[0].node
        readers = [u for u in facts.users(source) if u is not node]
        if source.op in ("input", "parameter"):
            yield node, f"{node.op}(inplace) overwrites {source.op} '{source.id}'", \
                node.attr_locs.get("inplace")
        elif readers:
            yield node, (f"{node.op}(inplace) overwrites the output of {source.id}, which "
                         f"{readers[0].id} also reads"), node.attr_locs.get("inplace")


@rule(codes.LOSSY_FLOOR)
def lossy_floor(graph, facts):
    for node in graph.nodes:
        if node.op not in FLOORING_WINDOWS or node.out_types is None or node.attrs.get("ceil_mode"):
            continue
        nd = op_of(node).spatial_rank
        spatial = node.inputs[0].type.shape[-nd:]
        for axis, (size, window) in enumerate(zip(spatial, _windows(node, nd))):
            lost = _lost(size, *window)
            if lost > 0 and not _negligible(node, nd, axis, lost):
                k, s, p, _ = window
                fit = size + (s - floor_remainder(size, *window))
                yield node, (f"{node.op} drops the last {lost} of {size} input positions on "
                             f"spatial axis {axis} (kernel {k}, stride {s}, padding {p}); "
                             + _input_fix(facts, node, nd, axis, size - lost, fit))
                break


def _negligible(node, nd: int, axis: int, lost: int) -> bool:
    """Under 1 in 1000 of a long model input (a few samples at the end of a second of audio,
    as wav2vec 2.0's feature encoder drops) is not worth a warning; a pixel column of an
    image (1 in 224) is."""
    stack = _plain_stack_before(node, nd, axis)
    if stack is None:
        return False
    _, model_size, chain = stack
    jump = 1
    for conv in chain:
        jump *= _windows(conv, nd)[axis][1]
    return lost * jump * 1000 < model_size


def _plain_stack_before(node, nd: int, axis: int):
    """(model input node, its size on ``axis``, the conv / pool layers from it to ``node``)
    when ``node`` sits on a plain stack over a model input; None otherwise."""
    chain, current = [], node
    while current.inputs:
        source = current.inputs[0].node
        if source.op == "input":
            t = source.out_types[0]
            if t.rank != node.inputs[0].type.rank or not isinstance(t.shape[-nd + axis], int):
                return None
            return source, t.shape[-nd + axis], chain[::-1]
        out, into = source.out_types, source.inputs[0].type if source.inputs else None
        if out is None or into is None or out[0].rank != into.rank:
            return None
        if source.op in FLOORING_WINDOWS:
            chain.append(source)
        elif out[0].shape[-nd + axis] != into.shape[-nd + axis]:
            return None  # a resize we do not model
        current = source
    return None


def _windows(node, nd: int) -> list[tuple]:
    """(kernel, stride, padding, dilation) per spatial axis of a conv / pool node."""
    a = node.attrs
    pads = (0,) * nd if a.get("padding") in ("same", "valid") else as_tuple(a.get("padding", 0), nd)
    kernels = as_tuple(a["kernel_size"], nd)
    strides = as_tuple(a.get("stride") or a["kernel_size"], nd)
    dilations = as_tuple(a.get("dilation", 1), nd)
    if a.get("padding") == "same":
        strides = (1,) * nd
    return list(zip(kernels, strides, pads, dilations))


def _lost(size, k: int, s: int, p: int, d: int) -> int:
    """Real input positions no window reaches (0 when the windows fit or are symbolic)."""
    if isinstance(size, Sym) or d * (k - 1) + 1 < s:
        return 0  # windows narrower than the stride subsample by design
    return max(floor_remainder(size, k, s, p, d) - p, 0)


def _input_fix(facts, node, nd: int, axis: int, smaller: int, larger: int) -> str:
    """Say which MODEL input sizes make every window of the stack fit — before this layer
    and after it, so the fix moves no problem further down: that is what a user changes.
    Falls back to this layer's input size when the path is not a plain stack."""
    stack = _plain_stack_before(node, nd, axis)
    if stack is not None:
        source, model, chain = stack
        chain = chain + [node] + _plain_stack_after(facts, node, nd, axis)
        fits = [size for size in range(max(model - 64, 1), model + 65)
                if _fits(size, chain, nd, axis)]
        below = max((f for f in fits if f <= model), default=None)
        above = min((f for f in fits if f > model), default=None)
        sizes = " or ".join(str(f) for f in (below, above) if f is not None)
        if sizes:
            return f"a model input '{source.id}' of size {sizes} on that axis would fit"
    return f"an input of {smaller} or {larger} would fit exactly"


def _plain_stack_after(facts, node, nd: int, axis: int) -> list:
    """The conv / pool layers that follow ``node`` in a plain stack (one reader each, sizes
    on ``axis`` changed only by conv / pool windows)."""
    after, current = [], node
    while True:
        users = facts.users(current)
        if len(users) != 1:
            return after
        user = users[0]
        into, out = user.inputs[0].type if user.inputs else None, user.out_types
        if out is None or into is None or out[0].rank != into.rank:
            return after
        if user.op in FLOORING_WINDOWS:
            after.append(user)
        elif out[0].shape[-nd + axis] != into.shape[-nd + axis]:
            return after
        current = user


def _fits(size: int, chain: list, nd: int, axis: int) -> bool:
    from specc.ops._util import window_out

    for conv in chain:
        k, s, p, d = _windows(conv, nd)[axis]
        if conv.attrs.get("ceil_mode"):
            return False
        if _lost(size, k, s, p, d):
            return False
        size = window_out(size, k, s, p, d) if conv.attrs.get("padding") != "same" else size
        if size < 1:
            return False
    return True


@rule(codes.BATCHNORM_SINGLE_VALUE)
def batchnorm_single_value(graph, facts):
    for node in graph.nodes:
        if not node.op.startswith("BatchNorm") or node.out_types is None:
            continue
        shape = node.inputs[0].type.shape
        values = [d for i, d in enumerate(shape) if i != 1]
        if all(isinstance(d, int) and d == 1 for d in values):
            yield node, f"{node.op} on {node.inputs[0].type} sees a single value per channel"




@rule(codes.RNN_LAYOUT_MISMATCH)
def rnn_layout_mismatch(graph, facts):
    for node in graph.nodes:
        if "batch_first" not in node.attrs or not node.inputs or node.out_types is None:
            continue
        t = node.inputs[0].type
        if t.rank != 3:
            continue
        first, second = str(t.shape[0]), str(t.shape[1])
        batch_first = node.attrs["batch_first"]
        if not batch_first and (first in BATCH_NAMES or second in TIME_NAMES):
            yield node, f"{node.op} reads {t} as (time, batch, features) because batch_first " \
                        "is false", node.attr_locs.get("batch_first")
        elif batch_first and (first in TIME_NAMES or second in BATCH_NAMES):
            yield node, f"{node.op} reads {t} as (batch, time, features) because batch_first " \
                        "is true", node.attr_locs.get("batch_first")


@rule(codes.UNUSED_NODE)
def unused_node(graph, facts):
    used = set()
    stack = [ref.node for _, ref in graph.outputs]
    while stack:
        node = stack.pop()
        if node.id in used:
            continue
        used.add(node.id)
        stack += [r.node for r in node.inputs]
    for node in graph.nodes:
        if node.id not in used and not [u for u in facts.users(node)]:
            yield node, f"the output of {node.id} ({node.op}) is never used"


@rule(codes.ZERO_INIT)
def zero_init(graph, facts):
    activations = set(OUTPUT_RANGE)
    for node in graph.nodes:
        spec = node.init if node.init is not None else graph.init.get(node.op)
        if spec is None or node.op not in WEIGHTED:
            continue
        weight = spec if isinstance(spec, str) else spec.get("weight", spec.get("method"))
        if isinstance(weight, dict):
            weight = weight.get("method")
        if weight == "zeros":
            # BN after a zero layer keeps every channel equal (affine per channel);
            # a last layer (nothing weighted after it, e.g. a PPO policy head before its
            # softmax) is safe: its units get different gradients from the targets
            users = forward(facts, node, TRANSPARENT | AFFINE_NORMS)
            nxt = users[0] if len(users) == 1 else None
            if nxt is not None and nxt.op in activations and reaches(facts, nxt, WEIGHTED):
                yield node, f"{node.id} starts with all-zero weights and feeds {nxt.op}"


@rule(codes.HUGE_DENSE_LAYER)
def huge_dense_layer(graph, facts):
    total = sum(n.params for n in graph.nodes)
    for node in graph.nodes:
        if node.op == "Linear" and node.params > 10_000_000 and node.params * 2 > total:
            yield node, f"{node.id} has {node.params:,} of the model's {total:,} parameters"
