"""`specc build --dtype`: a model built in bfloat16/float16 runs forward (issue 13).

Floats created inside forward (an integer mask times 1.0) follow the build dtype instead of
torch's default float32, and a constant beyond the dtype's range becomes its finfo min/max
instead of an inf. Every spec in specs/ runs a bfloat16 forward."""
import pytest

import specc
from specc.analysis import analyse_path
from specc.compile.build import build_module
from specc.infer import totals
from tests.helpers import SPECS, concrete_shape

torch = pytest.importorskip("torch")

MASKED = """
name: masked
inputs: {x: {shape: [N, 8]}, mask: {shape: [N, 8], dtype: int64}}
layers:
  - {name: fc, op: Linear, out_features: 8}
  - {name: keep, op: mul, from: mask, other: 1.0}
  - {name: dropped, op: sub, from: keep, other: 1.0}
  - {name: bias, op: mul, from: dropped, other: 3.4028234663852886e+38}
  - {name: scores, op: add, from: [fc, bias]}
  - {name: probs, op: Softmax, dim: -1}
  - {name: head, op: Linear, out_features: 3}
"""


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_integer_mask_and_float32_min_follow_the_build_dtype(dtype):
    graph = specc.check(MASKED).graph
    reference = build_module(graph).eval()
    model = build_module(graph, dtype=dtype).eval()
    model.load_state_dict({k: v.to(getattr(torch, dtype)) for k, v in
                           reference.state_dict().items()})
    x = torch.randn(2, 8)
    mask = torch.tensor([[1] * 8, [1] * 3 + [0] * 5])
    with torch.no_grad():
        want = reference(x, mask)
        got = model(x.to(getattr(torch, dtype)), mask)
    assert got.dtype == getattr(torch, dtype)
    assert torch.isfinite(got).all()
    # torch's own float32 run is the oracle; the masked positions got no probability
    assert torch.allclose(got.float(), want, atol=0.05, rtol=0.05)
    src = model.specc_source
    assert f"torch.finfo(torch.{dtype}).max" in src and f".to(torch.{dtype})" in src


def test_float32_build_keeps_the_plain_code():
    source = build_module(specc.check(MASKED).graph).specc_source
    assert "finfo" not in source and ".to(torch." not in source


SIZES = {"N": 2, "T": 6, "S": 6, "H": 64, "W": 64, "h": 8, "w": 8, "L": 6}
SMALL_ENOUGH_FOR_CPU = 200_000_000  # bigger specs run on the meta device


@pytest.mark.parametrize("path", sorted(SPECS.glob("*.yaml")), ids=lambda p: p.stem)
def test_every_spec_runs_a_bfloat16_forward(path):
    """Real values on CPU where the model is small enough, else on meta; either way every
    floating-point value forward computes is bfloat16 (a float32 one meets bf16 weights)."""
    graph = analyse_path(str(path), lint=False).graph
    assert graph is not None and graph.ok
    seen: dict = {}

    def record(node_id, outputs):
        seen[node_id] = [t.dtype for t in outputs if isinstance(t, torch.Tensor)]

    on_cpu = totals(graph)["params"] < SMALL_ENOUGH_FOR_CPU
    device = "cpu" if on_cpu else "meta"
    model = build_module(graph, device=device, dtype="bfloat16", recorder=record).eval()
    inputs = []
    for node in graph.inputs:
        t = node.out_types[0]
        shape = concrete_shape(t.shape, SIZES)
        if t.is_float:
            inputs.append(torch.randn(shape, dtype=torch.bfloat16, device=device))
        elif t.rank == 1:  # sequence lengths (packing needs real values, on CPU)
            inputs.append(torch.randint(1, SIZES["T"] + 1, shape))
        else:
            inputs.append(torch.zeros(shape, dtype=getattr(torch, t.dtype), device=device))
    with torch.no_grad():
        out = model(*inputs)
    floats = {node_id: dtypes for node_id, dtypes in seen.items()
              if any(d.is_floating_point for d in dtypes)}
    wrong = {k: v for k, v in floats.items() if any(d.is_floating_point and d != torch.bfloat16
                                                      for d in v)}
    assert not wrong, f"values not in bfloat16: {wrong}"
    if on_cpu:
        outs = out.values() if isinstance(out, dict) else out if isinstance(out, tuple) else [out]
        assert all(torch.isfinite(o).all() for o in outs if o.is_floating_point())
