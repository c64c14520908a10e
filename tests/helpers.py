"""Shared test helpers: analyse specs, build them on the meta device, compare with torch."""
from __future__ import annotations

import json
from pathlib import Path

import specc
from specc.dims import Sym

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"
REFDATA = ROOT.parent / "shared" / "refdata" / "torchvision_models.json"
if not REFDATA.exists():
    REFDATA = Path(__file__).resolve().parent / "data" / "torchvision_models.json"


def refmodel(name: str) -> dict:
    data = json.loads(REFDATA.read_text())
    return next(m for m in data["models"] if m["name"] == name)


def analyse_text(text: str, **kw):
    return specc.check(text, **kw)


def codes(analysis) -> list[str]:
    return [d.code for d in analysis.diagnostics]


def concrete_shape(shape, dims: dict):
    out = []
    for d in shape:
        if isinstance(d, Sym):
            d = d.substitute(dims)
        out.append(d)
    return tuple(out)


def run_on_meta(graph, dims: dict, train: bool = True):
    """Build, run forward; return {node id: [(shape, dtype)]}, model.

    In eval, then (``train``, when the graph has training-only nodes: aux heads) in
    training too, which runs them and returns every output.

    On the meta device unless the model takes sequence lengths (1-D integer inputs): packing
    a batch by its lengths needs real values, so those models run on small CPU tensors.
    """
    import torch

    from specc.compile.build import build_module
    from specc.ops.base import get_op

    seen: dict = {}

    def record(node_id, outputs):
        seen[node_id] = [(tuple(t.shape), str(t.dtype).replace("torch.", "")) for t in outputs]

    # Lengths feed a recurrent node's second input; other 1-D integer inputs (gather or
    # index_select indices) run as zeros, which are in bounds of any dim.
    real = any(not n.out_types[0].is_float and n.out_types[0].rank == 1 for n in graph.inputs) \
        and any(getattr(get_op(n.op), "category", None) == "recurrent" and len(n.inputs) > 1
                for n in graph.nodes)
    device = "cpu" if real else "meta"
    model = build_module(graph, device=device, recorder=record)
    inputs = []
    for node in graph.inputs:
        t = node.out_types[0]
        shape = concrete_shape(t.shape, dims)
        if t.is_float:
            inputs.append(torch.zeros(shape, dtype=getattr(torch, t.dtype), device=device))
        elif len(shape) == 1 and real:  # sequence lengths: between 1 and the longest sequence
            longest = max(dims.get("T", 1), 1)
            inputs.append(torch.randint(1, longest + 1, shape, dtype=getattr(torch, t.dtype)))
        else:  # token ids
            inputs.append(torch.zeros(shape, dtype=getattr(torch, t.dtype), device=device))
    model.eval()
    with torch.no_grad():
        model(*inputs)
        if train and any(node.training_only for node in graph.nodes):
            # aux heads run in training only: a training forward records them too, and
            # returns every output (eval returns the others alone)
            model.train()
            outputs = model(*inputs)
            if len(graph.eval_outputs) < len(graph.outputs):
                assert len(outputs) == len(graph.outputs), "training returns every output"
            model.eval()
    return seen, model


def assert_matches_torch(graph, dims: dict):
    """Every node's inferred shapes/dtypes and the parameter count equal torch's."""
    seen, model = run_on_meta(graph, dims)
    for node in graph.nodes:
        assert node.id in seen, f"{node.id} never ran"
        inferred = [(concrete_shape(t.shape, dims), t.dtype) for t in node.out_types]
        assert inferred == seen[node.id], f"{node.id} ({node.op}): specc {inferred} vs torch {seen[node.id]}"
    total = sum(p.numel() for p in model.parameters())
    assert total == sum(n.params for n in graph.nodes), "parameter count differs"
    return model


# Small configurations of bundled specs whose defaults are too big to run on a CPU in tests
# (vars by the spec's names — Hugging Face config fields for the LLMs). Their full-size
# defaults are checked statically and built on meta elsewhere.
CPU_VARS = {
    "llama": {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64},
    "qwen2": {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
              "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
              "max_position_embeddings": 64},
    "mistral": {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
                "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                "max_position_embeddings": 64, "sliding_window": 3},
    "gpt2": {"vocab_size": 64, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4},
    "bert": {"vocab_size": 64, "hidden_size": 32, "num_hidden_layers": 2,
             "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 32},
    "t5": {"vocab_size": 64, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2,
           "num_decoder_layers": 2, "num_heads": 4},
}
TOO_BIG_FOR_CPU = 200_000_000  # parameters


def cpu_sized(name: str, **kwargs):
    """specc.check of a bundled spec at a size a CPU test can run (see CPU_VARS); skips a
    spec too big to run that has no small configuration yet."""
    import pytest

    import specc

    if name in CPU_VARS:
        kwargs["vars"] = CPU_VARS[name]
    analysis = specc.check(SPECS / f"{name}.yaml", **kwargs)
    if analysis.graph is not None and name not in CPU_VARS and sum(
            n.params for n in analysis.graph.nodes) > TOO_BIG_FOR_CPU:
        pytest.skip(f"{name} is too big for a CPU test and has no CPU_VARS entry")
    return analysis


def emitted_and_built(path, module_name: str, spec: str = "resnet18"):
    """The model an --emit-python file builds and specc.build's, in eval mode, sharing the
    built one's weights (the emitted file must construct the same keys, strictly)."""
    import importlib.util

    import specc

    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(loader_spec)
    loader_spec.loader.exec_module(module)
    emitted = module.build_model().eval()
    built = specc.build(SPECS / f"{spec}.yaml").eval()
    emitted.load_state_dict(built.state_dict(), strict=True)
    return emitted, built
