"""`specc import` / specc.from_module: an nn.Module → a spec, checked against torch.

Round trips for hand-written ResNet-18/50, VGG-16, MobileNetV2, a ViT and an LSTM
classifier (tests/import_models.py; torchvision is not imported): the spec checks, builds the
original's exact state_dict keys, gives the same outputs with the original's weights, and
importing the built module again gives the same text.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import specc  # noqa: E402
from specc.importer import ImportFailed  # noqa: E402
from tests import import_models as M  # noqa: E402
from tests.helpers import ROOT  # noqa: E402

MODELS = {
    "resnet18": (M.resnet18, lambda: torch.randn(2, 3, 64, 64)),
    "resnet50": (M.resnet50, lambda: torch.randn(1, 3, 64, 64)),
    "vgg16": (lambda: M.vgg16(num_classes=10), lambda: torch.randn(1, 3, 32, 32)),
    "mobilenet_v2": (M.MobileNetV2, lambda: torch.randn(2, 3, 64, 64)),
    "vit": (M.VisionTransformer, lambda: torch.randn(2, 3, 32, 32)),
    "lstm_classifier": (M.LSTMClassifier, lambda: torch.randint(0, 100, (3, 9))),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_round_trip(name):
    factory, example = MODELS[name]
    torch.manual_seed(0)
    original = factory().eval()
    x = example()
    text = specc.from_module(original, (x,))
    analysis = specc.check(text)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    built = specc.build(text).eval()
    assert list(built.state_dict()) == list(original.state_dict())
    built.load_state_dict(original.state_dict(), strict=True)
    with torch.no_grad():
        want, got = original(x), built(x)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0)
    assert specc.from_module(built, (x,)) == text  # idempotent


def test_resnet18_is_written_with_blocks_not_flat_nodes():
    text = specc.from_module(M.resnet18().eval(), torch.randn(1, 3, 64, 64))
    doc = specc.check(text).graph
    assert "  BasicBlock:" in text and "BasicBlock2" not in text  # one block, downsample `if`
    assert "if: $downsample" in text
    assert "- {name: layer1, block: BasicBlock, out_channels: 64, repeat: 2}" in text
    assert text.count("block: BasicBlock") == 7  # layer1 as repeat, 2 per later stage
    assert len(text.splitlines()) < 50
    assert len(doc.nodes) > 60  # …while the model itself has all of its nodes


def test_bottleneck_expansion_is_an_expression():
    text = specc.from_module(M.resnet50().eval(), torch.randn(1, 3, 64, 64))
    assert 'out_channels: "${out_channels * 4}"' in text


class _Gate(nn.Module):
    def forward(self, x):
        if x.sum() > 0:  # data-dependent control flow: torch.fx cannot trace it
            return x
        return -x


class _WithGate(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.body = nn.Sequential(nn.ReLU(), _Gate())

    def forward(self, x):
        return self.body(self.conv(x))


class _Unknown(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.head = _CumSum()

    def forward(self, x):
        return self.head(self.fc(x))


class _CumSum(nn.Module):
    def forward(self, x):
        return torch.cumsum(x, 1)


class _Shared(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(self.fc(x))


class _Buffer(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.ones(4))

    def forward(self, x):
        return x * self.scale


class _PicksByRuntimeIndex(nn.Module):
    """Picks one of the LSTM's outputs by a size read while it runs (a traced index)."""

    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(4, 3)

    def forward(self, x):
        return self.lstm(x)[x.size(0) - 5]


@pytest.mark.parametrize("model, example, where, words", [
    (_WithGate, (1, 3, 8, 8), "body.1", ["_Gate cannot be traced", "plugin"]),
    (_Unknown, (2, 4), "head", ["torch.cumsum", "plugin"]),
    (_Shared, (2, 4), "fc", ["called 2 times"]),
    (_Buffer, (2, 4), "scale", ["buffer"]),
    (_PicksByRuntimeIndex, (5, 2, 4), "", ["picks an output of LSTM", "while it runs"]),
])
def test_what_cannot_be_imported_is_located(model, example, where, words):
    with pytest.raises(ImportFailed) as info:
        specc.from_module(model(), torch.randn(example))
    problem = info.value.problems[0]
    assert problem.module == where
    text = problem.format()
    for word in words:
        assert word in text


