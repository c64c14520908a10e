"""Memory, receptive field and FLOPs analyses against what torch really does.

- training activations: the unique storages autograd saves (saved_tensors_hooks) for
  every bundled spec, two batch sizes, float32 and bfloat16, and checkpointed blocks;
- parameters / gradients / optimizer state: sizes after one real optimizer step;
- inference peak: a liveness replay of the real forward's aten ops;
- receptive fields: the input positions whose gradient is non-zero, with positive
  weights and average instead of max pooling;
- FLOPs: torch.utils.flop_counter forward and backward.
"""
import pytest

import specc
from specc.analyses.memory import (
    MemoryAnalysisError,
    analyse_memory,
    checkpointed_scopes,
    largest_batch,
    parse_bytes,
)
from tests.helpers import SPECS, cpu_sized

torch = pytest.importorskip("torch")
measure = pytest.importorskip("specc.analyses.measure")

ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml"))
# every bundled spec; the LLMs (llama, qwen2, mistral, gpt2, bert) at the small
# configurations of tests/helpers.CPU_VARS (their defaults are too big for a CPU test)
MEASURED_SPECS = ALL_SPECS
# symbols other than the batch, bound small enough for CPU
OTHER_DIMS = {"T": 12, "S": 9, "h": 4, "w": 4}


def _graph(name: str, batch: int, text: str | None = None):
    dims = {"N": batch, **OTHER_DIMS}
    if text is None:
        analysis = cpu_sized(name, dims=dims, lint=False)
    else:
        analysis = specc.check(text, dims=dims, lint=False)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    return analysis.graph, dims


def _build(graph, dtype, device="cpu"):
    from specc.compile.build import build_module

    torch.manual_seed(0)
    return build_module(graph, dtype=dtype, device=device)


def _device(graph, batch: int, dtype: str) -> str:
    """Recurrent and attention layers keep what their CPU kernels choose, so they always
    run on the CPU; every other op saves what autograd's derivative formulas say on any
    device, so beyond batch 2 in float32 (always on the CPU) they run on the meta device:
    the same saved tensors, no data and no compute."""
    from specc.ops.base import get_op

    if (batch, dtype) == (2, "float32") or any(
            get_op(n.op).category in ("recurrent", "attention") for n in graph.nodes):
        return "cpu"
    return "meta"


# whose kernels the estimate follows for a measurement on each device: the meta kernels
# mirror CUDA's (e.g. BatchNorm and LayerNorm keep bfloat16 statistics in float32)
_KERNELS = {"cpu": "cpu", "meta": "cuda"}


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("batch", [2, 5])
@pytest.mark.parametrize("name", MEASURED_SPECS)
def test_training_activations_equal_saved_tensors(name, batch, dtype):
    graph, dims = _graph(name, batch)
    device = _device(graph, batch, dtype)
    static = analyse_memory(graph, dtype=dtype, device=_KERNELS[device]).activations_train_bytes
    model = _build(graph, dtype, device)
    real = measure.saved_bytes(model, measure.example_inputs(graph, dims, getattr(torch, dtype),
                                                             device=device))
    assert abs(static - real) <= 0.05 * real, f"static {static} vs torch {real}"


@pytest.mark.parametrize("name", ["resnet18", "vit_b_16"])
def test_checkpointed_blocks(name):
    """`checkpoint: true` on block uses: the compiler wraps each instance in
    torch.utils.checkpoint and the estimate keeps only the instances' inputs."""
    text = (SPECS / f"{name}.yaml").read_text()
    marked = text.replace("block: BasicBlock,", "block: BasicBlock, checkpoint: true,") \
        .replace("block: EncoderBlock,", "block: EncoderBlock, checkpoint: true,")
    assert marked != text
    graph, dims = _graph(name, 2, marked)
    scopes = checkpointed_scopes(graph)
    assert scopes
    plain, _ = _graph(name, 2)
    static = analyse_memory(graph, device="cpu").activations_train_bytes
    assert static < analyse_memory(plain).activations_train_bytes
    model = _build(graph, None)
    assert "torch.utils.checkpoint.checkpoint" in model.specc_source
    inputs = measure.example_inputs(graph, dims, torch.float32)
    real = measure.saved_bytes(model, inputs,
                               [model.get_submodule(s.path) for s in scopes])
    assert abs(static - real) <= 0.05 * real, f"static {static} vs torch {real}"
    # and the checkpointed model still trains: gradients equal the plain model's
    reference = _build(plain, None)
    reference.load_state_dict(model.state_dict())
    model.train(), reference.train()
    torch.manual_seed(1)
    model(*inputs).float().sum().backward()
    torch.manual_seed(1)
    reference(*inputs).float().sum().backward()
    for (key, p), q in zip(model.named_parameters(), reference.parameters()):
        assert torch.allclose(p.grad, q.grad, atol=1e-4, rtol=1e-3), key


