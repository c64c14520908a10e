"""`specc build --onnx OUT.onnx`: torch.onnx.export (the dynamo exporter), checked.

The file is written only after ``onnx.checker`` accepts it, and — when onnxruntime is
installed — after onnxruntime's outputs on example inputs equal torch's within
:data:`TOLERANCE`. A spec torch cannot export gets a located E401 (a SpecError naming the
node whose forward failed, as ``--export`` does), not the exporter's traceback.
"""
from __future__ import annotations

import contextlib
import logging
import re
import warnings

from specc.errors import BuildError, Diagnostic, SpecError
from specc.ir import Graph

TOLERANCE = 1e-4
# How torch.onnx names the traced node it could not translate to ONNX (a missing ONNX
# function): "Error when translating node %adaptive_max_pool2d : [num_users=1] =
# call_function[target=torch.ops.aten.adaptive_max_pool2d.default](args = …)"
_UNTRANSLATED = re.compile(r"Error when translating node %(\w+) :.*?"
                           r"call_function\[target=(?:torch\.ops\.)?([\w.]+)\]")
_OVERLOAD = re.compile(r"<OpOverload\(op='([\w.]+)', overload='\w+'\)>")


def export_onnx(model, graph: Graph, path: str, dims: dict) -> float | None:
    """Export ``model`` to ``path``; return max |onnxruntime - torch| (None without
    onnxruntime). Raises SpecError (E401, located) or BuildError (missing package)."""
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
        raise _located_onnx_error(exc, model, graph, inputs) from None
    # with dynamo=True and no file name, torch returns the program (None is the TorchScript
    # exporter's answer, which writes to the file it is given)
    assert program is not None
    program.save(path)
    onnx.checker.check_model(path, full_check=True)
    return _max_difference(path, model, inputs)


def _located_onnx_error(exc: BaseException, model, graph: Graph, inputs) -> SpecError:
    """E401 at the spec node torch.onnx failed on. A failure while tracing has the node's
    generated line on its traceback; one while translating the traced program to ONNX
    (an aten op without an ONNX function) comes after the forward ran, so the node is
    found by name in torch.export's program of the model, whose node meta records the
    generated lines that made it."""
    import torch

    from specc.compile.export import (generated_lines, generated_path,
                                      located_export_error, spec_location)

    chain = [exc]
    while chain[-1].__cause__ is not None:
        chain.append(chain[-1].__cause__)
    texts = [re.sub(r"\x1b\[[0-9;]*m", "", str(e)) for e in chain]  # torch colours them
    untranslated = next(filter(None, (_UNTRANSLATED.search(t) for t in texts)), None)
    if untranslated is None:
        return located_export_error(exc, model, graph, "torch.onnx.export")
    name, target = untranslated.groups()
    module_path, stack = _traced_node(model, graph, inputs, name, target)
    # the innermost module is the spec node where the layer is a module (a Sequential
    # block's layers run no generated line); the generated lines are, where it is a
    # function (an `add`) in a block's generated forward
    paths = [module_path, generated_path(model, generated_lines(stack))]
    loc, path = spec_location(graph, next((p for p in paths if graph.node(p) is not None),
                                          max(paths, key=len)))
    culprit = graph.node(path) if path else None
    reason = _OVERLOAD.sub(r"\1", (texts[-1].strip().splitlines() or [""])[0])[:300]
    aten_op = target.rsplit(".", 1)[0]  # aten.adaptive_max_pool2d (less ".default")
    what = f"{path} ({culprit.op})" if culprit is not None else path or "the model"
    return SpecError(Diagnostic(
        "E401", f"torch.onnx.export cannot convert {what} to ONNX: "
        f"{type(chain[-1]).__name__}: {reason}", "error", loc, path,
        f"torch {torch.__version__.split('+')[0]} cannot convert {aten_op}"
        f"{' (' + culprit.op + ')' if culprit is not None else ''} to ONNX at the example "
        "sizes (--dim's, else 4 for a symbol); export with torch.export instead (--export), "
        "or use another op"))


def _traced_node(model, graph: Graph, inputs, name: str, target: str) -> tuple[str, str]:
    """(innermost module path, stack trace) that torch.export recorded for its node
    ``name`` computing ``target`` (what torch.onnx traced first); ("", "") where none."""
    import torch

    from specc.compile.export import dynamic_shapes

    try:
        with warnings.catch_warnings(), _quiet_torch_logs():
            warnings.simplefilter("ignore")
            program = torch.export.export(model, inputs, dynamic_shapes=dynamic_shapes(graph))
    except Exception:  # torch.onnx traced it; should torch.export fail now, no location
        return "", ""
    nodes = [n for n in program.graph.nodes if str(n.target) == target]
    node = next((n for n in nodes if n.name == name), nodes[0] if nodes else None)
    if node is None:
        return "", ""
    modules = list((node.meta.get("nn_module_stack") or {}).values())  # outermost first
    return (modules[-1][0] if modules else ""), node.meta.get("stack_trace") or ""


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
