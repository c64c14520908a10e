"""specc build / specc.build(): real modules, generated code, export, compile, init, limits."""
import copy
import subprocess
import sys

import pytest

import specc
from specc.errors import SpecError
from tests.helpers import ROOT, SPECS, emitted_and_built

torch = pytest.importorskip("torch")


def _run(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True,
                          cwd=cwd)


def test_build_accepts_path_text_and_dict():
    text = "inputs: {x: {shape: [N, 4]}}\nlayers: [{op: Linear, out_features: 2}]\n"
    for source in (text, {"inputs": {"x": {"shape": ["N", 4]}},
                          "layers": [{"op": "Linear", "out_features": 2}]}):
        model = specc.build(source)
        assert model(torch.zeros(3, 4)).shape == (3, 2)
    assert specc.build(SPECS / "mlp.yaml")(torch.zeros(5, 784)).shape == (5, 10)


def test_build_refuses_spec_with_errors():
    with pytest.raises(SpecError) as info:
        specc.build("inputs: {x: {shape: [N, 4]}}\nlayers: [{op: Linaer, out_features: 2}]\n")
    assert info.value.diagnostics[0].code == "E102"


def test_emit_python_is_standalone_and_identical(tmp_path):
    out = tmp_path / "resnet.py"
    res = _run("build", "specs/resnet18.yaml", "--emit-python", str(out))
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    imports = [line for line in text.splitlines() if line.startswith(("import", "from"))]
    assert imports == ["import torch", "from torch import nn"]
    emitted, built = emitted_and_built(out, "emitted_resnet")
    x = torch.randn(2, 3, 224, 224)  # the declared input size (checked)
    with torch.no_grad():
        assert torch.equal(emitted(x), built(x))


def test_lstm_classifier_packs_variable_lengths():
    model = specc.build(SPECS / "lstm_classifier.yaml").eval()
    tokens = torch.randint(1, 100, (3, 9))
    lengths = torch.tensor([9, 4, 6])
    with torch.no_grad():
        out = model(tokens, lengths)
        assert out.shape == (3, 4)
        # padding past a sequence's length must not change its result
        noisy = tokens.clone()
        noisy[1, 4:] = 7
        assert torch.allclose(model(noisy, lengths), out, atol=1e-6)


def test_multi_output_tuple_and_dict():
    base = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: a, op: Linear, out_features: 3}\n"
            "  - {name: b, op: Linear, out_features: 5}\n")
    model = specc.build(base + "outputs: [a, b]\n")
    a, b = model(torch.zeros(2, 4))
    assert a.shape == (2, 3) and b.shape == (2, 5)
    model = specc.build(base + "outputs: {hidden: a, logits: b}\n")
    out = model(torch.zeros(2, 4))
    assert set(out) == {"hidden", "logits"} and out["logits"].shape == (2, 5)


def test_multi_input_by_name_in_spec_order():
    text = ("inputs:\n  a: {shape: [N, 4]}\n  b: {shape: [N, 6]}\n"
            "layers:\n  - {op: cat, from: [a, b], dim: 1}\n  - {op: Linear, out_features: 2}\n")
    model = specc.build(text)
    import inspect
    assert list(inspect.signature(model.forward).parameters) == ["a", "b"]
    assert model(a=torch.zeros(1, 4), b=torch.zeros(1, 6)).shape == (1, 2)


def test_blocks_are_submodules_callable_on_their_own():
    model = specc.build(SPECS / "resnet18.yaml")
    block = model.layer2[0]
    assert type(block).__name__.startswith("BasicBlock")
    assert block(torch.zeros(1, 64, 16, 16)).shape == (1, 128, 8, 8)


def test_deepcopy_and_dtype_and_meta():
    model = specc.build(SPECS / "small_cnn.yaml", dtype="float64")
    twin = copy.deepcopy(model)
    assert next(twin.parameters()).dtype == torch.float64
    assert twin(torch.zeros(2, 3, 32, 32, dtype=torch.float64)).shape == (2, 10)
    meta = specc.build(SPECS / "vgg16.yaml", device="meta")
    assert next(meta.parameters()).device.type == "meta"


def test_init_per_node_and_per_op_type():
    text = """\
inputs: {x: {shape: [N, 8]}}
init:
  Linear: {weight: {method: normal, std: 0.01}, bias: zeros}
layers:
  - {name: a, op: Linear, out_features: 64}
  - ReLU
  - {name: b, op: Linear, out_features: 4, init: {weight: {method: constant, value: 0.5}}}
"""
    model = specc.build(text)
    assert torch.all(model.a.bias == 0)
    assert 0.005 < model.a.weight.std().item() < 0.02
    assert torch.all(model.b.weight == 0.5)
    assert model.b.bias.abs().max() > 0  # untouched: torch's default init


