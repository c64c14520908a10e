"""`training_only: true` (issue 13): Inception/GoogLeNet-style aux heads. Built and saved,
run in training only, left out of eval MACs and the inference peak — each checked against
what torch builds and runs (a hand-written nn.Module with torchvision's forward pattern,
torch.utils.flop_counter, a liveness replay of the real forward)."""
import pytest

import specc
from specc.analyses.flops import count_flops
from specc.analyses.memory import analyse_memory
from specc.infer import totals
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")
nn = torch.nn

AUX_NET = """\
name: auxnet
inputs:
  x: {shape: [N, 3, 16, 16]}
layers:
  - {name: conv1, op: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - name: aux
    training_only: true
    layers:
      - {op: AdaptiveAvgPool2d, output_size: 2}
      - {op: flatten, start_dim: 1}
      - {op: Linear, out_features: 5}
  - {name: conv2, op: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
  - {name: pool, op: AdaptiveAvgPool2d, output_size: 1}
  - {op: flatten, start_dim: 1}
  - {name: fc, op: Linear, out_features: 5}
outputs: [fc, aux]
"""


class HandWritten(nn.Module):
    """The same network as torchvision writes its aux heads."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.aux = nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5))
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 5)

    def forward(self, x):
        x = self.conv1(x)
        aux = self.aux(x) if self.training else None
        x = self.fc(torch.flatten(self.pool(self.conv2(x)), 1))
        return (x, aux) if self.training else x


def test_built_loaded_and_run_in_training_only_as_torch_does():
    model = specc.build(AUX_NET)
    reference = HandWritten()
    assert list(model.state_dict()) == list(reference.state_dict())  # aux.2.* included
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        logits = model.eval()(x)
        assert isinstance(logits, torch.Tensor)
        assert torch.equal(logits, reference.eval()(x))
        trained = model.train()(x)
        expected = reference.train()(x)
    assert isinstance(trained, tuple) and len(trained) == 2
    for got, want in zip(trained, expected):
        assert torch.equal(got, want)
    graph = specc.check(AUX_NET).graph
    assert {n.id for n in graph.nodes if n.training_only} == {"aux.0", "aux.1", "aux.2"}
    assert [name for name, _ in graph.eval_outputs] == ["fc"]


def test_params_count_the_aux_head_and_eval_macs_leave_it_out():
    graph = specc.check(AUX_NET, dims={"N": 1}).graph
    model = specc.build(AUX_NET)
    numbers = totals(graph)
    assert numbers["params"] == sum(p.numel() for p in model.parameters())
    from torch.utils.flop_counter import FlopCounterMode

    x = torch.randn(1, 3, 16, 16)
    with torch.no_grad(), FlopCounterMode(display=False) as evaluation:
        model.eval()(x)
    with torch.no_grad(), FlopCounterMode(display=False) as training:
        model.train()(x)
    assert numbers["macs"] == evaluation.get_total_flops() // 2
    assert numbers["training_only_macs"] == 32 * 5
    assert numbers["macs"] + numbers["training_only_macs"] == training.get_total_flops() // 2
    flops = count_flops(graph)
    assert flops.forward == evaluation.get_total_flops()
    assert flops.training_only_forward == training.get_total_flops() - flops.forward


def test_inference_peak_leaves_the_aux_head_out_and_training_keeps_its_tensors():
    measure = pytest.importorskip("specc.analyses.measure")
    graph = specc.check(AUX_NET, dims={"N": 4}).graph
    model = specc.build(AUX_NET)
    inputs = measure.example_inputs(graph, {"N": 4}, torch.float32)
    report = analyse_memory(graph)
    assert report.activations_inference_peak_bytes == measure.inference_peak_bytes(model, inputs)
    assert report.activations_train_bytes == measure.saved_bytes(model, inputs)
    assert report.nodes["aux.2"].output_bytes == 0  # never allocated in inference


def test_side_branch_semantics_and_inheritance():
    """The next item reads what the training-only item read; everything inside it (and
    in a block it uses, a repeat, an inline block) is training-only too."""
    text = """\
inputs: {x: {shape: [N, 4]}}
blocks:
  Head:
    layers:
      - {name: fc, op: Linear, out_features: 3}
      - {name: act, op: ReLU}
layers:
  - {name: a, op: Linear, out_features: 4}
  - {name: h1, block: Head, training_only: true}
  - {name: h2, block: Head, repeat: 2, training_only: "${1 == 1}", from: a}
  - {block: Head, inline: true, training_only: true}
  - {op: Linear, out_features: 3, repeat: 2, training_only: true}
  - {name: b, op: Linear, out_features: 2}
