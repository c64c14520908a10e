"""The copies of a repeat whose copies are alike are expanded once and copied
(specc/expand/copies.py) and built by one builder function (specc/compile/codegen.py):
the graph, the diagnostics, the module, its state_dict and its outputs are what expanding
and generating every copy gives — and what the same network written in torch gives.
Copies that differ (`i`-dependent params, `if:` on `i`, another input width, a value read
from outside) are expanded or generated per copy."""
from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc.compile import codegen
from specc.expand import expander
from tests.helpers import CPU_VARS, SPECS

ROOT = Path(__file__).resolve().parent.parent
TINY_LM = ROOT / "tests" / "data" / "specs" / "tiny_lm.yaml"
ALL_SPECS = sorted(SPECS.glob("*.yaml")) + [TINY_LM]


def _graph_facts(graph) -> tuple:
    """Every field of every node and scope that a later stage reads."""
    nodes = [(n.id, n.op, n.attrs, sorted(n.given), [str(r) for r in n.inputs], n.loc,
              n.scope.path if n.scope else None, n.attr_name, n.named,
              sorted(n.attr_locs.items()), repr(n.init), n.tie, n.broken, n.training_only,
              n.output_names, n.out_types, n.params, n.macs) for n in graph.nodes]
    scopes = [(s.path, s.kind, s.loc, s.attr_name, s.parent.path if s.parent else None,
               s.block, [i.id if hasattr(i, "id") else i.path for i in s.items], str(s.input),
               str(s.output), [str(r) for r in s.outputs], s.named, s.checkpoint,
               s.training_only, s.module_order) for s in graph.root.walk_scopes()]
    return nodes, scopes, [(k, str(r)) for k, r in graph.outputs], graph.outputs_as_dict


def _check_both(monkeypatch, source, check=specc.check, **kw):
    """(copying, expanding every copy) analyses of one spec."""
    fast = check(source, **kw)
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    slow = check(source, **kw)
    monkeypatch.undo()
    return fast, slow


def _twins(graph) -> list:
    return [s.path for s in graph.root.walk_scopes() if s.twin is not None]


@pytest.mark.parametrize("spec", ALL_SPECS, ids=lambda p: p.stem)
def test_copied_repeats_are_the_expanded_ones(spec, monkeypatch):
    fast, slow = _check_both(monkeypatch, spec, vars=CPU_VARS.get(spec.stem))
    assert [str(d) for d in fast.diagnostics] == [str(d) for d in slow.diagnostics]
    assert _graph_facts(fast.graph) == _graph_facts(slow.graph)
    assert not _twins(slow.graph)


torch = pytest.importorskip("torch")


def _inputs(graph, seed=0):
    generator = torch.Generator().manual_seed(seed)
    values = []
    for node in graph.inputs:
        t = node.out_types[0]
        shape = [d if isinstance(d, int) else 2 if str(d) == "N" else 8 for d in t.shape]
        if t.is_float:
            values.append(torch.randn(shape, generator=generator, dtype=getattr(torch, t.dtype)))
        else:
            values.append(torch.randint(0, 2, shape, generator=generator,
                                        dtype=getattr(torch, t.dtype)))
    return values


def _built(source, **kw):
    torch.manual_seed(0)
    return specc.build(source, **kw).eval()


def _same_module(a, b, inputs) -> None:
    assert [(k, v.shape, v.dtype) for k, v in a.state_dict().items()] == \
        [(k, v.shape, v.dtype) for k, v in b.state_dict().items()]
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                  b.state_dict().values()))
    with torch.no_grad():
        out_a, out_b = a(*inputs), b(*inputs)
    if isinstance(out_a, dict):
        assert out_a.keys() == out_b.keys()
        out_a, out_b = list(out_a.values()), list(out_b.values())
    elif not isinstance(out_a, (tuple, list)):
        out_a, out_b = [out_a], [out_b]
    assert all(torch.equal(x, y) for x, y in zip(out_a, out_b, strict=True))


# the specs with alike copies at their test sizes (the big CNNs with copies are compared
# on meta, keys and shapes)
BUILT = ["bert", "gpt2", "llama", "mistral", "qwen2", "resnet18", "tiny_lm"]


@pytest.mark.parametrize("name", BUILT)
def test_copied_repeats_build_the_same_module(name, monkeypatch):
    path = TINY_LM if name == "tiny_lm" else SPECS / f"{name}.yaml"
    vars_ = CPU_VARS.get(name)
    fast = _built(path, vars=vars_)
    assert _twins(fast.specc_graph), "the spec has alike copies"
    assert "_make_" in fast.specc_source
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    slow = _built(path, vars=vars_)
    assert "_make_" not in slow.specc_source
    _same_module(fast, slow, _inputs(fast.specc_graph))