def test_max_params_refuses_before_allocating():
    text = "inputs: {x: {shape: [N, 100000]}}\nlayers: [{op: Linear, out_features: 1000000}]\n"
    with pytest.raises(SpecError) as info:
        specc.build(text)
    assert "max-params" in info.value.diagnostics[0].message
    path = ROOT / "tests" / "_huge.yaml"
    path.write_text(text)
    try:
        res = _run("build", str(path))
        assert res.returncode == 2 and "Traceback" not in res.stderr
        assert "over --max-params" in res.stderr
    finally:
        path.unlink()


def test_cli_build_prints_tree_and_summary():
    res = _run("build", "specs/mlp.yaml")
    assert res.returncode == 0
    assert "(fc1): Linear(in_features=784, out_features=256" in res.stdout
    assert "mlp: 235,146 parameters on cpu" in res.stdout


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_build_cuda_without_gpu_is_a_clean_error():
    res = _run("build", "specs/mlp.yaml", "--device", "cuda")
    assert res.returncode == 2 and "no CUDA GPU" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_build_on_cuda():
    model = specc.build(SPECS / "resnet18.yaml", device="cuda")
    assert next(model.parameters()).is_cuda
    assert model(torch.zeros(2, 3, 64, 64, device="cuda")).shape == (2, 1000)


def test_save_is_atomic_and_loadable(tmp_path):
    out = tmp_path / "w.pt"
    assert _run("build", "specs/mlp.yaml", "--save", str(out)).returncode == 0
    state = torch.load(out)
    assert state["fc1.weight"].shape == (256, 784)
    bad = ROOT / "tests" / "_bad.yaml"
    bad.write_text("inputs: {x: {shape: [N, 4]}}\nlayers: [{op: Linear}]\n")
    try:
        target = tmp_path / "never.py"
        res = _run("build", str(bad), "--emit-python", str(target))
        assert res.returncode == 1 and not target.exists()
        assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind
    finally:
        bad.unlink()


def test_torch_compile_fullgraph_resnet18():
    model = specc.build(SPECS / "resnet18.yaml").eval()
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        assert torch.allclose(compiled(x), model(x), atol=1e-5)


def test_torch_compile_lstm_classifier():
    """With equal-length batches (no `lengths`) the LSTM classifier compiles as one graph
    (dynamo needs allow_rnn for nn.LSTM). Packing by lengths is data-dependent: dynamo
    cannot trace pack_padded_sequence, so that variant compiles with graph breaks."""
    import torch._dynamo

    unpacked = _unpacked_lstm_classifier()
    tokens = torch.randint(0, 50, (2, 6))
    model = specc.build(unpacked).eval()
    torch._dynamo.reset()
    with torch.no_grad(), torch._dynamo.config.patch(allow_rnn=True):
        compiled = torch.compile(model, fullgraph=True, backend="eager")
        assert torch.allclose(compiled(tokens), model(tokens), atol=1e-5)
    packed = specc.build(SPECS / "lstm_classifier.yaml").eval()
    lengths = torch.tensor([6, 3])
    torch._dynamo.reset()
    with torch.no_grad():
        compiled = torch.compile(packed, backend="eager")
        assert torch.allclose(compiled(tokens, lengths), packed(tokens, lengths), atol=1e-5)


def _unpacked_lstm_classifier() -> str:
    text = (SPECS / "lstm_classifier.yaml").read_text()
    return text.replace("from: [embedding, lengths]", "from: embedding").replace(
        "  lengths: {shape: [N], dtype: int64}\n", "")


@pytest.mark.parametrize("name", ["resnet18", "lstm_classifier (no lengths)"])
def test_torch_export_with_dynamic_dims(name, tmp_path):
    """Symbolic dims become dynamic: the exported program runs at other batch sizes.
    (Packing by `lengths` is data-dependent and cannot be exported by torch.export.)"""
    from specc.compile.export import example_inputs, export_model

    source = SPECS / "resnet18.yaml" if name == "resnet18" else _unpacked_lstm_classifier()
    graph = specc.load(source)
    model = specc.build(source).eval()
    program = export_model(model, graph, {"N": 3, "T": 5})
    args = example_inputs(graph, {"N": 5, "T": 5})  # torch specialises the LSTM's length
    with torch.no_grad():
        assert torch.allclose(program.module()(*args), model(*args), atol=1e-4)


