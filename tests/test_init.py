"""`init:` (issue 12, issue 14): declared once (specc/initializers.py), checked by `check`,
and torch is the oracle. Every entry check accepts builds and sets exactly the values
torch.nn.init sets; every entry it refuses is a located error, and torch refuses it too."""
from __future__ import annotations

import inspect
import random
import warnings

import pytest
import yaml

import specc
from specc.initializers import METHODS, MODES, NONLINEARITIES, TENSORS
from specc.ops.base import OpDef, all_ops

torch = pytest.importorskip("torch")

# One layer each, with and without the tensors init can name (input shape, node).
LAYERS = [
    ([6], {"op": "Linear", "out_features": 5}),
    ([6], {"op": "Linear", "out_features": 5, "bias": False}),
    ([3, 8, 8], {"op": "Conv2d", "out_channels": 4, "kernel_size": 3}),
    ([3, 8, 8], {"op": "Conv2d", "out_channels": 4, "kernel_size": 3, "bias": False}),
    ([4, 8], {"op": "ConvTranspose1d", "out_channels": 6, "kernel_size": 2, "groups": 2}),
    ([3, 8, 8], {"op": "BatchNorm2d"}),
    ([3, 8, 8], {"op": "BatchNorm2d", "affine": False}),
    ([6], {"op": "LayerNorm"}),
    ([6], {"op": "LayerNorm", "bias": False}),
    ([6], {"op": "LayerNorm", "elementwise_affine": False}),
    ([6], {"op": "RMSNorm"}),
    ([6], {"op": "Conv1D", "out_features": 5}),
    ([6], {"op": "PReLU"}),
    ([3, 8], {"op": "PReLU", "num_parameters": 3}),
    ([4, 5, 5], {"op": "GroupNorm", "num_groups": 2}),
    ([3, 5], {"op": "InstanceNorm1d", "affine": True}),
    ([3, 4, 4], {"op": "LayerNorm2d"}),
    ([2, 4, 4, 4], {"op": "Conv3d", "out_channels": 3, "kernel_size": [1, 2, 3]}),
    ([3, 5], {"op": "BatchNorm1d"}),
    ([2, 3, 3, 3], {"op": "BatchNorm3d"}),
    ([3, 4, 4], {"op": "InstanceNorm2d", "affine": True}),
    ([4, 5, 5], {"op": "ConvTranspose2d", "out_channels": 2, "kernel_size": 3, "bias": False}),
    ([4, 3, 3, 3], {"op": "ConvTranspose3d", "out_channels": 2, "kernel_size": 2}),
    ([6], {"op": "ReLU"}),
    ([6, 4], {"op": "Bilinear", "out_features": 3, "from": ["x", "x"]}),
    (None, {"op": "Embedding", "num_embeddings": 10, "embedding_dim": 4}),
    (None, {"op": "parameter", "shape": [3, 5]}),
    (None, {"op": "parameter", "shape": [4]}),
    (None, {"op": "parameter", "shape": [0, 0]}),
]


def spec_for(shape, node: dict, init=None) -> dict:
    node = dict(node, name="m")
    if init is not None:
        node["init"] = init
    if node["op"] == "Bilinear":
        shape = shape[:1]
        node["in2_features"] = 6
    if shape is None:
        inputs = {"x": {"shape": ["N", 5], "dtype": "int64"}}
    else:
        inputs = {"x": {"shape": ["N", *shape]}}
    return {"inputs": inputs, "layers": [node]}


def _tensor(model, node_op: str, tensor: str):
    """What torch has under that name (None: nothing); a parameter node's weight is itself."""
    if node_op == "parameter":
        return model.get_parameter("m") if tensor == "weight" else None
    return getattr(model.get_submodule("m"), tensor, None)


def torch_init(model, node_op: str, entry: dict) -> None:
    """torch.nn.init itself, as a user would call it; raises where torch refuses."""
    for tensor, (method, options) in entry.items():
        fn = getattr(torch.nn.init, f"{method}_")
        kwargs = {("val" if (method, k) == ("constant", "value") else k): v
                  for k, v in options.items()}
        fn(_tensor(model, node_op, tensor), **kwargs)