@pytest.mark.parametrize("optimizer", ["sgd", "sgd-momentum", "adam", "adamw"])
@pytest.mark.parametrize("dtype,amp", [("float32", False), ("bfloat16", False),
                                       ("bfloat16", True)])
@pytest.mark.parametrize("name", ["resnet18", "vit_b_16", "lstm_classifier", "unet",
                                  "transformer_classifier", "seq2seq"])
def test_parameter_gradient_optimizer_bytes_equal_a_real_step(name, optimizer, dtype, amp):
    graph, _ = _graph(name, 1)
    report = analyse_memory(graph, dtype=dtype, optimizer=optimizer, amp=amp)
    real = measure.optimizer_state_bytes(_build(graph, dtype), optimizer, amp)
    ours = {key: getattr(report, key) for key in real}
    assert ours == real


@pytest.mark.parametrize("name", MEASURED_SPECS)
def test_inference_peak_matches_a_liveness_replay_of_the_real_forward(name):
    graph, dims = _graph(name, 2)
    static = analyse_memory(graph).activations_inference_peak_bytes
    model = _build(graph, None)  # on the CPU: meta kernels allocate differently in eval
    real = measure.inference_peak_bytes(model, measure.example_inputs(graph, dims,
                                                                      torch.float32))
    assert abs(static - real) <= 0.10 * real, f"static {static} vs torch {real}"


def test_largest_batch_that_fits_is_the_boundary():
    graph = specc.check(SPECS / "resnet18.yaml").graph
    budget = parse_bytes("2GiB")
    best = largest_batch(graph, budget, dtype="float32", optimizer="adamw")
    assert best > 1

    def total(batch):
        bound = specc.check(SPECS / "resnet18.yaml", dims={"N": batch}).graph
        return analyse_memory(bound, optimizer="adamw").total_train_bytes

    assert total(best) <= budget < total(best + 1)


def test_symbolic_sizes_and_bad_options_are_errors_not_tracebacks():
    graph = specc.check(SPECS / "unet.yaml").graph
    with pytest.raises(MemoryAnalysisError, match="bind"):
        analyse_memory(graph, env={"N": 1})
    with pytest.raises(MemoryAnalysisError, match="optimizer"):
        analyse_memory(graph, optimizer="lion")
    with pytest.raises(ValueError):
        parse_bytes("lots")
    assert parse_bytes("24GiB") == 24 * 2**30 and parse_bytes("80GB") == 80 * 10**9


# --- receptive fields ------------------------------------------------------------------

# every spec with a spatial or temporal input (resnet50 and vgg16_bn repeat resnet18's
# and vgg11's layer kinds at 3× the CPU time; their closed forms are checked below)
RF_SPECS = ["lenet5", "small_cnn", "cnn_img", "alexnet", "vgg11", "resnet18", "googlenet",
            "mobilenet_v2", "tcn", "unet", "vit_b_16"]


def _positive_avg_model(graph):
    """The built model with positive weights and max pools swapped for average pools:
    every position inside the field then has a non-zero gradient."""
    from torch import nn

    from specc.compile.build import build_module

    recorded: dict = {}
    model = build_module(graph, recorder=lambda node_id, outs: recorded.__setitem__(
        node_id, outs))
    model = model.double()
    with torch.no_grad():  # positive and fan-in scaled: no saturation, no underflow
        for p in model.parameters():
            p.fill_(1.0 / p[0].numel() if p.dim() > 1 else 0.01)
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)):
                cls = getattr(nn, type(child).__name__.replace("Max", "Avg"))
                setattr(module, child_name, cls(child.kernel_size, child.stride, child.padding,
                                                ceil_mode=child.ceil_mode))
    return model.eval(), recorded