def test_cli_export_writes_pt2(tmp_path):
    out = tmp_path / "m.pt2"
    res = _run("build", "specs/small_cnn.yaml", "--export", str(out), "--dim", "N=3")
    assert res.returncode == 0, res.stderr
    program = torch.export.load(out)
    assert program.module()(torch.randn(4, 3, 32, 32)).shape == (4, 10)


def test_init_options_are_torch_arguments():
    import inspect

    from specc.initializers import METHODS

    for method, spec in METHODS.items():
        params = inspect.signature(getattr(torch.nn.init, spec.torch_fn)).parameters
        for option in spec.options:
            assert spec.torch_names.get(option, option) in params, (method, option)


_DDP_SCRIPT = """
import datetime, os, sys, tempfile
import torch, torch.distributed as dist
import specc
store = tempfile.mkdtemp()
dist.init_process_group("gloo", init_method=f"file://{store}/rendezvous", rank=0,
                        world_size=1, timeout=datetime.timedelta(seconds=60))
model = torch.nn.parallel.DistributedDataParallel(specc.build(sys.argv[1]))
model(torch.randn(4, 3, 32, 32)).sum().backward()
assert all(p.grad is not None for p in model.parameters())
print("grads ok", flush=True)
os._exit(0)  # skip gloo's teardown: its threads can abort or wait at interpreter exit
"""


def test_distributed_data_parallel_on_cpu():
    """DESIGN contract 7: built modules work under DDP (gloo, one process, loopback).

    In a child process with a timeout: a gloo process group left in the test process (or a
    stuck rendezvous) could hang the suite, which once sat in a native wait for 20 minutes."""
    import torch.distributed as dist

    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    out = subprocess.run([sys.executable, "-c", _DDP_SCRIPT, str(SPECS / "small_cnn.yaml")],
                         cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and "grads ok" in out.stdout, out.stderr[-2000:]


def test_parameter_node_init():
    """A learned tensor starts at zeros, or as its node's `init:` says (ViT: std 0.02)."""
    model = specc.build(SPECS / "vit_b_16.yaml", device="cpu")
    assert torch.all(model.class_token == 0)
    assert 0.015 < model.encoder.pos_embedding.std().item() < 0.025


def test_export_keeps_derived_and_sequence_dims_dynamic():
    """unet's [N, 3, 8*h, 8*w] and tcn's T stay dynamic: the program runs at other sizes
    (issue 13: unet printed "internal error", its example image was 4x4 pixels)."""
    from specc.compile.export import export_with_report

    for name, other in (("unet", (3, 3, 64, 96)), ("tcn", (3, 8, 37))):
        graph = specc.load(SPECS / f"{name}.yaml")
        model = specc.build(SPECS / f"{name}.yaml").eval()
        program, warnings = export_with_report(model, graph)
        assert warnings == []
        x = torch.randn(*other)
        with torch.no_grad():
            assert torch.allclose(program.module()(x), model(x), atol=1e-4)


def test_export_tells_which_dim_was_specialised_and_by_which_node():
    """torch.export unrolls nn.LSTM for one length: T is fixed, and the user is told where."""
    from specc.compile.export import export_with_report

    graph = specc.load(SPECS / "char_rnn.yaml")
    model = specc.build(SPECS / "char_rnn.yaml").eval()
    program, warnings = export_with_report(model, graph, {"T": 7})
    assert [(w.code, w.severity, w.node) for w in warnings] == [("W401", "warning", "chars")]
    assert "specialised T" in warnings[0].message and "to 7" in warnings[0].message
    assert "lstm (LSTM)" in warnings[0].message
    assert warnings[0].loc == graph.inputs[0].loc
    program.module()(torch.zeros(5, 7, dtype=torch.long))  # N is still dynamic
    with pytest.raises(Exception):  # torch's own guard: the warning told the truth
        program.module()(torch.zeros(5, 8, dtype=torch.long))


def test_cli_export_of_packed_lstm_is_a_located_error(tmp_path):
    res = _run("build", "specs/lstm_classifier.yaml", "--export", str(tmp_path / "m.pt2"))
    assert res.returncode == 1
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr
    line = next(i for i, text in enumerate(
        (SPECS / "lstm_classifier.yaml").read_text().splitlines(), 1) if text.strip() == "- name: lstm")
    assert f"lstm_classifier.yaml:{line}:" in res.stderr and "E401" in res.stderr
    assert "lengths" in res.stderr and not (tmp_path / "m.pt2").exists()
    res = _run("build", "specs/char_rnn.yaml", "--export", str(tmp_path / "c.pt2"))
    assert res.returncode == 0 and "W401" in res.stderr and (tmp_path / "c.pt2").exists()