def built(spec: dict, seed: int = 0):
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kaiming on a zero-element tensor: "no-op"
        return specc.build(spec)


# -- the declaration against torch --------------------------------------------------------
# modules with parameters besides a weight and a bias: they declare OpDef.param_tensors
_SEQ = {"inputs": {"x": {"shape": [5, "N", 6]}}}
MULTI_TENSOR_SPECS = [
    dict(_SEQ, layers=[{"op": "LSTM", "hidden_size": 4, "num_layers": 2,
                        "bidirectional": True, "proj_size": 2}]),
    dict(_SEQ, layers=[{"op": "GRU", "hidden_size": 4, "bias": False}]),
    dict(_SEQ, layers=[{"op": "RNN", "hidden_size": 3, "num_layers": 3}]),
    dict(_SEQ, layers=[{"op": "MultiheadAttention", "embed_dim": 6, "num_heads": 2,
                        "add_bias_kv": True, "from": ["x", "x", "x"]}]),
    dict(_SEQ, layers=[{"op": "MultiheadAttention", "embed_dim": 6, "num_heads": 3,
                        "bias": False, "from": ["x", "x", "x"]}]),
    dict(_SEQ, layers=[{"op": "TransformerEncoderLayer", "d_model": 6, "nhead": 2,
                        "dim_feedforward": 8}]),
    dict(_SEQ, layers=[{"op": "TransformerDecoderLayer", "d_model": 6, "nhead": 2,
                        "dim_feedforward": 8, "bias": False, "from": ["x", "x"]}]),
    {"inputs": {"x": {"shape": ["N", 5, 8]}},
     "layers": [{"op": "Attention", "num_heads": 2, "qkv_proj": "c_attn", "o_proj": "c_proj",
                 "layout": "conv1d", "bias": True}]},
    {"inputs": {"x": {"shape": ["N", 5, 8]}},
     "layers": [{"op": "Attention", "num_heads": 4, "num_key_value_heads": 2, "bias": False}]},
    {"inputs": {"x": {"shape": ["N", 5, 8]}},
     "layers": [{"op": "Attention", "num_heads": 2, "bias": True, "o_bias": False}]},
]


def test_declared_tensors_are_the_ones_torch_builds():
    """OpDef.tensors (what init: can set, tie: shares) against the built module's own
    weight and bias, and OpDef.param_tensors against all its parameters, for every layer above and every module op the random generator
    builds."""
    from tests.test_random_ops import random_op_spec

    cases = [spec_for(shape, node) for shape, node in LAYERS] + MULTI_TENSOR_SPECS
    seen: dict = {}  # op -> clean random cases taken
    for seed in range(3000):
        made = random_op_spec(seed)
        if made is None:
            continue
        name = made[0]["layers"][-1 if len(made[0]["layers"]) == 1 else 0]["op"]
        if all_ops()[name].kind == "function" or seen.get(name, 0) >= 2:
            continue
        if specc.check(made[0], lint=False).ok:
            seen[name] = seen.get(name, 0) + 1
            cases.append(made[0])
    checked = set()
    for spec in cases:
        analysis = specc.check(spec, lint=False)
        if not analysis.ok:
            continue
        model = specc.build(spec, device="meta")
        for node in analysis.graph.nodes:
            op = all_ops()[node.op]
            if op.kind == "parameter":
                actual = {"weight": tuple(model.get_parameter(node.id).shape)}
                n_tensors = 1
            elif op.kind == "module":
                module = model.get_submodule(node.id)
                actual = {name: tuple(p.shape) for name, p in module.named_parameters(recurse=False)
                          if name in TENSORS}
                n_tensors = len(list(module.parameters()))
            else:
                continue
            # param_tensors (the optimizer's per-tensor state) counts every tensor the module
            # registers, its submodules' too; undeclared, it is the number of `tensors`
            assert op.param_tensors(node.attrs) == n_tensors, (node.op, node.attrs)
            assert {k: tuple(v) for k, v in op.tensors(node.attrs).items()} == actual, \
                (node.op, node.attrs)
            checked.add(node.op)
    no_tensors = inspect.signature(OpDef).parameters["tensors"].default
    declared = {name for name, op in all_ops().items() if op.tensors is not no_tensors}
    assert len(declared) > 20 and declared <= checked, declared - checked
    no_params = inspect.signature(OpDef).parameters["count_params"].default
    with_params = {name for name, op in all_ops().items() if op.count_params is not no_params}
    assert len(with_params) > 25 and with_params <= checked, with_params - checked
    assert len(checked) > 60  # the tensor-free module ops too (ReLU, pools, MHA, LSTM, ...)