@pytest.mark.parametrize("name", ["resnet34", "vit_b_16"])
def test_copied_repeats_of_big_models_on_meta(name, monkeypatch):
    fast = specc.build(SPECS / f"{name}.yaml", device="meta")
    assert _twins(fast.specc_graph)
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    slow = specc.build(SPECS / f"{name}.yaml", device="meta")
    assert [(k, v.shape) for k, v in fast.state_dict().items()] == \
        [(k, v.shape) for k, v in slow.state_dict().items()]
    assert [name for name, _ in fast.named_modules()] == \
        [name for name, _ in slow.named_modules()]


STACK = """
specc: 1
name: stack
inputs: {x: {shape: [N, 8]}}
blocks:
  Layer:
    params: {width: 8}
    layers:
      - {name: fc, op: Linear, out_features: $width}
      - {name: act, op: ReLU}
      - {name: out, op: Linear, out_features: 8}
      - {op: add, from: [x, out]}
layers:
  - {name: layers, block: Layer, repeat: 4WIDTH}
"""


class _Layer(torch.nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc, self.act, self.out = torch.nn.Linear(8, width), torch.nn.ReLU(), \
            torch.nn.Linear(width, 8)

    def forward(self, x):
        return x + self.out(self.act(self.fc(x)))


def _against_torch(spec: str, layers: list, monkeypatch) -> list:
    """Build the spec, compare with the hand-written torch layers (weights loaded strictly)
    and with the build that expands and generates every copy; returns its copies' twins."""
    ours = _built(spec)
    reference = torch.nn.Module()
    reference.layers = torch.nn.Sequential(*layers)
    reference.load_state_dict(ours.state_dict(), strict=True)
    reference.eval()
    x = torch.randn(3, 8, generator=torch.Generator().manual_seed(1))
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
        [(k, v.shape) for k, v in reference.state_dict().items()]
    with torch.no_grad():
        assert torch.equal(ours(x), reference.layers(x))
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    _same_module(ours, _built(spec), [x])
    monkeypatch.undo()
    return _twins(ours.specc_graph)


def test_alike_copies_are_copied_and_built_by_one_builder(monkeypatch):
    spec = STACK.replace("WIDTH", "")
    assert _against_torch(spec, [_Layer(8) for _ in range(4)], monkeypatch) == \
        ["layers.1", "layers.2", "layers.3"]
    source = specc.build(spec).specc_source
    assert source.count("\ndef _make_") == 1 and source.count("= _make_Layer()") == 4


def test_copies_that_read_i_are_expanded_per_copy(monkeypatch):
    spec = STACK.replace("WIDTH", ", width: \"${8 + 4 * i}\"")
    assert _against_torch(spec, [_Layer(8 + 4 * i) for i in range(4)], monkeypatch) == []
    assert "_make_" not in specc.build(spec).specc_source


IF_ON_I = {
    "block": """
specc: 1
name: stack
inputs: {x: {shape: [N, 8]}}
blocks:
  Layer:
    params: {with_act: false}
    layers:
      - {name: fc, op: Linear, out_features: 8}
      - {name: act, op: ReLU, if: $with_act}
layers:
  - {name: layers, block: Layer, repeat: 3, with_act: "${i == 1}"}
""",
    "layers": """
specc: 1
name: stack
inputs: {x: {shape: [N, 8]}}
layers:
  - name: layers
    repeat: 3
    layers:
      - {name: fc, op: Linear, out_features: 8}
      - {name: act, op: ReLU, if: "${i == 1}"}
"""}


@pytest.mark.parametrize("form", sorted(IF_ON_I))
def test_copies_with_if_on_i_are_expanded_per_copy(form, monkeypatch):
    layers = [torch.nn.Sequential() for _ in range(3)]
    for i, layer in enumerate(layers):
        layer.fc = torch.nn.Linear(8, 8)
        if i == 1:
            layer.act = torch.nn.ReLU()
    assert _against_torch(IF_ON_I[form], layers, monkeypatch) == []


def test_a_copy_with_another_input_width_gets_its_own_builder(monkeypatch):
    spec = STACK.replace("WIDTH", "").replace("[N, 8]", "[N, 4]").replace(
        "{name: fc, op: Linear, out_features: $width}", "{name: fc, op: Linear, out_features: 8}"
    ).replace("{op: add, from: [x, out]}", "{op: ReLU}")

    def layer(width_in):
        return torch.nn.Sequential(torch.nn.Linear(width_in, 8), torch.nn.ReLU(),
                                   torch.nn.Linear(8, 8), torch.nn.ReLU())

    ours = _built(spec)
    assert _twins(ours.specc_graph) == ["layers.1", "layers.2", "layers.3"]
    # copy 0 reads 4 features, the others 8: two builders, the second serves copies 1-3
    assert ours.specc_source.count("\ndef _make_") == 2
    reference = torch.nn.Sequential(*[layer(4 if i == 0 else 8) for i in range(4)])
    reference.load_state_dict({k.replace("layers.", "", 1).replace("fc", "0").replace(
        "out", "2"): v for k, v in ours.state_dict().items()}, strict=True)
    x = torch.randn(3, 4)
    with torch.no_grad():
        assert torch.equal(ours.eval()(x), reference(x))
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    _same_module(ours, _built(spec), [x])


def test_a_copy_read_from_outside_gets_its_own_code(monkeypatch):
    spec = STACK.replace("WIDTH", "").replace(
        "  - {name: layers, block: Layer, repeat: 4}",
        "  - {name: layers, block: Layer, repeat: 4}\n"
        "  - {name: mid, op: mul, from: [layers, layers.2.fc]}\n"
        "outputs: {out: mid, inner: layers.1.act}")
    ours = _built(spec)
    assert _twins(ours.specc_graph) == ["layers.1", "layers.2", "layers.3"]
    # copies 1 and 2 return an inner value too: their forwards differ from copies 0 and 3
    assert ours.specc_source.count("= _make_Layer()") == 2
    reference = [_Layer(8) for _ in range(4)]
    for i, layer in enumerate(reference):
        layer.load_state_dict({k.split(".", 2)[2]: v for k, v in ours.state_dict().items()
                               if k.startswith(f"layers.{i}.")})
    x = torch.randn(3, 8)
    h = x
    inner = {}
    for i, layer in enumerate(reference):
        inner[i] = layer.act(layer.fc(h)), layer.fc(h)
        h = layer(h)
    with torch.no_grad():
        out = ours.eval()(x)
    assert torch.equal(out["out"], h * inner[2][1]) and torch.equal(out["inner"], inner[1][0])
    monkeypatch.setattr(expander, "COPY_REPEATS", False)
    _same_module(ours, _built(spec), [x])


def test_copies_reading_a_value_from_around_the_repeat_are_expanded(monkeypatch):
    spec = """
specc: 1
name: stack
inputs: {x: {shape: [N, 8]}}
layers:
  - {name: emb, op: Linear, out_features: 8}
  - name: layers
    repeat: 3
    layers:
      - {name: fc, op: Linear, out_features: 8}
      - {op: add, from: [fc, emb]}
"""
    fast, slow = _check_both(monkeypatch, spec)
    assert _graph_facts(fast.graph) == _graph_facts(slow.graph) and not _twins(fast.graph)
    ours = _built(spec)
    emb = ours.emb
    fcs = [getattr(ours.layers, str(i)).fc for i in range(3)]
    x = torch.randn(3, 8)
    with torch.no_grad():
        e = emb(x)
        h = e
        for fc in fcs:
            h = fc(h) + e
        assert torch.equal(ours(x), h)


def test_a_copy_past_a_limit_is_reported_where_expansion_passes_it(monkeypatch):
    spec = STACK.replace("WIDTH", "").replace("repeat: 4", "repeat: 40")
    from specc.analysis import analyse
    from specc.errors import Limits

    fast, slow = _check_both(monkeypatch, spec, analyse, limits=Limits(max_graph_nodes=90))
    assert [str(d) for d in fast.diagnostics] == [str(d) for d in slow.diagnostics]
    assert [d.code for d in fast.diagnostics] == ["E004"]


def test_the_70b_stack_costs_one_layer_of_expansion_and_code(monkeypatch):
    """Expanding and generating 80 alike decoder layers runs the per-op work of one."""
    counts: dict = {}
    for what, owner, name in (("op nodes", expander.Expander, "_op_node"),
                              ("forwards", codegen, "forward_text"),
                              ("leaves", codegen, "_emit_leaf")):
        real = getattr(owner, name)

        def counting(*args, _real=real, _what=what, **kwargs):
            counts[_what] = counts.get(_what, 0) + 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counting)
    seen = []
    for layers in (4, 80):
        counts.clear()
        graph = specc.load(SPECS / "llama.yaml", vars={"num_hidden_layers": layers})
        source = codegen.generate(graph)
        seen.append(dict(counts))
        assert len([s for s in graph.root.walk_scopes() if s.block == "LlamaDecoderLayer"]) \
            == layers
        assert source.text.count("= _make_LlamaDecoderLayer()") == layers
    assert seen[0] == seen[1]
