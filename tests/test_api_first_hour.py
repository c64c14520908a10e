"""The Python API as a new user meets it: totals equal to the table's (and torch's), list
vars indexed in expressions, and inputs checked against the spec when the model runs."""
import re
import subprocess
import sys

import pytest
import torch

import specc
from specc.compile.build import InputShapeError
from specc.errors import BuildError
from tests.helpers import ROOT, SPECS, emitted_and_built


@pytest.mark.parametrize("name", ["resnet18", "mlp", "transformer_classifier"])
def test_check_totals_equal_the_table_and_torch(name):
    analysis = specc.check(SPECS / f"{name}.yaml")
    totals = analysis.totals
    out = subprocess.run([sys.executable, "-m", "specc", "check", f"specs/{name}.yaml"],
                         cwd=ROOT, capture_output=True, text=True).stdout
    params, macs = re.search(r"Params: ([\d,]+)\s+MACs/sample: ([\d,]+)", out).groups()
    assert totals["params"] == int(params.replace(",", ""))
    assert totals["macs"] == int(macs.replace(",", ""))
    model = specc.build(SPECS / f"{name}.yaml", device="meta")
    assert totals["params"] == sum(p.numel() for p in model.parameters())
    assert totals["trainable"] == sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert specc.check("layers: [").totals is None


def test_list_vars_can_be_indexed_in_expressions():
    text = ("inputs: {x: {shape: [N, 8]}}\nvars: {hidden_dims: [32, 16, 4]}\nlayers:\n"
            "  - {name: mlp, repeat: 3, layers: [{op: Linear, out_features: '${hidden_dims[i]}'}]}\n"
            "  - {name: last, op: Linear, out_features: '${hidden_dims[-1] * 2}'}\n")
    analysis = specc.check(text)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    model = specc.build(text)
    assert [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)] == \
        [32, 16, 4, 8]
    assert model(torch.zeros(2, 8)).shape == (2, 8)
    bad = specc.check(text.replace("hidden_dims[-1]", "hidden_dims[3]"))
    message = next(d.message for d in bad.diagnostics if d.code == "E207")
    assert "index 3 is out of range for a list of 3" in message


def test_inputs_are_checked_against_the_declared_shape():
    model = specc.build(SPECS / "resnet18.yaml")
    with pytest.raises(InputShapeError, match=r"input 'x' .*has shape \[2, 3, 64, 64\], but the "
                       r"spec declares \[N, 3, 224, 224\]: dim 2 is 64, expected 224"):
        model(torch.zeros(2, 3, 64, 64))
    with pytest.raises(InputShapeError, match="3 dims, not 4|4 dims, not 3"):
        model(torch.zeros(3, 224, 224))
    assert isinstance(InputShapeError("x"), BuildError)
    tokens = specc.build(SPECS / "transformer_classifier.yaml")
    with pytest.raises(InputShapeError, match="dtype torch.float32"):
        tokens(torch.zeros(2, 128))
    two = specc.build("inputs: {a: {shape: [N, 4]}, b: {shape: [N, 4]}}\n"
                      "layers:\n  - {op: add, from: [a, b]}\n")
    assert two(torch.zeros(3, 4), torch.zeros(3, 4)).shape == (3, 4)
    with pytest.raises(InputShapeError, match="input 'b'.*dim 0 is 5, expected 3"):
        two(torch.zeros(3, 4), torch.zeros(5, 4))


def test_build_with_vars_overrides_the_spec():
    model = specc.build(SPECS / "mlp.yaml", vars={"hidden": 64, "num_classes": 3})
    assert model.fc1.out_features == 64 and model.fc2.out_features == 32
    assert model(torch.zeros(2, 784)).shape == (2, 3)
    assert specc.check(SPECS / "mlp.yaml", vars={"hidden": 64}).totals["params"] == \
        sum(p.numel() for p in model.parameters()) - (32 * 3 + 3) + (32 * 10 + 10)
    # vars= takes a whole config (a Hugging Face config.json has many more keys than a spec
    # declares): keys the spec lacks are ignored and listed, never silently used
    assert specc.check(SPECS / "mlp.yaml", vars={"hiden": 64}).ignored_vars == ["hiden"]


def test_emitted_model_forward_carries_shape_comments(tmp_path):

    out = tmp_path / "r18.py"
    res = subprocess.run([sys.executable, "-m", "specc", "build", "specs/resnet18.yaml",
                          "--emit-python", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert "conv1 = self.conv1(x)  # [N, 64, 112, 112]" in text
    assert "fc = self.fc(flatten_9)  # [N, 1000]" in text or "# [N, 1000]" in text
    emitted, built = emitted_and_built(out, "emitted_r18_comments")
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(emitted(x), built(x))