def test_options_are_torch_arguments_and_nonlinearities_torchs():
    import inspect
    import typing

    for method, spec in METHODS.items():
        params = inspect.signature(getattr(torch.nn.init, spec.torch_fn)).parameters
        for option in spec.options:
            assert spec.torch_names.get(option, option) in params, (method, option)
    for nonlinearity in NONLINEARITIES:
        torch.nn.init.calculate_gain(nonlinearity)
    hinted = inspect.signature(torch.nn.init.kaiming_normal_).parameters
    assert set(typing.get_args(hinted["nonlinearity"].annotation)) == set(NONLINEARITIES)
    assert set(typing.get_args(hinted["mode"].annotation)) == set(MODES)


# -- differential: random entries on every kind of layer -----------------------------------
NUMBERS = (-2.0, -1, 0, 0.5, 1, 3, 1e30, -1e30)


def random_method(rng: random.Random):
    """A method entry, mostly well formed, with edge values and foreign options."""
    name = rng.choice([*METHODS, "default", "bogus"])
    if rng.random() < 0.3:
        return name
    entry: dict = {} if name == "normal" and rng.random() < 0.3 else {"method": name}
    own = METHODS[name].options if name in METHODS else ()
    options = list(own) + (["std", "gain", "a", "mode"] if rng.random() < 0.15 else [])
    for option in rng.sample(options, rng.randint(0, len(options))):
        if option == "mode":
            entry[option] = rng.choice([*MODES, "fan_avg"])
        elif option == "nonlinearity":
            entry[option] = rng.choice([*NONLINEARITIES, "gelu"])
        else:
            entry[option] = rng.choice(NUMBERS)
    return entry or "zeros"


def random_entry(rng: random.Random):
    if rng.random() < 0.4:
        return {t: random_method(rng) for t in rng.sample(TENSORS, rng.randint(1, 2))}
    return random_method(rng)


def test_random_init_entries_check_agrees_with_torch():
    from specc.initializers import parse

    outcomes = {"built": 0, "refused": 0}
    for seed in range(600):
        rng = random.Random(seed)
        shape, node = rng.choice(LAYERS)
        entry = random_entry(rng)
        spec = spec_for(shape, node, entry)
        text = yaml.safe_dump(spec)
        analysis = specc.check(text, lint=False)
        reference = built(spec_for(shape, node), seed)
        if not analysis.ok:
            codes = {d.code for d in analysis.diagnostics}
            assert codes <= {"E104", "E106"}, (spec, analysis.diagnostics)
            init_line = next(i for i, t in enumerate(text.splitlines(), 1) if "init:" in t)
            assert all(d.loc.line >= init_line for d in analysis.diagnostics), text
            with pytest.raises(Exception), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch_init(reference, node["op"], _torch_form(entry))
            outcomes["refused"] += 1
            continue
        model = built(spec, seed)
        reference = built(spec_for(shape, node), seed)  # the same random state, then torch's
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch_init(reference, node["op"], parse(entry))
        for name, value in reference.state_dict().items():
            assert torch.equal(model.state_dict()[name], value), (spec, name)
        outcomes["built"] += 1
    assert min(outcomes.values()) > 100, outcomes


