"""Gaps of the Python API's build() found by an audit (issue 16, "Weights and interchange
formats", "diff and the API"): what ``dtype`` accepts, safetensors round trips of tied
weights, unreadable weight files, the input check of a built module (keyword inputs,
compound symbolic dims), where an ONNX refusal is located, torch.export's RNN warning.
torch is the oracle: a reloaded model's outputs equal the saved one's (torch.equal)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.compile.build import InputShapeError
from specc.errors import BuildError, DtypeError, WeightsError

torch = pytest.importorskip("torch")

ROOT = Path(__file__).resolve().parent.parent
SPECS = ROOT / "specs"


def _cli(*args, cwd=None):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True,
                          text=True, env=env, cwd=cwd, timeout=300)


# -- 1. dtype -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["bf16", "int8", "fp32", torch.int8, torch.bool, 16])
def test_a_dtype_a_model_cannot_have_is_a_build_error_listing_the_four(dtype):
    with pytest.raises(DtypeError) as info:
        specc.build(SPECS / "mlp.yaml", dtype=dtype)
    assert isinstance(info.value, BuildError) and isinstance(info.value, ValueError)
    for name in ("float32", "float16", "bfloat16", "float64"):
        assert name in str(info.value)


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64",
                                   torch.bfloat16, torch.float64])
def test_the_four_float_dtypes_build_as_names_or_torch_dtypes(dtype):
    model = specc.build(SPECS / "mlp.yaml", dtype=dtype)
    want = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    assert {p.dtype for p in model.parameters()} == {want}
    assert model(torch.zeros(2, 784, dtype=want)).dtype == want


# -- 2. tied weights through safetensors ----------------------------------------------------

SMALL_T5 = dict(vocab_size=97, d_model=64, d_kv=12, d_ff=96, num_layers=2,
                num_decoder_layers=2, num_heads=4)
SMALL_LLAMA = dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                   tie_word_embeddings=True)


def _token_inputs(name: str):
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 97, (2, 9), generator=generator)
    mask = torch.ones(2, 9, dtype=torch.long)
    if name == "t5":
        return ids, mask, torch.randint(0, 97, (2, 5), generator=generator)
    return ids, mask


def _same_outputs(a, b) -> bool:
    """torch.equal over every tensor of two outputs (a tensor, a tuple or a dict of them)."""
    leaves = torch.utils._pytree.tree_leaves
    return all(torch.equal(x, y) for x, y in zip(leaves(a), leaves(b), strict=True))


def _tied_keys(model) -> int:
    """How many state_dict keys name a tensor another key names too."""
    return len(model.state_dict()) - len({id(t) for t in model.state_dict(keep_vars=True)
                                          .values()})


def test_gpt2_saved_by_the_cli_loads_back_with_its_tied_head(tmp_path):
    config = {"vocab_size": 100, "n_positions": 32, "n_embd": 32, "n_layer": 2, "n_head": 4}
    (tmp_path / "g.json").write_text(json.dumps(config))
    res = _cli("build", str(SPECS / "gpt2.yaml"), "--vars", "g.json", "--save",
               "g.safetensors", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    from safetensors.torch import load_file

    saved = load_file(tmp_path / "g.safetensors")
    assert ("lm_head.weight" in saved) != ("transformer.wte.weight" in saved)  # one of two
    model = specc.build(SPECS / "gpt2.yaml", vars=config,
                        weights=str(tmp_path / "g.safetensors")).eval()
    kept = next(iter({"lm_head.weight", "transformer.wte.weight"} & set(saved)))
    assert torch.equal(model.transformer.wte.weight, saved[kept])
    assert model.lm_head.weight is model.transformer.wte.weight  # still tied after loading
    reference = specc.build(SPECS / "gpt2.yaml", vars=config).eval()
    reference.load_state_dict({**saved, "lm_head.weight": saved[kept],
                               "transformer.wte.weight": saved[kept]})
    ids = torch.randint(0, 100, (2, 7))
    with torch.no_grad():
        assert _same_outputs(model(ids, torch.ones_like(ids)),
                             reference(ids, torch.ones_like(ids)))


@pytest.mark.parametrize("name, config", [("t5", SMALL_T5), ("llama", SMALL_LLAMA),
                                          ("gpt2", dict(vocab_size=97, n_positions=32,
                                                        n_embd=32, n_layer=2, n_head=4))])
def test_tie_groups_round_trip_through_safetensors(tmp_path, name, config):
    from specc.compile.build import save_weights

    torch.manual_seed(0)
    original = specc.build(SPECS / f"{name}.yaml", vars=config).eval()
    assert _tied_keys(original) == (3 if name == "t5" else 1)  # t5: shared + 3 aliases
    path = str(tmp_path / f"{name}.safetensors")
    save_weights(original, path)
    from safetensors.torch import load_file

    assert len(load_file(path)) == len(original.state_dict()) - _tied_keys(original)
    torch.manual_seed(1)  # other initial values: only the file can make them equal
    loaded = specc.build(SPECS / f"{name}.yaml", vars=config, weights=path).eval()
    assert _tied_keys(loaded) == _tied_keys(original)
    for key, tensor in original.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], tensor), key
    inputs = _token_inputs(name)
    with torch.no_grad():
        assert _same_outputs(loaded(*inputs), original(*inputs))


# -- 3. files that hold no state_dict ---------------------------------------------------------

def _unreadable_files(tmp_path):
    garbage = bytes(range(256)) * 4
    (tmp_path / "garbage.safetensors").write_bytes(garbage)
    (tmp_path / "garbage.pt").write_bytes(garbage)
    (tmp_path / "empty.pt").write_bytes(b"")
    torch.save({"a": 1}, tmp_path / "int_values.pt")
    torch.save({0: torch.zeros(1)}, tmp_path / "int_keys.pt")
    torch.save(specc.build(SPECS / "mlp.yaml"), tmp_path / "whole_model.pt")
    torch.save(torch.nn.Linear(784, 10), tmp_path / "torch_module.pt")
    return {
        "garbage.safetensors": "not a safetensors file (SafetensorError",
        "garbage.pt": "not a torch.save'd state_dict (UnpicklingError",
        "empty.pt": "not a torch.save'd state_dict (EOFError",
        "int_values.pt": "'a' holds 1 (int)",
        "int_keys.pt": "0 holds tensor",
        "whole_model.pt": "holds a whole pickled module",
        "torch_module.pt": "holds a whole pickled module",
    }


def test_an_unreadable_weights_file_is_a_weights_error_in_one_line(tmp_path):
    for name, words in _unreadable_files(tmp_path).items():
        with pytest.raises(WeightsError) as info:
            specc.build(SPECS / "mlp.yaml", weights=str(tmp_path / name))
        message = str(info.value)
        assert words in message, (name, message)
        assert "\n" not in message and len(message) < 400, (name, message)
        assert "weights_only" not in message  # never the advice to unpickle unsafely
        if not name.startswith("garbage") and name != "empty.pt":
            assert "save model.state_dict() or use `specc build --save`" in message, message


# -- 4. keyword inputs are checked as positional ones ------------------------------------------

def test_keyword_inputs_are_checked_like_positional_ones():
    resnet = specc.build(SPECS / "resnet18.yaml").eval()
    for call in (lambda x: resnet(x), lambda x: resnet(x=x)):
        with pytest.raises(InputShapeError, match=r"input 'x' .*dim 2 is 64, expected 224"):
            call(torch.zeros(2, 3, 64, 64))
    mlp = specc.build(SPECS / "mlp.yaml").eval()
    with pytest.raises(InputShapeError, match=r"input 'x' .*dim 1 is 783, expected 784"):
        mlp(x=torch.zeros(2, 783))  # was torch's "mat1 and mat2 shapes cannot be multiplied"
    x = torch.randn(3, 784)
    with torch.no_grad():
        assert torch.equal(mlp(x=x), mlp(x))
    two = specc.build("inputs: {a: {shape: [N, 4]}, b: {shape: [N, 4]}}\n"
                      "layers:\n  - {op: sub, from: [a, b]}\n")
    a, b = torch.randn(3, 4), torch.randn(3, 4)
    assert torch.equal(two(b=b, a=a), a - b)
    assert torch.equal(two(a, b=b), a - b)
    with pytest.raises(InputShapeError, match=r"input 'b'.*dim 0 is 5, expected 3 "
                       r"\(N = 3 from dim 0 of input 'a'\)"):
        two(b=torch.zeros(5, 4), a=a)


def test_a_pickled_model_still_checks_keyword_inputs(tmp_path):
    torch.save(specc.build(SPECS / "mlp.yaml"), tmp_path / "m.pt")
    model = torch.load(tmp_path / "m.pt", weights_only=False)
    with pytest.raises(InputShapeError, match="dim 1 is 783, expected 784"):
        model(x=torch.zeros(2, 783))


# -- 5. compound symbolic dims -----------------------------------------------------------------

def test_a_size_that_no_whole_symbol_gives_is_refused_at_the_input():
    unet = specc.build(SPECS / "unet.yaml").eval()
    with pytest.raises(InputShapeError) as info:
        unet(torch.zeros(1, 3, 30, 30))  # was torch's "Sizes of tensors must match" inside
    assert str(info.value) == (
        "input 'image' (spec line 9) has shape [1, 3, 30, 30], but the spec declares "
        "[N, 3, 8*h, 8*w]: dim 2 is 30, which is 8*h for no whole h >= 0")
    with pytest.raises(InputShapeError, match="dim 3 is 44, which is 8[*]w for no whole w"):
        unet(image=torch.zeros(1, 3, 32, 44))
    with torch.no_grad():  # what the check accepts, torch runs: h = 4, w = 6
        assert unet(torch.zeros(1, 3, 32, 48)).shape == (1, 2, 32, 48)


CROSS = """
inputs:
  wide: {shape: [N, 8*h]}
  narrow: {shape: [N, 4*h]}
  grid: {shape: [N, h*w]}
  plane: {shape: [N, h, w]}
