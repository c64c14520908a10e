"""`specc build --onnx OUT.onnx`: torch.onnx.export (the dynamo exporter), checked.

The file is written only after ``onnx.checker`` accepts it, and — when onnxruntime is
installed — after onnxruntime's outputs on example inputs equal torch's within
:data:`TOLERANCE`. A spec torch cannot export gets a located E401 (a SpecError naming the
node whose forward failed, as ``--export`` does), not the exporter's traceback.
"""
from __future__ import annotations

import contextlib
import logging
import warnings

from specc.errors import BuildError
from specc.ir import Graph

TOLERANCE = 1e-4


def export_onnx(model, graph: Graph, path: str, dims: dict) -> float | None:
    """Export ``model`` to ``path``; return max |onnxruntime - torch| (None without
    onnxruntime). Raises SpecError (E401, located) or BuildError (missing package)."""
    try:
        import onnx
        import torch
    except ImportError:
        raise BuildError("ONNX export needs onnx and onnxscript: "
                         "pip install 'specc[onnx]'") from None
    from specc.compile.export import dynamic_shapes, example_inputs, located_export_error

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
        raise located_export_error(exc, model, graph, "torch.onnx.export") from None
    # with dynamo=True and no file name, torch returns the program (None is the TorchScript
    # exporter's answer, which writes to the file it is given)
    assert program is not None
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
