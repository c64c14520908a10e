"""Node names follow torch's rule for attributes (issue 12): a submodule, parameter or buffer
cannot take the name of an nn.Module attribute (torch's add_module refuses it), while a
functional node is only a value in forward and may be called `half` or `float`."""
import pytest

import specc

torch = pytest.importorskip("torch")

TEXT = """\
inputs: {x: {shape: [N, 8]}}
layers:
  - {name: half, op: mul, from: [x, x]}
  - {name: float, op: add, from: [half, x]}
  - {name: forward, op: neg}
  - {name: lin, op: Linear, out_features: 4}
  - {name: cuda, op: add, from: [lin, lin]}
"""


def test_functional_nodes_may_take_module_attribute_names():
    assert specc.check(TEXT).diagnostics == []
    model = specc.build(TEXT)
    x = torch.randn(3, 8)
    expected = 2 * model.lin(-(x * x + x))
    assert torch.allclose(model(x), expected)
    assert model.half.__func__ is torch.nn.Module.half  # still torch's method


@pytest.mark.parametrize("line", [
    "{name: half, op: Linear, out_features: 4}",
    "{name: float, op: parameter, shape: [4]}",
    "{name: cuda, op: buffer, shape: [4]}",
    "{name: train, layers: [{op: neg}]}",
    "{name: to, op: neg, repeat: 2}",
])
def test_attribute_names_of_modules_parameters_and_buffers_are_refused(line):
    """What torch itself refuses: add_module / register_parameter of an existing attribute."""
    name = line.split(",")[0].split(": ")[1]
    with pytest.raises(KeyError):
        torch.nn.Module().add_module(name, torch.nn.Identity())
    text = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - " + line + "\n"
    codes = [(d.code, d.loc.line) for d in specc.check(text).diagnostics]
    assert ("E203", 3) in codes, codes