layers:
  - {name: a, op: ReLU, from: wide}
  - {name: b, op: ReLU, from: narrow}
  - {name: c, op: ReLU, from: grid}
  - {name: d, op: ReLU, from: plane}
outputs: [a, b, c, d]
"""


def test_symbols_of_compound_dims_agree_across_inputs():
    analysis = specc.check(CROSS, lint=False)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    model = specc.build(CROSS)
    wide, narrow = torch.randn(2, 16), torch.randn(2, 8)  # h = 2
    grid, plane = torch.randn(2, 6), torch.randn(2, 2, 3)  # w = 3
    outputs = model(wide, narrow, grid, plane)
    leaves = torch.utils._pytree.tree_leaves(outputs)
    assert all(torch.equal(got, x.relu()) for got, x in zip(leaves, (wide, narrow, grid, plane),
                                                             strict=True))
    with pytest.raises(InputShapeError, match=r"input 'narrow'.*dim 1 is 12, expected 8 "
                       r"\(4[*]h with h = 2 from dim 1 of input 'wide'\)"):
        model(wide, torch.zeros(2, 12), grid, plane)
    with pytest.raises(InputShapeError, match=r"input 'grid'.*dim 1 is 7, which is h[*]w "
                       r"\(2[*]w with h = 2 from dim 1 of input 'wide'\) for no whole w"):
        model(wide, narrow, torch.zeros(2, 7), plane)
    with pytest.raises(InputShapeError, match=r"input 'plane'.*dim 1 is 3, expected 2 "
                       r"\(h = 2 from dim 1 of input 'wide'\)"):
        model(wide, narrow, grid, torch.zeros(2, 3, 3))
    with pytest.raises(InputShapeError, match=r"input 'plane'.*dim 2 is 3, expected 4 "
                       r"\(w = 4 from dim 1 of input 'grid'\)"):
        model(wide, narrow, torch.zeros(2, 8), plane)


def test_a_product_of_two_unbound_symbols_is_checked_once_a_later_input_binds_them():
    model = specc.build("inputs:\n  grid: {shape: [N, h*w]}\n  plane: {shape: [N, h, w]}\n"
                        "layers:\n  - {name: a, op: ReLU, from: grid}\n"
                        "  - {name: b, op: ReLU, from: plane}\noutputs: [a, b]\n")
    plane = torch.randn(2, 2, 3)
    grid = torch.randn(2, 6)
    assert all(torch.equal(got, x.relu()) for got, x in zip(model(grid, plane), (grid, plane)))
    with pytest.raises(InputShapeError, match=r"input 'grid'.*dim 1 is 7, expected 6 "
                       r"\(h[*]w with h = 2 from dim 1 of input 'plane', w = 3 from dim 2 of "
                       r"input 'plane'\)"):
        model(torch.zeros(2, 7), plane)


@pytest.mark.parametrize("slope", [1, 2, 8, -3])
@pytest.mark.parametrize("offset", [-3, 0, 2])
def test_solve_linear_agrees_with_trying_every_value(slope, offset):
    from specc.dims import Sym, solve_linear

    dim = slope * Sym.symbol("h") + offset
    for size in range(0, 40):
        wholes = [h for h in range(0, 50) if slope * h + offset == size]
        assert solve_linear(dim, size) == ("h", wholes[0] if wholes else None), size
    assert solve_linear(Sym.symbol("h") * Sym.symbol("w"), 6) is None
    assert solve_linear(Sym.symbol("h") * Sym.symbol("h"), 4) is None
    assert solve_linear((Sym.symbol("h") + 1) // 2, 4) is None


# -- 6. an ONNX refusal is located at the node torch.onnx could not convert ------------------

ADAPTIVE_MAX = """inputs: {x: {shape: [N, 3, H, W]}}
layers:
  - {name: conv, op: Conv2d, out_channels: 8, kernel_size: 3}
  - {name: pool, op: AdaptiveMaxPool2d, output_size: 3}
  - {op: Flatten}
  - {name: fc, op: Linear, out_features: 4}
