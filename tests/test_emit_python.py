"""`specc build --emit-python`: the file reads like hand-written code and builds the very
model `specc.build` builds — torch is the oracle: the same state_dict keys and shapes, in
the same order, and outputs equal with torch.equal, on every bundled spec (the LLMs at
their CPU_VARS sizes). The emitted file runs with specc unimportable."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.compile.readable import _spec_names, readable_source
from tests.helpers import CPU_VARS, ROOT, SPECS, cpu_sized

torch = pytest.importorskip("torch")

ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml"))
# Above ~20 M parameters, building twice and running at 224×224 takes seconds each on two
# CPU cores: these run with SPECC_SLOW_TESTS=1 (their keys and shapes are compared always).
SLOW = {"alexnet", "vgg11", "vgg16", "vgg16_bn", "vit_b_16", "resnet50", "convnext_tiny",
        "resnet34", "unet", "googlenet", "efficientnet_b0", "mobilenet_v2"}


def _emitted_module(text: str, tmp_path, name: str):
    """Import the emitted file with specc made unimportable (it must need only torch)."""
    import importlib.util

    path = tmp_path / f"{name}.py"
    path.write_text(text)
    saved = {k: v for k, v in sys.modules.items() if k == "specc" or k.startswith("specc.")}
    for key in saved:
        sys.modules[key] = None  # type: ignore[assignment]  # `import specc` now fails
    try:
        loader = importlib.util.spec_from_file_location(f"emitted_{name}", path)
        module = importlib.util.module_from_spec(loader)
        loader.loader.exec_module(module)
    finally:
        sys.modules.update(saved)
    return module


def _inputs(graph):
    """Example inputs: floats random, token ids / masks a seeded 0/1 mix, sequence lengths
    (a 1-D integer input) between 1 and the example length."""
    from specc.compile.export import EXAMPLE_SIZE, example_inputs

    generator = torch.Generator().manual_seed(0)
    out = []
    for x in example_inputs(graph, {"N": 2}):
        if not x.is_floating_point():
            low, high = (1, EXAMPLE_SIZE + 1) if x.dim() == 1 else (0, 2)
            x = torch.randint(low, high, x.shape, dtype=x.dtype, generator=generator)
        out.append(x)
    return tuple(out)


@pytest.mark.parametrize("name", ALL_SPECS)
def test_emitted_model_has_the_built_models_keys_and_outputs(name, tmp_path):
    analysis = cpu_sized(name)
    graph = analysis.graph
    vars_ = CPU_VARS.get(name)
    module = _emitted_module(readable_source(SPECS / f"{name}.yaml", vars=vars_), tmp_path, name)
    slow = name in SLOW and not __import__("os").environ.get("SPECC_SLOW_TESTS")
    device = "meta" if slow else "cpu"
    with torch.device(device):
        emitted = module.build_model().eval()
    built = specc.build(SPECS / f"{name}.yaml", vars=vars_, device=device).eval()
    assert [(k, tuple(v.shape), v.dtype) for k, v in emitted.state_dict().items()] == \
        [(k, tuple(v.shape), v.dtype) for k, v in built.state_dict().items()]
    assert sum(p.numel() for p in emitted.parameters()) == \
        sum(p.numel() for p in built.parameters())
    if slow:
        return
    emitted.load_state_dict(built.state_dict(), strict=True)
    inputs = _inputs(graph)
    with torch.no_grad():
        got, expected = emitted(*inputs), built(*inputs)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        got, expected = list(got.values()), list(expected.values())
    for a, b in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(expected)):
        assert torch.equal(a, b)


def _other_value(name: str, vars_: dict, var: str, value):
    """Another value of a var that keeps the spec valid, not the one --emit-python itself
    tried (it doubles a size first): tripled, else doubled, else a layer or two more, else
    halved; a flag flipped; a fraction other than the value. None when none is valid."""
    if value is None:  # an optional size (GPT-2's n_inner): given
        tries: list = [64, 8]
    elif isinstance(value, bool):
        tries = [not value]
    elif isinstance(value, int):
        tries = [value * 3, value * 2, value + 1, value + 2, value // 2] if value else [1, 2]
    elif isinstance(value, float):
        tries = [value * 3, value / 2, value * 1.5 + 0.25]
    else:
        return None
    return next((new for new in tries if new != value and specc.check(
        SPECS / f"{name}.yaml", vars={**vars_, var: new}, lint=False).ok), None)


# specs whose modules at CPU_VARS sizes (or their own) run in well under a second: their
# outputs are compared for every var; the others' keys, shapes and dtypes (on meta)
RUN_EVERY_VAR = {"bert", "char_rnn", "gpt2", "llama", "lstm_classifier", "mistral", "mlp",
                 "mlp_img", "qwen2", "seq2seq", "t5", "tcn", "transformer_classifier",
                 "cnn_img", "small_cnn"}


# the vars build_model still refuses (the file says so, naming the var): none should be
REFUSED = {
    "swin_t": {"window"},
    "t5": {"num_layers", "num_decoder_layers"},
}


@pytest.mark.parametrize("name", ALL_SPECS)
def test_build_model_takes_every_var_of_the_spec(name, tmp_path):
    """build_model takes every var the spec declares, and build_model(var=v) for another
    valid value v builds what specc.build(vars={var: v}) builds: the same state_dict keys,
    shapes and dtypes in order, and (for the specs small enough to run) equal outputs."""
    import inspect

    vars_ = CPU_VARS.get(name) or {}
    module = _emitted_module(readable_source(SPECS / f"{name}.yaml", vars=vars_), tmp_path, name)
    analysis = specc.check(SPECS / f"{name}.yaml", vars=vars_, lint=False)
    declared = analysis.declared_vars
    signature = inspect.signature(module.build_model).parameters
    # only a var the spec computes from others is left out (head_dim)
    derived = _spec_names(SPECS / f"{name}.yaml", vars_, declared).derived
    assert set(declared) - set(signature) == set(derived)
    refused = set()
    for var, parameter in signature.items():
        new = _other_value(name, vars_, var, parameter.default)
        assert new is not None, var
        if var in REFUSED.get(name, ()):
            with pytest.raises(ValueError, match=f"generate it again: specc build --var {var}="):
                module.build_model(**{var: new})
            refused.add(var)
            continue
        run = name in RUN_EVERY_VAR
        device = "cpu" if run else "meta"
        with torch.device(device):
            emitted = module.build_model(**{var: new})
        built = specc.build(SPECS / f"{name}.yaml", vars={**vars_, var: new}, device=device)
        if run:
            inputs = _inputs(specc.check(SPECS / f"{name}.yaml", vars={**vars_, var: new},
                                         lint=False).graph)
            _same_model(emitted, built, *inputs)
        else:
            assert [(k, tuple(v.shape), v.dtype) for k, v in emitted.state_dict().items()] == \
                [(k, tuple(v.shape), v.dtype) for k, v in built.state_dict().items()], var
        # eps, rope_theta, dropout p are in no shape: compare the modules, in their order
        # (a stateless module may have another attribute name in the emitted file)
        # (the generated classes' names and own attributes differ: torch's modules compared)
        for mine, theirs in zip(emitted.modules(), built.modules(), strict=True):
            if type(theirs).__module__.startswith("torch."):
                assert type(mine) is type(theirs), var
                for attr in ("eps", "p", "negative_slope", "normalized_shape", "dim"):
                    assert getattr(mine, attr, None) == getattr(theirs, attr, None), (var, attr)
            else:
                for attr in ("rope_theta", "sliding_window", "scale", "causal"):
                    assert getattr(mine, attr, None) == getattr(theirs, attr, None), (var, attr)
    assert refused == REFUSED.get(name, set())


def test_resnet18_reads_like_torchvision(tmp_path):
    """Block classes take the spec's block params in __init__ (`planes`, `stride` with its
    default) and compute their layers' arguments from them, as torchvision's BasicBlock
    does; the block's input channels (which no param gives) are a parameter of their own;
    the model's __init__ builds its blocks; forwards carry shapes; no getattr(self, '6')."""
    out = tmp_path / "r18.py"
    res = subprocess.run([sys.executable, "-m", "specc", "build", "specs/resnet18.yaml",
                          "--emit-python", str(out)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    ast.parse(text)
    assert "class BasicBlock(nn.Module):\n" in text and "class BasicBlock_2" not in text
    assert "    def __init__(self, in_channels, planes, stride=1, downsample=False):\n" in text
    # the `if: $downsample` shortcut: one class builds it under that condition, and its
    # forward passes x on when it is not there, as the spec's disabled item does
    assert "        if downsample:\n            self.downsample = nn.Sequential(\n" in text
    assert "        else:\n            self.downsample = None\n" in text
    assert "        downsample = x\n        if self.downsample is not None:\n" \
        "            downsample = self.downsample(x)  # [N, planes, H/2, W/2]\n" in text
    assert "            BasicBlock(in_channels=64, planes=128, stride=2, downsample=True),\n" \
        in text
    # long calls wrap as black writes them: no generated line is longer than 100
    assert "        self.conv1 = nn.Conv2d(\n            in_channels=in_channels, " \
        "out_channels=planes, kernel_size=3, stride=stride, padding=1,\n" \
        "            bias=False,\n        )\n" in text
    assert "        self.conv2 = nn.Conv2d(\n            in_channels=planes, out_channels=planes, " \
        "kernel_size=3, padding=1, bias=False,\n        )\n" in text
    assert max(len(line) for line in text.splitlines() if "raise ValueError" not in line) <= 100
    assert "        self.bn2 = nn.BatchNorm2d(num_features=planes)\n" in text
    # an argument left at the block's default is not written
    assert "            BasicBlock(in_channels=64, planes=64),\n" in text
    assert "        self.fc = nn.Linear(in_features=512, out_features=num_classes)\n" in text
    assert "        conv1 = self.conv1(x)  # [N, planes, H/stride, W/stride]\n" in text
    assert "        conv1 = self.conv1(x)  # [N, 64, 112, 112]\n" in text
    assert "getattr(self" not in text and "= self.relu_2(add_" in text
    assert "def build_model(num_classes=1000):\n" in text
    build = text[text.index("def build_model"):]
    # the signature, the docstring, the check of num_classes `specc check` makes (issue 16:
    # build_model refuses what check refuses, naming the var), one call, return
    assert build.splitlines()[2:] == [
        "    _require(",
        "        _is_posint, lambda: num_classes, 'fc: Linear.out_features', 'a positive integer',",
        "        num_classes=num_classes,",
        "    )",
        "    try:",
        "        model = Resnet18(num_classes=num_classes)",
        "    except (AssertionError, ArithmeticError, RuntimeError, TypeError, ValueError) as error:",
        "        raise _not_built(error, num_classes=num_classes) from error",
        "    return model"]
    module = _emitted_module(text, tmp_path, "r18_readable")
    model = module.build_model(num_classes=10).eval()
    assert model.fc.out_features == 10 and model.layer2[0].conv1.stride == (2, 2)
    assert type(model.layer2[1]).__name__ == type(model.layer2[0]).__name__ == "BasicBlock"
    assert model.layer2[1].downsample is None and model.layer2[0].downsample is not None
    built = specc.build(SPECS / "resnet18.yaml", vars={"num_classes": 10}).eval()
    model.load_state_dict(built.state_dict(), strict=True)
    x = torch.rand(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(model(x), built(x))


def _same_model(emitted, built, *inputs) -> None:
    """The emitted model is the built one: keys, shapes and dtypes in order, and (with
    the built one's weights) equal outputs."""
    emitted, built = emitted.eval(), built.eval()
    assert [(k, tuple(v.shape), v.dtype) for k, v in emitted.state_dict().items()] == \
        [(k, tuple(v.shape), v.dtype) for k, v in built.state_dict().items()]
    emitted.load_state_dict(built.state_dict(), strict=True)
    with torch.no_grad():
        got, expected = emitted(*inputs), built(*inputs)
    if isinstance(expected, dict):
        assert list(got) == list(expected)
        got, expected = list(got.values()), list(expected.values())
    for a, b in zip(torch.utils._pytree.tree_leaves(got), torch.utils._pytree.tree_leaves(expected),
                    strict=True):
        assert torch.equal(a, b)


def test_build_model_takes_a_size_the_code_computes_from(tmp_path):
    """mlp's `hidden` feeds fc1's out_features, fc2's (`hidden // 2`) and the in_features
    after them: the code computes them from it, so build_model(hidden=64) is the model
    specc builds with hidden=64."""
    text = readable_source(SPECS / "mlp.yaml")
    assert "nn.Linear(in_features=hidden, out_features=hidden // 2)" in text
    module = _emitted_module(text, tmp_path, "mlp_sizes")
    for vars_ in ({"hidden": 64}, {"hidden": 90, "num_classes": 3}):
        built = specc.build(SPECS / "mlp.yaml", vars=vars_)
        _same_model(module.build_model(**vars_), built, torch.rand(3, 784))


def test_a_block_with_an_if_part_is_one_class_whatever_the_condition(tmp_path):
    """The shortcut's `if:` is any expression of the block's params (here stride != 1,
    and the shortcut is a block of its own); the class builds the block's layers from its
    params and the stage count comes from a var, so build_model(depth=3, width=12) is
    what specc builds with those vars."""
    spec = {
        "inputs": {"x": {"shape": ["N", 3, 16, 16]}}, "vars": {"width": 8, "depth": 2},
        "blocks": {
            "Shortcut": {"params": {"channels": None, "stride": 1}, "layers": [
                {"op": "Conv2d", "out_channels": "$channels", "kernel_size": 1,
                 "stride": "$stride"}]},
            "Unit": {"params": {"channels": None, "stride": 1}, "layers": [
                {"name": "conv", "op": "Conv2d", "out_channels": "$channels",
                 "kernel_size": 3, "stride": "$stride", "padding": 1},
                {"name": "norm", "op": "BatchNorm2d"},
                {"name": "proj", "block": "Shortcut", "if": "${stride != 1}", "from": "x",
                 "channels": "$channels", "stride": "$stride"},
                {"op": "add", "from": ["norm", "proj"]}]}},
        "layers": [
            {"name": "stem", "op": "Conv2d", "out_channels": "$width", "kernel_size": 3,
             "padding": 1},
            {"name": "down", "block": "Unit", "channels": "${width * 2}", "stride": 2},
            {"name": "stage", "repeat": "$depth", "block": "Unit", "channels": "${width * 2}"},
            {"op": "flatten", "start_dim": 1}]}
    text = readable_source(spec)
    assert text.count("class Unit") == 1 and "        if stride != 1:\n" in text
    assert "def __init__(self, in_channels, channels, stride=1):" in text
    module = _emitted_module(text, tmp_path, "if_part")
    x = torch.rand(2, 3, 16, 16)
    _same_model(module.build_model(), specc.build(spec), x)
    changed = {"depth": 3, "width": 12}
    _same_model(module.build_model(**changed), specc.build(spec, vars=changed), x)


def test_a_var_that_shapes_the_structure_is_refused_with_a_message(tmp_path):
    """An unnamed repeat splices its copies into the model's own forward: the code does
    not compute their number, so build_model refuses another value, naming the var."""
    spec = {"inputs": {"x": {"shape": ["N", 4]}}, "vars": {"depth": 2, "width": 6},
            "layers": [{"op": "Linear", "out_features": "$width", "repeat": "$depth"},
                       {"name": "head", "op": "Linear", "out_features": 3}]}
    module = _emitted_module(readable_source(spec), tmp_path, "splice_refuses")
    _same_model(module.build_model(width=5), specc.build(spec, vars={"width": 5}),
                torch.rand(2, 4))
    with pytest.raises(ValueError, match=r"depth=3: this file was generated with depth=2"):
        module.build_model(depth=3)


def test_transformer_layers_are_a_module_list_run_in_a_loop(tmp_path):
    """A repeat whose copies each take the previous output (and the same other inputs) is
    an nn.ModuleList built by a comprehension when the copies are alike, and a loop."""
    text = readable_source(SPECS / "bert.yaml", vars=CPU_VARS["bert"])
    assert "class Layer(nn.ModuleList):\n" in text
    # the number of layers is the var's: build_model(num_hidden_layers=3) builds three
    assert "        super().__init__([BertLayer(" in text and \
        " for _ in range(num_hidden_layers)])\n" in text
    assert "        for layer in self:\n            x = layer(x, attention_mask)  # [N, T, 32]\n" \
        in text
    assert "class BertLayer_2" not in text  # one class serves both layers
    assert "class Bert(nn.Module):" in text  # the model's class takes the spec's name
    module = _emitted_module(text, tmp_path, "bert_loop")
    model = module.build_model(vocab_size=80).eval()
    built = specc.build(SPECS / "bert.yaml", vars={**CPU_VARS["bert"], "vocab_size": 80}).eval()
    model.load_state_dict(built.state_dict(), strict=True)
    ids = torch.randint(0, 80, (2, 7))
    mask = torch.ones(2, 7, dtype=torch.long)
    mask[1, 5:] = 0
    types = torch.zeros(2, 7, dtype=torch.long)
    with torch.no_grad():
        got, expected = model(ids, mask, types), built(ids, mask, types)
    assert list(got) == list(expected) == ["logits"]
    assert torch.equal(got["logits"], expected["logits"])
    changed = {"num_hidden_layers": 3, "num_attention_heads": 2, "vocab_size": 70}
    built = specc.build(SPECS / "bert.yaml", vars={**CPU_VARS["bert"], **changed})
    ids = torch.randint(0, 70, (2, 7))
    _same_model(module.build_model(**changed), built, ids, mask, types)


def test_a_hostile_var_value_stays_a_literal(tmp_path):
    """A string var is a repr'd literal in build_model's signature and message: quotes and
    braces cannot end a string or open an f-string field."""
    hostile = 'x"); open("PWNED", "w") #{__import__("os")}\''
    spec = {"inputs": {"x": {"shape": ["N", 4]}}, "vars": {"note": hostile, "width": 3},
            "layers": [{"op": "Linear", "out_features": "$width"}]}
    text = readable_source(spec)
    tree = ast.parse(text)
    assert all(isinstance(stmt, (ast.Import, ast.ImportFrom, ast.ClassDef, ast.FunctionDef))
               for stmt in tree.body)
    module = _emitted_module(text, tmp_path, "hostile_var")
    assert module.build_model(width=5)(torch.zeros(2, 4)).shape == (2, 5)
    with pytest.raises(ValueError) as info:
        module.build_model(note="other")
    assert repr(hostile) in str(info.value)
    assert not (tmp_path / "PWNED").exists() and not (ROOT / "PWNED").exists()


def test_emitted_files_pass_ruff(tmp_path):
    """The emitted file of a model of each kind passes ruff's default rules (pyflakes and
    pycodestyle errors): no unused import, no undefined name, no statement ruff rejects."""
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    paths = []
    for name in ("llama", "bert", "unet", "vit_b_16", "regnet_y_400mf", "mlp", "gpt2"):
        path = tmp_path / f"{name}.py"
        path.write_text(readable_source(SPECS / f"{name}.yaml", vars=CPU_VARS.get(name)))
        paths.append(str(path))
    res = subprocess.run([ruff, "check", "--isolated", "--select", "E4,E7,E9,F", *paths],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_a_constant_init_is_built_from_its_var(tmp_path):
    """A parameter whose `init:` is a constant of a var (ConvNeXt's layer scale) is built
    with it, as torchvision builds it (torch.full(..., layer_scale)), not set to the
    generated value in init_weights: build_model(scale=v) has the values specc.build
    gives with scale=v, and with the same seed every tensor is equal."""
    spec = {"inputs": {"x": {"shape": ["N", 6]}}, "vars": {"width": 4, "scale": 1.0e-6},
            "layers": [
                {"name": "proj", "op": "Linear", "out_features": "$width"},
                {"name": "gamma", "op": "parameter", "shape": ["$width"],
                 "init": {"method": "constant", "value": "$scale"}},
                {"op": "mul", "from": ["proj", "gamma"]}]}
    text = readable_source(spec)
    assert "self.gamma = nn.Parameter(torch.full((width,), scale))" in text
    assert "init_weights" not in text
    module = _emitted_module(text, tmp_path, "layer_scale")
    for vars_ in ({}, {"scale": 0.5}, {"scale": 0.25, "width": 3}):
        torch.manual_seed(0)
        emitted = module.build_model(**vars_)
        torch.manual_seed(0)
        built = specc.build(spec, vars=vars_)
        mine, theirs = emitted.state_dict(), built.state_dict()
        assert list(mine) == list(theirs)
        assert all(torch.equal(mine[key], theirs[key]) for key in theirs), vars_
        x = torch.rand(2, 6)
        assert torch.equal(emitted(x), built(x))
