"""`specc build --onnx OUT.onnx`: torch.onnx.export (the dynamo exporter), checked.

The file is written only after ``onnx.checker`` accepts it, and — when onnxruntime is
installed — after onnxruntime's outputs on example inputs equal torch's within
:data:`TOLERANCE`. A spec torch cannot export gets an :class:`ExportError` that names the
spec node (file:line:col) whose forward failed, not the exporter's traceback.
"""
from __future__ import annotations

import contextlib
import logging
import re
import warnings

from specc.errors import BuildError
from specc.ir import Graph

TOLERANCE = 1e-4
EXAMPLE_SIZES = (4, 8, 16, 32, 64)  # first size for the symbolic dims that checks clean


class ExportError(BuildError):
    """torch (or ONNX) cannot export this model; the message says where and why."""


def example_dims(spec_path: str, graph: Graph, given: dict) -> dict:
    """Sizes for the free symbols of the inputs that the spec itself accepts (a U-Net with
    five poolings needs more than 4 pixels): the static checker decides, no torch."""
    from specc.analysis import analyse_path

    free = sorted({s for node in graph.inputs for d in node.out_types[0].shape
                   if not isinstance(d, int) for s in d.symbols()} - set(given))
    for size in EXAMPLE_SIZES:
        dims = {**given, **{s: size for s in free}}
        if analyse_path(spec_path, dims=dims, lint=False).ok:
            return dims
    return {**given, **{s: EXAMPLE_SIZES[0] for s in free}}


def export_onnx(model, graph: Graph, path: str, dims: dict, spec_path: str = "") -> float | None:
    """Export ``model`` to ``path``; return max |onnxruntime - torch| (None without
    onnxruntime). Raises ExportError (located) or BuildError (missing package)."""
    try:
        import onnx
        import torch
    except ImportError:
        raise BuildError("ONNX export needs onnx and onnxscript: "
                         "pip install 'specc[onnx]'") from None
    from specc.compile.export import dynamic_shapes, example_inputs

    model = model.eval()
    inputs = example_inputs(graph, dims)
    try:
        with warnings.catch_warnings(), _quiet_torch_logs():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(model, inputs, dynamo=True, verbose=False,
                                        dynamic_shapes=dynamic_shapes(graph))
    except ImportError as exc:
        raise BuildError(f"ONNX export needs {exc.name or 'onnxscript'}: "
                         "pip install 'specc[onnx]'") from None
    except Exception as exc:  # the exporter raises many types; all become one located error
        raise ExportError(explain_failure(exc, model, graph, spec_path)) from None
    program.save(path)
    onnx.checker.check_model(path, full_check=True)
    return _max_difference(path, model, inputs)


@contextlib.contextmanager
def _quiet_torch_logs():
    """The exporter logs its progress (and torchvision's absence) to stderr; the outcome
    is reported by specc instead."""
    loggers = [logging.getLogger(name) for name in ("torch.onnx", "torch.export",
                                                    "torch._dynamo", "torch.fx")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _max_difference(path: str, model, inputs) -> float | None:
    try:
        import onnxruntime
    except ImportError:
        return None
    import torch

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: x.detach().cpu().numpy() for i, x in zip(session.get_inputs(), inputs)}
    got = session.run(None, feeds)
    with torch.no_grad():
        expected = model(*inputs)
    if isinstance(expected, dict):
        expected = list(expected.values())
    elif isinstance(expected, torch.Tensor):
        expected = [expected]
    else:
        expected = list(torch.utils._pytree.tree_leaves(expected))
    return max((float((torch.from_numpy(g) - e.cpu()).abs().max()) if g.size else 0.0)
               for g, e in zip(got, expected))


_DATA_DEPENDENT = re.compile(r"FakeTensor|data.dependent|GuardOnDataDependent|unbacked",
                             re.IGNORECASE)
_MEMBER = re.compile(r"self\.(\w+)|getattr\(self, '([^']+)'\)")


def explain_failure(exc: BaseException, model, graph: Graph, spec_path: str = "") -> str:
    """'file:line:col: node lstm (LSTM): torch cannot export it: <reason>' — the spec node
    is found from the innermost frame of the generated forward code in the traceback."""
    reason = _reason(exc)
    node = _failing_node(exc, model, graph)
    if node is None:
        return f"{spec_path or graph.name}: torch cannot export this model: {reason}"
    where = f"{spec_path}:{node.loc.line}:{node.loc.col}" if node.loc else spec_path
    message = f"{where}: node {node.id} ({node.op}): torch cannot export it: {reason}"
    if _DATA_DEPENDENT.search(reason):
        message += ("\n    hint: export traces shapes, not values; this node's shapes depend "
                    "on tensor values (e.g. packing by `lengths`): export a variant without it")
    return message


def _reason(exc: BaseException) -> str:
    seen = set()
    while exc.__cause__ is not None and id(exc) not in seen:  # the exporter wraps the cause
        seen.add(id(exc))
        exc = exc.__cause__
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"[:400]


def _failing_node(exc: BaseException, model, graph: Graph):
    names = {id(m): name for name, m in model.named_modules()}
    found = None
    chain, seen = [exc], set()
    while chain:
        current = chain.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        tb = current.__traceback__
        while tb is not None:
            frame = tb.tb_frame
            if frame.f_code.co_filename.startswith("<specc-generated"):
                found = _node_at(frame, tb.tb_lineno, names, graph) or found
            tb = tb.tb_next
        chain += [current.__cause__, current.__context__]
    return found


def _node_at(frame, lineno: int, names: dict, graph: Graph):
    import linecache

    owner = frame.f_locals.get("self")
    line = linecache.getline(frame.f_code.co_filename, lineno)
    match = _MEMBER.search(line)
    if owner is None or match is None or id(owner) not in names:
        return None
    prefix = names[id(owner)]
    member = match.group(1) or match.group(2)
    return graph.node(f"{prefix}.{member}" if prefix else member)
