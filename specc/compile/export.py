"""torch.export with the spec's symbolic dims made dynamic where torch allows it."""
from __future__ import annotations

from specc.dims import Sym, substitute
from specc.ir import Graph

EXAMPLE_SIZE = 4  # example value for a symbolic dim (2 and 1 get specialised by export)


def example_inputs(graph: Graph, dims: dict | None = None, device="cpu", dtype=None):
    import torch

    dims = dims or {}
    tensors = []
    for node in graph.inputs:
        t = node.out_types[0]
        # a composite dim (8*h) takes its symbols' sizes, not the example size itself
        shape = [d if isinstance(d, int) else substitute(
            d, {s: dims.get(s, EXAMPLE_SIZE) for s in d.symbols()}) for d in t.shape]
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


def export_model(model, graph: Graph, dims: dict | None = None, device="cpu"):
    import torch

    inputs = example_inputs(graph, dims, device)
    return torch.export.export(model.eval(), inputs, dynamic_shapes=dynamic_shapes(graph))