"""


def test_an_op_without_an_onnx_function_is_located_at_its_node(tmp_path):
    pytest.importorskip("onnxscript")
    (tmp_path / "amp.yaml").write_text(ADAPTIVE_MAX)
    res = _cli("build", "amp.yaml", "--onnx", "a.onnx", cwd=tmp_path)
    assert res.returncode == 1, res.stderr
    assert res.stderr.startswith(
        "amp.yaml:4:5: error E401 torch.onnx.export cannot convert pool (AdaptiveMaxPool2d) "
        "to ONNX: DispatchError: No ONNX function found for aten.adaptive_max_pool2d"), res.stderr
    assert "hint: torch 2." in res.stderr
    assert "cannot convert aten.adaptive_max_pool2d (AdaptiveMaxPool2d) to ONNX" in res.stderr
    assert "(--export)" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "a.onnx").exists()
    # the oracle: torch.onnx really refuses that op, and torch.export (the hint) exports it
    model = specc.build(ADAPTIVE_MAX).eval()
    x = torch.randn(2, 3, 12, 12)
    program = torch.export.export(model, (x,))
    assert any("adaptive_max_pool2d" in str(n.target) for n in program.graph.nodes)
    assert torch.equal(program.module()(x), model(x))


def test_an_onnx_refusal_inside_a_block_names_the_block_instance(tmp_path):
    pytest.importorskip("onnxscript")
    from specc.compile.onnx import export_onnx
    from specc.errors import SpecError

    text = ("inputs: {x: {shape: [N, 3, H, W]}}\n"
            "blocks:\n  Stage:\n    layers:\n"
            "      - {name: conv, op: Conv2d, out_channels: 4, kernel_size: 3}\n"
            "      - {name: pool, op: AdaptiveMaxPool2d, output_size: 3}\n"
            "layers:\n  - {name: stem, op: Conv2d, out_channels: 4, kernel_size: 1}\n"
            "  - {name: stage1, block: Stage}\n  - {name: stage2, block: Stage}\n")
    graph = specc.load(text)
    model = specc.build(text)
    with pytest.raises(SpecError) as info:
        export_onnx(model, graph, str(tmp_path / "m.onnx"), {})
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "E401" and diagnostic.node == "stage1.pool"
    assert diagnostic.loc.line == 6  # the block's pool line
    assert not (tmp_path / "m.onnx").exists()


# -- 7. --export of a recurrent spec prints specc's words only -------------------------------

@pytest.mark.parametrize("name", ["char_rnn", "seq2seq"])
def test_export_of_an_rnn_spec_has_no_torch_warning_on_stderr(tmp_path, name):
    res = _cli("build", str(SPECS / f"{name}.yaml"), "--export", "m.pt2", cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "UserWarning" not in res.stderr and "_flat_weights" not in res.stderr, res.stderr
    assert "warning W401" in res.stderr  # specc's own (located) specialisation warning stays
    for line in res.stderr.splitlines():  # every line is specc's: a diagnostic or its parts
        assert line.startswith((str(SPECS), "    ", "1 warning", "2 warnings", "wrote ")), line
    assert (tmp_path / "m.pt2").exists()


def test_only_the_rnn_flat_weights_warning_is_silenced():
    import re

    from specc.compile.export import _RNN_FLAT_WEIGHTS

    torch_words = ("The tensor attributes self.encoder._flat_weights[0], "
                   "self.encoder._flat_weights[1] were assigned during export. Such attributes "
                   "must be registered as buffers using the `register_buffer` API")
    assert re.match(_RNN_FLAT_WEIGHTS, torch_words)
    assert not re.match(_RNN_FLAT_WEIGHTS, torch_words.replace("encoder._flat_weights[1]",
                                                               "scale"))
    assert not re.match(_RNN_FLAT_WEIGHTS, "The tensor attributes self.cache were assigned "
                        "during export")