outputs: [b, h1, h2]
"""
    analysis = specc.check(text, dims={"N": 2})
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    graph = analysis.graph
    b = graph.node("b")
    assert b.inputs[0].node.id == "a" and not b.training_only
    trained = {n.id for n in graph.nodes if n.training_only}
    assert trained == {"h1.fc", "h1.act", "h2.0.fc", "h2.0.act", "h2.1.fc", "h2.1.act",
                       "fc", "act", "5", "6"}  # the inline block's took indices 3, 4
    assert graph.node("h2.1.fc").inputs[0].node.id == "h2.0.act"  # a repeat still chains
    assert graph.node("6").inputs[0].node.id == "5"
    assert_matches_torch(graph, {"N": 2})  # every node ran, at the inferred shapes
    model = specc.build(text)
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 2)
        assert [tuple(t.shape) for t in model.train()(x)] == [(2, 2), (2, 3), (2, 3)]


def test_default_output_is_the_last_node_that_runs_in_eval():
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: fc, op: Linear, out_features: 2}\n"
            "  - {name: aux, op: Linear, out_features: 3, training_only: true}\n")
    graph = specc.check(text).graph
    assert [(name, ref.node.id) for name, ref in graph.outputs] == [("fc", "fc")]
    model = specc.build(text)
    with torch.no_grad():
        assert model.train()(torch.randn(2, 4)).shape == (2, 2)
    assert "aux" in dict(model.named_children())


def test_dict_outputs_drop_the_training_only_keys_in_eval():
    text = AUX_NET.replace("outputs: [fc, aux]", "outputs: {logits: fc, aux_logits: aux}")
    model = specc.build(text)
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        assert list(model.eval()(x)) == ["logits"]
        assert list(model.train()(x)) == ["logits", "aux_logits"]


def test_emitted_python_runs_the_aux_heads_in_training_as_build_does(tmp_path):
    """`--emit-python` (the readable file) guards the aux heads as the built module does:
    in training both return (logits, aux1, aux2), equal with the same dropout draws."""
    from specc.compile.readable import readable_source
    from tests.helpers import SPECS, emitted_and_built

    path = tmp_path / "googlenet_emitted.py"
    text = readable_source(SPECS / "googlenet.yaml")
    path.write_text(text)
    assert "if self.training:" in text and "if self.training else fc" in text
    emitted, built = emitted_and_built(path, "googlenet_emitted", "googlenet")
    x = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(emitted(x), built(x))
        torch.manual_seed(0)
        ours = emitted.train()(x)
        torch.manual_seed(0)
        theirs = built.train()(x)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b)


def locate(text):
    return [(d.code, d.loc.line, d.loc.col) for d in specc.check(text).diagnostics]


def test_an_eval_node_reading_a_training_only_value_is_a_located_error():
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: aux, op: Linear, out_features: 4, training_only: true}\n"
            "  - {op: Linear, out_features: 2, from: [aux]}\n")
    d, = specc.check(text).diagnostics
    assert (d.code, d.loc.line, d.loc.col) == ("E210", 4, text.splitlines()[3].index("aux") + 1)
    assert "training only" in d.message and "training_only: true" in d.hint


def test_a_block_output_naming_a_training_only_node_is_a_located_error():
    text = ("inputs: {x: {shape: [N, 4]}}\nblocks:\n  B:\n    layers:\n"
            "      - {name: t, op: Linear, out_features: 4, training_only: true}\n"
            "    output: t\nlayers:\n  - {name: b, block: B}\n")
    assert locate(text) == [("E210", 6, 13)]
    # the same block used training-only is fine
    assert specc.check(text.replace("{name: b, block: B}",
                                    "{name: b, block: B, training_only: true}")).ok


def test_every_output_training_only_is_an_error():
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: aux, op: Linear, out_features: 4, training_only: true}\n"
            "outputs: [aux]\n")
    assert locate(text) == [("E210", 4, 10)]


@pytest.mark.parametrize("value,code", [('"yes"', "E104"), ("1", "E104"),
                                        ('"${nope}"', "E207")])
def test_training_only_must_be_a_boolean(value, code):
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            f"  - {{op: Linear, out_features: 4, training_only: {value}}}\n")
    (got, line, _), = locate(text)
    assert (got, line) == (code, 3)


def test_a_block_may_return_its_aux_logits_as_a_second_output():
    """A block with several outputs (`outputs: [main, aux]`) may return a training-only
    one after its main output; only training-only nodes may read it."""
    text = """\
inputs: {x: {shape: [N, 4]}}
blocks:
  WithAux:
    layers:
      - {name: main, op: Linear, out_features: 4}
      - {name: aux, op: Linear, out_features: 3, training_only: true}
    outputs: [main, aux]
layers:
  - {name: b, block: WithAux}
  - {name: head, op: Linear, out_features: 2}
  - {name: auxhead, op: ReLU, from: b.aux, training_only: true}
outputs: [head, auxhead]
"""
    assert_matches_torch(specc.check(text, dims={"N": 2}).graph, {"N": 2})
    model = specc.build(text)
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert model.eval()(x).shape == (2, 2)
        head, aux = model.train()(x)
        b = model.get_submodule("b")
        assert torch.equal(aux, torch.relu(b.aux(b.main(x))))
    assert locate(text.replace("from: b.aux, training_only: true", "from: b.aux")) == \
        [("E210", 11, text.splitlines()[10].index("b.aux") + 1)]
    swapped = text.replace("outputs: [main, aux]", "outputs: [aux, main]")
    assert locate(swapped)[0] == ("E210", 7, 15)