def _torch_form(entry) -> dict:
    """The calls an entry stands for, without specc's reading: a user's torch code."""
    def method(e):
        if isinstance(e, str):
            return e, {}
        return e.get("method", "normal"), {k: v for k, v in e.items() if k != "method"}

    if isinstance(entry, dict) and any(t in entry for t in TENSORS):
        calls = {t: method(e) for t, e in entry.items()}
    else:
        calls = {"weight": method(entry)}
    return {t: c for t, c in calls.items() if c != ("default", {})}


# -- what each form claims, against the numbers ----------------------------------------------
def test_a_method_name_sets_the_weight_only_and_tensors_by_name_set_each():
    spec = spec_for([6], {"op": "Linear", "out_features": 5}, "zeros")
    model, reference = built(spec, 3), built(spec_for([6], {"op": "Linear", "out_features": 5}), 3)
    assert torch.all(model.m.weight == 0)
    assert torch.equal(model.m.bias, reference.m.bias) and model.m.bias.abs().sum() > 0
    both = built(spec_for([6], {"op": "Linear", "out_features": 5},
                          {"weight": "zeros", "bias": {"method": "constant", "value": 0.5}}))
    assert torch.all(both.m.weight == 0) and torch.all(both.m.bias == 0.5)


def test_methods_give_their_documented_statistics():
    layer = {"op": "Linear", "out_features": 512}

    def weight(init):
        return built(spec_for([256], layer, init)).m.weight.detach()

    w = weight({"method": "kaiming_normal", "mode": "fan_out", "nonlinearity": "relu"})
    assert abs(w.std().item() - (2 / 512) ** 0.5) < 0.002 and abs(w.mean().item()) < 0.002
    w = weight({"method": "xavier_uniform", "gain": 2})
    bound = 2 * (6 / (256 + 512)) ** 0.5
    assert w.abs().max().item() <= bound and w.abs().max().item() > 0.99 * bound
    w = weight({"method": "normal", "mean": 1, "std": 0.01})
    assert abs(w.mean().item() - 1) < 1e-3 and abs(w.std().item() - 0.01) < 1e-3
    w = weight({"method": "uniform", "a": -3, "b": -2})
    assert w.min().item() >= -3 and w.max().item() < -2
    w = weight({"method": "orthogonal"})
    assert torch.allclose(w.T @ w, torch.eye(256), atol=1e-4)  # orthonormal columns
    assert torch.all(weight("ones") == 1)
    cls = built(spec_for(None, {"op": "parameter", "shape": [1, 768]},
                         {"method": "normal", "std": 0.02})).get_parameter("m")
    assert 0.015 < cls.std().item() < 0.025


# -- refused at check, located -------------------------------------------------------------
REFUSED = [
    # (layers line, code, the text the error points at)
    ("- {op: Linear, out_features: 4, bias: false, init: {bias: zeros}}", "E106", "zeros"),
    ("- {op: Linear, out_features: 4, init: {method: bogus}}", "E104", "bogus"),
    ("- {op: Linear, out_features: 4, init: bogus}", "E104", "bogus"),
    ("- {op: Linear, out_features: 4, init: {method: xavier_normal, std: 1}}", "E106", "1}"),
    ("- {op: Linear, out_features: 4, init: {bias: kaiming_uniform}}", "E106", "kaiming"),
    ("- {op: Linear, out_features: 4, init: {weight: zeros, std: 1}}", "E106", "1}"),
    ("- {op: Linear, out_features: 4, init: {method: normal, std: -1}}", "E104", "-1"),
    ("- {op: Linear, out_features: 4, init: {method: normal, std: .nan}}", "E004", ".nan"),
    ("- {op: Linear, out_features: 4, init: {method: normal, std: 1.0e+31}}", "E104", "1.0e"),
    ("- {op: Linear, out_features: 4, init: {method: constant}}", "E106", "{method"),
    ("- {op: Linear, out_features: 4, init: {method: default, std: 1}}", "E106", "1}"),
    ("- {op: Linear, out_features: 4, init: {method: constant, value: true}}", "E104", "true"),
    ("- {op: Linear, out_features: 4, init: {method: uniform, a: 1, b: 0}}", "E104", "1,"),
    ("- {op: Linear, out_features: 4, init: {method: kaiming_normal, nonlinearity: gelu}}",
     "E104", "gelu"),
    ("- {op: ReLU, init: zeros}", "E106", "zeros"),
    ("- {op: LayerNorm, elementwise_affine: false, init: {weight: ones}}", "E106", "ones"),
    ("- {op: LayerNorm, init: orthogonal}", "E106", "orthogonal"),
    ("- {op: parameter, shape: [8], init: xavier_uniform}", "E106", "xavier"),
    ("- {layers: [{op: Linear, out_features: 4}], init: zeros}", "E106", "zeros"),
    ("- {block: fc, init: zeros}", "E106", "zeros"),
    ("- {block: fc, inline: true, init: zeros}", "E106", "zeros"),
]


