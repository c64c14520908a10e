"""L307 lossy-floor: a conv / pool window never reaches the last input rows or columns."""
from specc import codes
from specc.dims import Sym
from specc.lint.registry import rule
from specc.lint.rules._paths import FLOORING_WINDOWS, op_of
from specc.ops._util import floor_remainder
from specc.ops.ptypes import as_tuple


@rule(codes.LOSSY_FLOOR)
def lossy_floor(graph, facts):
    """One finding per fix: the layers of one stack that the same model input size makes fit
    (AlexNet's stem and both its pools at 224) are one mistake, reported at the first."""
    findings: dict = {}  # the fix -> [first node, its message, the later nodes it fixes]
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
                fix, whole_stack = _input_fix(facts, node, nd, axis, size - lost, fit)
                key = (fix, axis) if whole_stack else node.id
                if key in findings:
                    findings[key][2].append(node)
                else:
                    findings[key] = [node, f"{node.op} drops the last {lost} of {size} input "
                                           f"positions on spatial axis {axis} (kernel {k}, "
                                           f"stride {s}, padding {p})", [], fix]
                break
    for node, message, later, fix in findings.values():
        if later:
            message += f"; so {'do' if len(later) > 1 else 'does'} {_layers(node, later)}"
        yield node, f"{message}; {fix}"


def _layers(first, nodes) -> str:
    """'MaxPool2d at line 14, its copy 3.2': the later layers by source line, as written."""
    named = []
    for n in nodes:
        line = n.loc.line if n.loc else 0
        where = f"its copy {n.id}" if first.loc and line == first.loc.line \
            else f"{n.op} at line {line} ({n.id})"
        named.append(where)
    return ", ".join(named[:4]) + (f" and {len(named) - 4} more" if len(named) > 4 else "")


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
    chain: list = []
    current = node
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


def _input_fix(facts, node, nd: int, axis: int, smaller: int, larger: int) -> tuple[str, bool]:
    """Say which MODEL input sizes make every window of the stack fit — before this layer
    and after it, so the fix moves no problem further down: that is what a user changes.
    (The fix, whether it is one for the whole stack.) Falls back to this layer's input size
    when the path is not a plain stack."""
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
            return f"a model input '{source.id}' of size {sizes} on that axis would fit", True
    return f"an input of {smaller} or {larger} would fit exactly", False


def _plain_stack_after(facts, node, nd: int, axis: int) -> list:
    """The conv / pool layers that follow ``node`` in a plain stack (one reader each, sizes
    on ``axis`` changed only by conv / pool windows)."""
    after: list = []
    current = node
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
        if conv.attrs.get("padding") != "same":
            out = window_out(size, k, s, p, d)
            if not isinstance(out, int):  # concrete sizes in, concrete out
                return False
            size = out
        if size < 1:
            return False
    return True