def test_stateless_module_called_twice_gets_a_copy():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.act = nn.Linear(4, 4), nn.Linear(4, 4), nn.GELU()

        def forward(self, x):
            return self.act(self.fc2(self.act(self.fc1(x))))

    model = Twice().eval()
    text = specc.from_module(model, torch.randn(2, 4))
    assert "{name: act_2, op: GELU}" in text
    built = specc.build(text)
    built.load_state_dict(model.state_dict())
    x = torch.randn(2, 4)  # the importer declares the example batch size (checked on input)
    torch.testing.assert_close(built(x), model(x))


def test_functional_calls_map_to_ops():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, padding=1)
            self.fc = nn.Linear(8, 5)

        def forward(self, x):
            y = torch.nn.functional.relu(self.conv(x))
            y = torch.nn.functional.max_pool2d(y, 2)
            y = y.mean(dim=(2, 3)) * 0.5 - 1
            z = torch.sigmoid(y).unsqueeze(1).squeeze(1)
            return torch.softmax(self.fc(z + y), dim=-1)

    model = Functional().eval()
    x = torch.randn(2, 3, 8, 8)
    text = specc.from_module(model, x)
    for op in ("op: ReLU", "op: MaxPool2d", "op: mean", "op: mul", "op: sub", "op: Sigmoid",
               "op: unsqueeze", "op: squeeze", "op: Softmax"):
        assert op in text
    built = specc.build(text)
    built.load_state_dict(model.state_dict())
    torch.testing.assert_close(built(x), model(x))


def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True,
                          text=True, cwd=cwd, env=env)


def test_cli_import_writes_a_spec_that_builds(tmp_path):
    (tmp_path / "mymodels.py").write_text(textwrap.dedent("""
        import torch
        from torch import nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.embed = nn.Embedding(50, 8)
                self.fc = nn.Linear(8, 3)

            def forward(self, tokens):
                return self.fc(self.embed(tokens).mean(1))

        def make():
            return Net()
    """))
    result = _cli("import", "mymodels:make", "--input", "tokens=2,5:int64", "-o", "net.yaml",
                  cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / "net.yaml").read_text()
    assert "tokens: {shape: [2, 5], dtype: int64}" in text
    assert _cli("check", "net.yaml", cwd=tmp_path).returncode == 0


@pytest.mark.parametrize("args, words", [
    (["nomodule:make", "--input", "x=1,3"], ["cannot import nomodule"]),
    (["tests.test_importer", "--input", "x=1,3"], ["MODULE:FACTORY"]),
    (["tests.test_importer:_WithGate", "--input", "x=1,3,8,8"], ["body.1", "_Gate"]),
    (["tests.test_importer:_WithGate", "--input", "y=1,3,8,8"], ["forward() needs input 'x'"]),
    (["tests.test_importer:_WithGate", "--input", "x=1,a"], ["integers"]),
])
def test_cli_import_problems_exit_2_without_traceback(args, words):
    result = _cli("import", *args, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


@pytest.mark.parametrize("model", [nn.Identity, nn.Sequential, lambda: nn.Dropout(0.5)])
def test_a_module_that_returns_its_input_imports_as_an_identity(model):
    """nn.Identity and an empty Sequential trace to no call at all; the spec was refused
    ('layers' must be a list, got None). It is one Identity, and builds what torch computes."""
    module = model().eval()
    x = torch.randn(2, 3)
    text = specc.from_module(module, x)
    analysis = specc.check(text)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    built = specc.build(text).eval()
    assert list(built.state_dict()) == list(module.state_dict()) == []
    torch.testing.assert_close(built(x), module(x), rtol=0, atol=0)
