"""torch.export with the spec's symbolic dims made dynamic where torch allows it."""
from __future__ import annotations

from specc.dims import Sym
from specc.ir import Graph

EXAMPLE_SIZE = 4  # example value for a symbolic dim (2 and 1 get specialised by export)
MAX_EXAMPLE_BYTES = 1 << 30  # example inputs are real tensors: bound them before allocating


def _example_shape(t, dims: dict) -> list[int]:
    """Concrete example sizes: each symbol as bound by --dim, else EXAMPLE_SIZE (so a
    declared 8*h becomes 8*4, a size the spec's arithmetic agrees with)."""
    return [d if isinstance(d, int) else int(d.substitute(
        {s: dims.get(s, EXAMPLE_SIZE) for s in d.symbols()})) for d in t.shape]


def example_input_problem(graph: Graph, dims: dict | None = None) -> str | None:
    """Why the example inputs of --export cannot be allocated, before anything is."""
    total = 0
    for node in graph.inputs:
        t = node.out_types[0]
        numel = 1
        for d in _example_shape(t, dims or {}):
            numel *= d
        total += numel * 8  # the widest dtype; a bound, not an estimate
    if total > MAX_EXAMPLE_BYTES:
        return (f"--export traces the model on example inputs of the declared sizes, which "
                f"would take over {MAX_EXAMPLE_BYTES >> 20} MiB; declare symbolic sizes (N, H) "
                "or bind smaller ones with --dim")
    return None


def example_inputs(graph: Graph, dims: dict | None = None, device="cpu", dtype=None):
    import torch

    dims = dims or {}
    tensors = []
    for node in graph.inputs:
        t = node.out_types[0]
        shape = _example_shape(t, dims)
        if t.is_float:
            tensors.append(torch.randn(shape, device=device,
                                       dtype=dtype or getattr(torch, t.dtype)))
        else:
            tensors.append(torch.zeros(shape, device=device, dtype=getattr(torch, t.dtype)))
    return tuple(tensors)


def dynamic_shapes(graph: Graph):
    from torch.export import Dim

    made: dict = {}
    spec = []
    for node in graph.inputs:
        entry = {}
        for axis, d in enumerate(node.out_types[0].shape):
            if isinstance(d, Sym) and len(d.terms) == 1 and d.terms[0][1] == 1 \
                    and len(d.terms[0][0]) == 1:
                name = d.terms[0][0][0]
                made.setdefault(name, Dim.AUTO)
                entry[axis] = made[name]
        spec.append(entry or None)
    return tuple(spec)


def export_model(model, graph: Graph, dims: dict | None = None, device="cpu", dtype=None):
    """torch.export the model; float example inputs take ``dtype`` (the weights' dtype under
    --dtype), so the exported program runs on inputs that match its weights."""
    import torch

    inputs = example_inputs(graph, dims, device, dtype)
    return torch.export.export(model.eval(), inputs, dynamic_shapes=dynamic_shapes(graph))
