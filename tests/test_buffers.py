"""`buffer`: constant tensors registered with register_buffer (Swin's relative position
index, a causal mask), checked against what torch's register_buffer saves and loads."""
import pytest

import specc

torch = pytest.importorskip("torch")

SPEC = """
name: buffers
inputs: {x: {shape: [N, 3]}}
layers:
  - {name: index, op: buffer, shape: [2, 3], dtype: int64, values: [[0, 1, 2], [2, 1, 0]]}
  - {name: mask, op: buffer, shape: [3], fill: min, persistent: false}
  - {name: scale, op: buffer, shape: [1, 3], values: [0.5, 1.0, 2.0]}
  - {name: scaled, op: mul, from: [x, scale]}
  - {name: masked, op: add, from: [scaled, mask]}
outputs: [masked]
"""


class Reference(torch.nn.Module):
    """The same buffers, registered by hand."""

    def __init__(self, dtype=torch.float32):
        super().__init__()
        self.register_buffer("index", torch.tensor([[0, 1, 2], [2, 1, 0]]))
        self.register_buffer("mask", torch.full((3,), torch.finfo(dtype).min, dtype=dtype),
                             persistent=False)
        self.register_buffer("scale", torch.tensor([[0.5, 1.0, 2.0]], dtype=dtype))


def test_buffers_are_saved_as_torch_saves_them_and_are_not_parameters():
    analysis = specc.check(SPEC)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert sum(n.params for n in analysis.graph.nodes) == 0
    model = specc.build(SPEC)
    reference = Reference()
    state = model.state_dict()
    assert {k: (v.shape, v.dtype) for k, v in state.items()} == \
        {k: (v.shape, v.dtype) for k, v in reference.state_dict().items()}
    assert torch.equal(state["index"], reference.index)
    assert list(model.parameters()) == []
    model.load_state_dict(reference.state_dict(), strict=True)
    assert torch.equal(model.mask, reference.mask)
    x = torch.randn(2, 3)
    assert torch.equal(model(x), x * reference.scale + reference.mask)


def test_a_float_buffer_follows_the_build_dtype():
    model = specc.build(SPEC, dtype="bfloat16")
    reference = Reference(torch.bfloat16)
    assert model.mask.dtype == torch.bfloat16 and model.index.dtype == torch.int64
    assert torch.equal(model.mask, reference.mask)  # bf16's minimum, not -inf
    out = model(torch.randn(2, 3, dtype=torch.bfloat16))
    assert out.dtype == torch.bfloat16 and torch.isfinite(out).all()


@pytest.mark.parametrize("node,code", [
    ("{name: b, op: buffer, shape: [2, 2], values: [1, 2, 3]}", "E302"),
    ("{name: b, op: buffer, shape: [2], dtype: int64, values: [1.5, 2]}", "E305"),
    ("{name: b, op: buffer, shape: [2], dtype: int64, fill: -inf}", "E305"),
])
def test_bad_buffers_are_located_errors(node, code):
    spec = f"inputs: {{x: {{shape: [N, 3]}}}}\nlayers:\n  - {node}\n"
    errors = [d for d in specc.check(spec).diagnostics if d.severity == "error"]
    assert [d.code for d in errors] == [code] and errors[0].loc.line == 3


def test_a_table_sliced_to_a_symbolic_length_runs_at_any_length():
    spec = """
name: sliced
inputs: {x: {shape: [N, T, 4]}}
layers:
  - {name: table, op: parameter, shape: [1, 16, 4], init: {method: normal}}
  - {name: cut, op: slice, from: table, dim: 1, end: T}
  - {name: out, op: add, from: [x, cut]}
"""
    graph = specc.check(spec).graph
    assert [str(d) for d in graph.node("cut").out_types[0].shape] == ["1", "T", "4"]
    assert specc.check(spec, dims={"T": 7}).graph.node("cut").out_types[0].shape == (1, 7, 4)
    model = specc.build(spec)
    for length in (1, 5, 16):
        x = torch.randn(2, length, 4)
        assert torch.equal(model(x), x + model.table[:, :length])
    bad = spec.replace("end: T", "end: T, step: 2")
    assert [d.code for d in specc.check(bad).diagnostics if d.severity == "error"] == ["E301"]


def test_memory_counts_buffers_with_the_model_not_as_activations():
    """Swin's index_select saves its index, a buffer: the model's own tensor, which torch's
    saved-tensor measurement does not count as an activation, and the buffer bytes are what
    the built model holds."""
    from specc.analyses import measure
    from specc.analyses.memory import analyse_memory

    text = """
inputs: {x: {shape: [N, 4, 3]}}
layers:
  - {name: table, op: parameter, shape: [5, 3], init: {method: normal}}
  - {name: index, op: buffer, shape: [4], dtype: int64, values: "${[i + 1 for i in range(4)]}"}
  - {name: scale, op: buffer, shape: [3], fill: 1.5, persistent: false}
  - {name: bias, op: index_select, from: [table, index], dim: 0}
  - {name: biased, op: add, from: [x, bias]}
  - {op: mul, from: [biased, scale]}
"""
    analysis = specc.check(text, dims={"N": 2}, lint=False)
    report = analyse_memory(analysis.graph)
    model = specc.build(text)
    assert report.buffers_bytes == sum(b.numel() * b.element_size() for b in model.buffers())
    real = measure.saved_bytes(model, measure.example_inputs(analysis.graph, {"N": 2},
                                                             torch.float32))
    assert report.activations_train_bytes == real
