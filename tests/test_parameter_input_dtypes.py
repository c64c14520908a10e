"""A float input of another dtype than an op's parameters: `check` refuses exactly what
torch refuses (found by the session-4 red team: check accepted a float64 input to a Linear
and the float32 build then failed at the first forward)."""
import pytest
import torch

import specc

# op spec, input shape; torch's CPU kernels decide which input dtypes a float32 module takes
CASES = {
    "Linear": ({"op": "Linear", "out_features": 4}, [2, 8]),
    "Conv2d": ({"op": "Conv2d", "out_channels": 4, "kernel_size": 3}, [1, 3, 8, 8]),
    "BatchNorm2d": ({"op": "BatchNorm2d"}, [2, 3, 4, 4]),
    "LayerNorm": ({"op": "LayerNorm"}, [2, 8]),
    "GroupNorm": ({"op": "GroupNorm", "num_groups": 1}, [2, 4, 3]),
    "RMSNorm": ({"op": "RMSNorm"}, [2, 8]),
    "PReLU": ({"op": "PReLU"}, [2, 8]),
    "LSTM": ({"op": "LSTM", "hidden_size": 4}, [2, 3, 8]),
}


def _spec(tmp_path, layer, shape, dtype):
    import yaml
    path = tmp_path / "m.yaml"
    path.write_text(yaml.safe_dump({"inputs": {"x": {"shape": shape, "dtype": dtype}},
                                    "layers": [layer]}))
    return path


@pytest.mark.parametrize("dtype", ["float64", "bfloat16", "float16"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_check_accepts_what_torch_runs(tmp_path, name, dtype):
    layer, shape = CASES[name]
    path = _spec(tmp_path, layer, shape, dtype)
    result = specc.check(path)
    model = specc.build(_spec(tmp_path, layer, shape, "float32"))  # float32 parameters
    x = torch.randn(*shape).to(getattr(torch, dtype))
    try:
        model(x)
        torch_runs = True
    except (RuntimeError, ValueError):  # RNNs raise ValueError on the mix
        torch_runs = False
    assert result.ok == torch_runs, [d.message for d in result.diagnostics]
    if not torch_runs:
        assert [d.code for d in result.diagnostics if d.severity == "error"] == ["E305"]
        # and the model as check accepts it (float32 input) builds and runs
        assert specc.check(_spec(tmp_path, layer, shape, "float32")).ok