@pytest.mark.parametrize("line,code,at", REFUSED, ids=[r[0][2:40] for r in REFUSED])
def test_check_refuses_what_torch_would_and_points_at_it(line, code, at):
    text = ("inputs: {x: {shape: [N, 4]}}\nblocks:\n  fc: {layers: [{op: Linear, "
            "out_features: 4}]}\nlayers:\n  " + line + "\n")
    analysis = specc.check(text, lint=False)
    found = [(d.code, d.loc.line, d.loc.col) for d in analysis.diagnostics]
    assert len(found) == 1 and found[0][:2] == (code, 5), (found, analysis.diagnostics)
    col = found[0][2]
    assert text.splitlines()[4][col - 1:].startswith(at), (text.splitlines()[4][col - 1:], at)


def test_a_per_op_type_entry_is_checked_on_each_layer_of_the_type():
    text = """\
inputs: {x: {shape: [N, 3, 8, 8]}}
init:
  Conv2d: {method: kaiming_normal, mode: fan_out}
  BatchNorm2d: {weight: kaiming_normal, bias: zeros}
layers:
  - {name: a, op: Conv2d, out_channels: 4, kernel_size: 3}
  - {name: bn, op: BatchNorm2d}
  - {name: b, op: Conv2d, out_channels: 4, kernel_size: 3}
  - {name: bn2, op: BatchNorm2d}
"""
    [d] = specc.check(text, lint=False).diagnostics
    assert (d.code, d.loc.line, d.loc.col) == ("E106", 4, 25)
    assert "1-D" in d.message and d.instances == ("bn", "bn2")
    fixed = text.replace("weight: kaiming_normal", "weight: ones")
    model = specc.build(fixed)
    assert torch.all(model.bn.weight == 1) and torch.all(model.bn2.bias == 0)


def test_init_of_a_tied_weight_is_refused():
    text = """\
inputs: {x: {shape: [N, 5], dtype: int64}}
layers:
  - {name: embed, op: Embedding, num_embeddings: 10, embedding_dim: 4}
  - {name: head, op: Linear, out_features: 10, bias: false, tie: embed, init: zeros}
"""
    [d] = specc.check(text, lint=False).diagnostics
    assert d.code == "E106" and "tied" in d.message and d.loc.line == 4


def test_block_parameters_carry_init_into_the_block():
    text = """\
inputs: {x: {shape: [N, 4]}}
blocks:
  fc:
    params: {std: 1.0}
    layers: [{name: lin, op: Linear, out_features: 4, init: {method: normal, std: $std}}]
layers:
  - {name: a, block: fc, std: 0.0}
  - {name: b, block: fc}
"""
    model = specc.build(text)
    assert torch.all(model.a.lin.weight == 0) and model.b.lin.weight.std() > 0.5


def test_default_overrides_the_op_types_entry():
    text = """\
inputs: {x: {shape: [N, 4]}}
init: {Linear: zeros}
layers:
  - {name: a, op: Linear, out_features: 4}
  - {name: b, op: Linear, out_features: 4, init: default}
"""
    model = built(text)
    assert torch.all(model.a.weight == 0) and model.b.weight.abs().sum() > 0