@pytest.mark.parametrize("name", RF_SPECS)
def test_receptive_fields_equal_the_gradient_measured_field(name):
    from specc.analyses.receptive_field import field_at, receptive_fields

    graph, dims = _graph(name, 1)
    fields = receptive_fields(graph)
    assert fields
    model, recorded = _positive_avg_model(graph)
    x = measure.example_inputs(graph, dims, torch.float64)[0] + 0.5
    x.requires_grad_(True)
    model(x)
    nodes = [n for n in graph.nodes if n.id in fields]
    step = max(len(nodes) // 6, 1)
    transposed = any(w.transposed for n in graph.nodes
                     for w in _windows(n, len(fields[nodes[0].id].size)))
    for node in nodes[::step] + [nodes[-1]]:
        out = recorded[node.id][0]
        centre = tuple(size // 2 for size in out.shape[2:])
        (grad,) = torch.autograd.grad(out[(0, slice(None)) + centre].sum(), x,
                                      retain_graph=True)
        measured = []
        for axis in range(2, x.dim()):
            others = tuple(i for i in range(x.dim()) if i != axis)
            hit = grad.abs().amax(dim=others).nonzero().flatten()
            measured.append((int(hit.min()), int(hit.max())))
        exact = field_at(graph, node.id, centre)
        clipped = [(max(lo, 0), min(hi, x.shape[2 + i] - 1)) for i, (lo, hi) in enumerate(exact)]
        assert measured == clipped, f"{node.id}: measured {measured}, predicted {clipped}"
        field = fields[node.id]  # the closed form agrees with the exact interval
        for i, (lo, hi) in enumerate(exact):
            start = field.start[i] + centre[i] * field.stride[i]
            assert start <= lo and hi <= start + field.size[i] - 1
            if not transposed:  # otherwise the closed form is the hull of the phases
                assert (lo, hi) == (start, start + field.size[i] - 1)


def _windows(node, nd):
    from specc.ops.base import get_op

    rule = get_op(node.op).receptive
    rule = rule(node.attrs, nd) if callable(rule) else rule
    return rule if isinstance(rule, list) else []


def test_receptive_field_closed_forms():
    """Published values: ResNet-50 427, VGG-16 212, AlexNet 195, MobileNet-v2 491
    (Araujo et al., Distill 2019, table 1); the TCN rule 1 + (k-1)·Σ dilations."""
    from specc.analyses.receptive_field import receptive_fields

    expected = {"resnet50": 427, "vgg16": 212, "alexnet": 195, "mobilenet_v2": 491,
                "tcn": 1 + 2 * (1 + 2 + 4 + 8)}
    for name, size in expected.items():
        graph, _ = _graph(name, 1)
        fields = receptive_fields(graph)
        spatial = [n for n in graph.nodes if n.id in fields]
        assert fields[spatial[-1].id].size[0] == size, name


# --- FLOPs --------------------------------------------------------------------------------

# torch.utils.flop_counter has no rule for oneDNN's LSTM kernel (char_rnn), packed
# sequences skip padded steps (lstm_classifier: data-dependent), and it ignores groups in
# a convolution's weight gradient (mobilenet_v2's depthwise backward: 10× too many).
# torch's FlopCounterMode counts a grouped (depthwise) conv's backward as if it were not
# grouped (a 96-channel depthwise 7x7: backward = 97x forward), so specs with depthwise
# or grouped convs are compared forward only. It has no rule for the CPU's fused attention
# kernel either: attention is counted on the math backend (matmuls it counts).
FLOP_GAPS = {"char_rnn": "all", "lstm_classifier": "all", "mobilenet_v2": "backward",
             "convnext_tiny": "backward", "efficientnet_b0": "backward",
             "mobilenet_v3_small": "backward", "regnet_y_400mf": "backward"}


@pytest.mark.parametrize("name", MEASURED_SPECS)
def test_flops_equal_torch_flop_counter(name):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from specc.analyses.flops import count_flops

    if FLOP_GAPS.get(name) == "all":
        pytest.skip(f"torch's counter cannot count {name}")
    graph, dims = _graph(name, 2)
    flops = count_flops(graph)
    model = _build(graph, None).train()
    inputs = measure.example_inputs(graph, dims, torch.float32)
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as forward:
        out = model(*inputs)
    # a training forward runs the training-only branches (aux heads) too; eval does not
    assert flops.forward + flops.training_only_forward == forward.get_total_flops()
    if flops.training_only_forward:
        with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), \
                FlopCounterMode(display=False) as evaluation:
            model.eval()(*inputs)
        assert flops.forward == evaluation.get_total_flops()
    outputs = list(out.values()) if isinstance(out, dict) else \
        list(out) if isinstance(out, tuple) else [out]
    # the loss of a training step: the first output's, plus the aux heads' own terms
    loss = sum(o.float().sum() for (_, ref), o in zip(graph.outputs, outputs)
               if ref.node.training_only) + outputs[0].float().sum()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as backward:
        loss.backward()
    if FLOP_GAPS.get(name) != "backward":
        assert flops.backward == pytest.approx(backward.get_total_flops(), rel=0.01)
    trained_forward = flops.forward + flops.training_only_forward
    assert flops.forward < flops.train <= 3 * trained_forward


@pytest.mark.parametrize("learned", [("q",), ("k",), ("v",), ("mask",), ("q", "v"),
                                     ("q", "k", "v", "mask")])
def test_attention_backward_flops_count_each_needed_gradient(learned):
    """scaled_dot_product_attention's backward pays QKᵀ once per gradient of q and k, and
    P·V once for dV and once for dP when the scores need a gradient (q, k or the mask)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from specc.analyses.flops import count_flops

    shapes = {"q": [2, 3, 5, 4], "k": [2, 3, 7, 4], "v": [2, 3, 7, 6], "mask": [2, 3, 5, 7]}
    layers = [{"name": "g", "op": "parameter", "shape": [1]}]
    sources = []
    for name in shapes:
        if name in learned:
            layers.append({"name": f"{name}_g", "op": "mul", "from": [name, "g"]})
        sources.append(f"{name}_g" if name in learned else name)
    layers.append({"name": "att", "op": "scaled_dot_product_attention", "from": sources})
    analysis = specc.check({"inputs": {n: {"shape": s} for n, s in shapes.items()},
                            "layers": layers, "outputs": ["att"]}, lint=False)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    model = _build(analysis.graph, None).train()
    with sdpa_kernel(SDPBackend.MATH):  # the counter's convention, as above
        out = model(*measure.example_inputs(analysis.graph, {}, torch.float32))
        with FlopCounterMode(display=False) as backward:
            out.sum().backward()
    assert count_flops(analysis.graph).backward == backward.get_total_flops()


# --- interface -------------------------------------------------------------------------


def _cli(*args):
    import subprocess
    import sys

    from tests.helpers import ROOT

    return subprocess.run([sys.executable, "-m", "specc", *args], check=False, capture_output=True,
                          text=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""})


def test_check_memory_table_json_and_python_api_agree():
    import json

    args = ["check", "specs/resnet50.yaml", "--memory", "--dim", "N=64", "--dtype", "bfloat16",
            "--amp", "--optimizer", "adamw", "--device-memory", "24GiB"]
    table = _cli(*args)
    assert table.returncode == 0, table.stderr
    assert "Memory (bfloat16 with fp32 master weights, adamw)" in table.stdout
    assert "training total" in table.stdout and "fits in 24.0 GiB" in table.stdout
    document = json.loads(_cli(*args, "--format", "json").stdout)
    model = document["files"][0]["model"]
    memory = model["memory"]
    report = specc.check(SPECS / "resnet50.yaml", dims={"N": 64}).memory(
        dtype="bfloat16", optimizer="adamw", amp=True)
    for key in ("parameters_bytes", "gradients_bytes", "optimizer_bytes", "buffers_bytes",
                "activations_train_bytes", "activations_inference_peak_bytes",
                "total_train_bytes", "total_inference_bytes"):
        assert memory[key] == getattr(report, key), key
    assert memory["fits_train"] is True
    nodes = {n["name"]: n for n in model["nodes"]}
    assert nodes["conv1"]["receptive_field"] == {"size": [7, 7], "stride": [2, 2],
                                                 "start": [-3, -3]}
    # per node: what each node's outputs and private tensors keep; conv1 also keeps the
    # input batch, which belongs to no node
    batch_bytes = 64 * 3 * 224 * 224 * 2
    assert sum(n.get("activation_bytes", 0) for n in nodes.values()) + batch_bytes \
        == memory["activations_train_bytes"]


def test_memory_device_picks_whose_kernel_rules_count():
    """--memory-device cpu counts what the CPU kernels keep (BatchNorm's bfloat16
    statistics in bfloat16), as the Python API's device="cpu"; cuda is the default."""
    import json

    args = ["check", "specs/resnet18.yaml", "--memory", "--dim", "N=4", "--dtype", "bfloat16",
            "--format", "json"]
    analysis = specc.check(SPECS / "resnet18.yaml", dims={"N": 4})
    for device in ("cpu", "cuda"):
        result = _cli(*args, "--memory-device", device)
        assert result.returncode == 0, result.stderr
        memory = json.loads(result.stdout)["files"][0]["model"]["memory"]
        report = analysis.memory(dtype="bfloat16", device=device)
        assert memory["device"] == device
        assert memory["activations_train_bytes"] == report.activations_train_bytes
    default = json.loads(_cli(*args).stdout)["files"][0]["model"]["memory"]
    assert default["device"] == "cuda"
    cpu = analysis.memory(dtype="bfloat16", device="cpu").activations_train_bytes
    assert default["activations_train_bytes"] > cpu  # CUDA keeps the statistics in fp32
    table = _cli("check", "specs/resnet18.yaml", "--memory", "--memory-device", "cpu")
    assert "CPU kernels" in table.stdout
    assert _cli("check", "specs/resnet18.yaml", "--memory", "--memory-device", "tpu") \
        .returncode == 2
    assert _cli("check", "specs/resnet18.yaml", "--memory-device", "cpu").returncode == 2


def test_check_memory_with_a_symbolic_batch_prints_the_largest_batch():
    result = _cli("check", "specs/resnet18.yaml", "--memory", "--device-memory", "8GiB")
    assert result.returncode == 0, result.stderr
    assert "per sample: batch N=1" in result.stdout
    assert "largest batch that fits in 8.0 GiB: training" in result.stdout


def test_check_memory_usage_errors_exit_2():
    assert _cli("check", "specs/mlp.yaml", "--amp").returncode == 2
    assert _cli("check", "specs/mlp.yaml", "--memory", "--device-memory", "lots").returncode == 2
    assert _cli("check", "specs/mlp.yaml", "--memory", "--amp").returncode == 2
    unbound = _cli("check", "specs/unet.yaml", "--memory")
    assert unbound.returncode == 0 and "cannot estimate: sizes depend on h, w" in unbound.stdout


def test_render_annotates_receptive_fields():
    pytest.importorskip("graphviz")
    result = _cli("render", "specs/tcn.yaml", "--receptive-field")
    assert result.returncode == 0, result.stderr
    assert "RF 31, stride 1" in result.stdout


# --- every op's saved-tensor rule, on random configurations --------------------------------

# LSTM: oneDNN's workspace is approximated per element (exact at spec scale, tested above;
# tiny random shapes hit its 28 KiB minimum).
OP_GAPS = {"LSTM"}
# TransformerEncoderLayer / TransformerDecoderLayer's masks (the inputs after the tensors,
# given as (shape, dtype)) are fed as given: bool, or float but constant. A float mask that
# needs a gradient sends their attention down the math path, which their (aggregate) saves
# rules do not model.
MASKED_LAYERS = {"TransformerEncoderLayer", "TransformerDecoderLayer"}


def _op_cases():
    from tests.test_ops_vs_torch import CASES

    return sorted(op for op in CASES if op not in OP_GAPS)


@pytest.mark.parametrize("op", _op_cases())
def test_every_op_saves_what_torch_saves(op):
    """One op behind inputs that need a gradient (data + a learned scalar), in training:
    its declared `saves` must be exactly the unique storages torch keeps."""
    from hypothesis import HealthCheck, given, settings

    from specc.ops.base import get_op
    from tests.test_ops_vs_torch import CASES

    @settings(max_examples=12, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(CASES[op])
    def run(case):
        kw, shapes = case
        inputs, layers, sources = {}, [{"name": "g", "op": "parameter", "shape": [1]}], []
        for i, entry in enumerate(shapes):
            shape, dtype = entry if isinstance(entry, tuple) else (entry, "float32")
            inputs[f"in{i}"] = {"shape": list(shape), "dtype": dtype}
            if dtype == "float32" and not (op in MASKED_LAYERS and isinstance(entry, tuple)):
                layers.append({"name": f"grad{i}", "op": "add", "from": [f"in{i}", "g"]})
                sources.append(f"grad{i}")
            else:
                sources.append(f"in{i}")
        layers.append({"name": "node", "op": op, "from": sources, **kw})
        analysis = specc.check({"inputs": inputs, "layers": layers, "outputs": ["node"]},
                               lint=False)
        if not analysis.ok:
            return
        graph = analysis.graph
        inputs = measure.example_inputs(graph, {}, torch.float32)
        if get_op(op).category != "recurrent":  # 1-D integers are indices, not lengths
            inputs = [x if x.is_floating_point() else torch.zeros_like(x) for x in inputs]
        try:
            model = _build(graph, None)
            real = measure.saved_bytes(model, inputs)
        except (RuntimeError, ValueError):  # e.g. BatchNorm on one value in training
            return
        static = analyse_memory(graph, device="cpu").activations_train_bytes
        assert static == real, f"{op}{kw} on {shapes}: specc {static} vs torch {real}"

    run()


def test_every_op_declares_what_autograd_saves():
    """No op falls back to the analysis's guess (its inputs): each one's rule is held to
    torch by test_every_op_saves_what_torch_saves."""
    from specc.ops.base import all_ops

    assert [name for name, op in sorted(all_ops().items()) if op.saves is None] == []
