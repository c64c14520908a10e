"""Wiring features of the spec language (issue 13): blocks with several outputs, `from`
chosen by an expression, named inline blocks.

Each model is built and compared with the same network written by hand in torch: the
state_dict loads strictly into the hand-written module (same keys and shapes), the
parameter counts agree, every node's inferred shape is the one torch computes, and the
outputs are equal."""
import pytest

import specc
from tests.helpers import assert_matches_torch, codes

torch = pytest.importorskip("torch")
nn, F = torch.nn, torch.nn.functional


def _build(text: str, dims=None):
    analysis = specc.check(text)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    assert_matches_torch(analysis.graph, dims or {"N": 2})
    return specc.build(text).eval()


def _same(model, reference, *inputs):
    """`reference` takes `model`'s weights strictly; both compute the same outputs."""
    reference.load_state_dict(model.state_dict(), strict=True)
    reference.eval()
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in reference.parameters())
    with torch.no_grad():
        got, want = model(*inputs), reference(*inputs)
    got = got if isinstance(got, tuple) else (got,)
    want = want if isinstance(want, tuple) else (want,)
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert a.shape == b.shape and torch.allclose(a, b, atol=1e-6)


def _problems(text: str) -> list:
    analysis = specc.check(text)
    return [(d.code, d.loc.line, d.message) for d in analysis.diagnostics
            if d.severity == "error"]


# -- blocks with several outputs ----------------------------------------------------------

UNET = """
name: unet_tiny
inputs: {x: {shape: [N, 3, 16, 16]}}
blocks:
  Down:
    params: {c: null}
    layers:
      - {name: conv, op: Conv2d, out_channels: $c, kernel_size: 3, padding: 1}
      - {name: act, op: ReLU}
      - {name: pool, op: MaxPool2d, kernel_size: 2}
    outputs: {out: pool, skip: act}
  Up:
    params: {c: null}
    inputs: [x, skip]
    layers:
      - {name: up, op: Upsample, scale_factor: 2, from: x}
      - {op: cat, from: [up, skip], dim: 1}
      - {name: conv, op: Conv2d, out_channels: $c, kernel_size: 3, padding: 1}
layers:
  - {name: d1, block: Down, c: 8}
  - {name: d2, block: Down, c: 16}
  - {name: mid, op: Conv2d, out_channels: 16, kernel_size: 1}
  - {name: u2, block: Up, c: 8, from: [mid, d2.skip]}   # by name
  - {name: u1, block: Up, c: 4, from: [u2, d1.1]}       # by position
"""


class _Down(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.conv, self.act, self.pool = nn.Conv2d(cin, c, 3, padding=1), nn.ReLU(), \
            nn.MaxPool2d(2)

    def forward(self, x):
        skip = self.act(self.conv(x))
        return self.pool(skip), skip


class _Up(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.up, self.conv = nn.Upsample(scale_factor=2), nn.Conv2d(cin, c, 3, padding=1)

    def forward(self, x, skip):
        return self.conv(torch.cat([self.up(x), skip], dim=1))


class _UNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.d1, self.d2 = _Down(3, 8), _Down(8, 16)
        self.mid = nn.Conv2d(16, 16, 1)
        self.u2, self.u1 = _Up(32, 8), _Up(16, 4)

    def forward(self, x):
        y, skip1 = self.d1(x)
        y, skip2 = self.d2(y)
        return self.u1(self.u2(self.mid(y), skip2), skip1)


def test_a_block_with_two_outputs_is_a_unet_down_step():
    model = _build(UNET)
    x = torch.randn(2, 3, 16, 16)
    _same(model, _UNet(), x)
    # an instance called on its own returns every declared output, in order
    with torch.no_grad():
        out, skip = model.d1(x)
        want_out, want_skip = _UNet().d1.__class__.forward(model.d1, x)
    assert torch.equal(out, want_out) and torch.equal(skip, want_skip)
    assert out.shape == (2, 8, 8, 8) and skip.shape == (2, 8, 16, 16)


def test_a_repeated_multi_output_block_and_model_outputs_read_each_output():
    model = _build("""
inputs: {x: {shape: [N, 6]}}
blocks:
  Pair:
    layers:
      - {name: fc, op: Linear, out_features: 6}
      - {name: act, op: Tanh}
    outputs: [act, fc]
layers:
  - {name: stack, block: Pair, repeat: 3}
outputs: {last: stack, pre: stack.2.fc, first_pre: stack.0.1}
""")

    class Pair(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act = nn.Linear(6, 6), nn.Tanh()

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.stack = nn.ModuleList([Pair() for _ in range(3)])

        def forward(self, x):
            pres = []
            for pair in self.stack:
                pres.append(pair.fc(x))
                x = pair.act(pres[-1])
            return x, pres[2], pres[0]

    x = torch.randn(2, 6)
    reference = Reference()
    reference.load_state_dict(model.state_dict(), strict=True)
    with torch.no_grad():
        got, want = model(x), reference(x)
    assert list(got) == ["last", "pre", "first_pre"]
    for key, value in zip(got, want, strict=True):
        assert torch.allclose(got[key], value)


def test_a_nested_sequence_declares_outputs():
    model = _build("""
inputs: {x: {shape: [N, 4]}}
layers:
  - name: enc
    layers:
      - {name: a, op: Linear, out_features: 5}
      - {name: b, op: ReLU}
      - {op: Linear, out_features: 3}
    outputs: {out: b, pre: a}
  - {op: cat, from: [enc, enc.pre, enc.1], dim: 1}
""")
    x = torch.randn(2, 4)
    with torch.no_grad():
        pre = model.enc.a(x)
        want = torch.cat([torch.relu(pre), pre, pre], dim=1)
        assert torch.allclose(model(x), want)
    assert [k for k, _ in model.state_dict().items()] == \
        ["enc.a.weight", "enc.a.bias", "enc.2.weight", "enc.2.bias"]


def test_a_block_may_return_its_input_among_its_outputs():
    model = _build("""
inputs: {x: {shape: [N, 4]}}
blocks:
  Keep:
    layers: [{name: fc, op: Linear, out_features: 4}]
    outputs: [fc, x]
layers:
  - {name: k, block: Keep}
  - {op: add, from: [k, k.x]}
""")
    x = torch.randn(2, 4)
    with torch.no_grad():
        assert torch.allclose(model(x), model.k.fc(x) + x)


def test_multi_output_misuse_is_located():
    base = """
inputs: {x: {shape: [N, 4]}}
blocks:
  B:
    layers: [{name: fc, op: Linear, out_features: 4}, {name: act, op: ReLU}]
    outputs: {out: act, pre: fc}
layers:
  - {name: b, block: B}
"""
    found = _problems(base + "  - {op: add, from: [b, b.prel]}\n")
    assert found[0][:2] == ("E201", 9) and "did you mean 'pre'" in \
        specc.check(base + "  - {op: add, from: [b, b.prel]}\n").diagnostics[0].hint
    bad_target = base.replace("pre: fc}", "pre: nope}")
    assert _problems(bad_target)[0][:2] == ("E201", 6)  # at the block's `outputs:` entry
    both = base.replace("    outputs:", "    output: fc\n    outputs:")
    assert _problems(both)[0][:2] == ("E207", 7)
    assert _problems(base.replace("{out: act, pre: fc}", "[]"))[0][0] == "E101"


# -- `from` chosen by an expression --------------------------------------------------------

class _WithFc(nn.Module):
    """A block instance holding one Linear(8, 8) named fc."""

    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)


def test_from_expressions_wire_each_copy_of_a_named_repeat():
    model = _build("""
inputs: {x: {shape: [N, 8]}}
blocks:
  Mix:
    inputs: [x, y]
    layers:
      - {name: fc, op: Linear, out_features: 8, from: x}
      - {op: add, from: [fc, y]}
layers:
  - {name: a, op: Linear, out_features: 8}
  - {name: b, op: Linear, out_features: 8, from: x}
  - {name: mix, block: Mix, repeat: 4, from: [a, "${'a' if i % 2 == 0 else 'b'}"]}
""")

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(8, 8), nn.Linear(8, 8)
            self.mix = nn.ModuleList([_WithFc() for _ in range(4)])

        def forward(self, x):
            a, b = self.a(x), self.b(x)
            y = a
            for i, mix in enumerate(self.mix):
                y = mix.fc(y) + (a if i % 2 == 0 else b)
            return y

    _same(model, Reference(), torch.randn(2, 8))


def test_from_expressions_in_a_spliced_repeat_and_from_a_block_param():
    model = _build("""
inputs: {x: {shape: [N, 8]}}
blocks:
  Gate:
    params: {skip_from_input: false}
    layers:
      - {name: fc, op: Linear, out_features: 8}
      - {op: add, from: [fc, "${'x' if skip_from_input else 'fc'}"]}
layers:
  - {name: a, op: Linear, out_features: 8}
  - {op: mul, repeat: 3, from: [a, "${None if i == 0 else 'a'}", "${'x' if i == 0 else None}"]}
  - {name: g1, block: Gate, skip_from_input: true}
  - {name: g2, block: Gate}
""")

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.g1, self.g2 = nn.Linear(8, 8), _WithFc(), _WithFc()

        def forward(self, x):
            a = self.a(x)
            y = a * x  # copy 0: [a, x]; copies 1, 2: [previous copy, a]
            y = y * a
            y = y * a
            y = self.g1.fc(y) + y
            h = self.g2.fc(y)
            return h + h

    _same(model, Reference(), torch.randn(2, 8))


def test_from_expression_misuse_is_located():
    base = "inputs: {x: {shape: [N, 8]}}\nlayers:\n  - {name: a, op: Linear, out_features: 8}\n"
    unknown = _problems(base + "  - {op: add, from: [a, \"${'nope'}\"]}\n")
    assert unknown[0][:2] == ("E201", 4) and "'nope'" in unknown[0][2]
    no_i = _problems(base + "  - {op: add, from: [a, \"${'a' if i else 'x'}\"]}\n")
    assert no_i[0][:2] == ("E207", 4) and "'i'" in no_i[0][2]
    wrong_type = _problems(base + "  - {op: add, from: [a, \"${1.5}\"]}\n")
    assert wrong_type[0][:2] == ("E104", 4)
    # a spec never runs code: attribute access is refused by the expression language
    attr = _problems(base + "  - {op: add, from: [a, \"${a.__class__}\"]}\n")
    assert attr[0][:2] == ("E207", 4)


# -- named inline blocks ------------------------------------------------------------------

def test_a_named_inline_block_is_read_from_outside_without_a_module_of_its_own():
    model = _build("""
inputs: {x: {shape: [N, 3, 16, 16]}}
blocks:
  Conv:
    params: {c: null}
    layers: [{op: Conv2d, out_channels: $c, kernel_size: 3, padding: 1}, ReLU]
layers:
  - name: features
    layers:
      - {name: low, block: Conv, inline: true, c: 8}               # features.0, .1
      - {op: MaxPool2d, kernel_size: 2}                             # features.2
      - {name: high, block: Conv, inline: true, repeat: 2, c: 8}   # features.3 … .6
      - {name: up, op: Upsample, scale_factor: 2, from: high}
      - {op: cat, from: [up, low], dim: 1}
outputs: [features, features.low, features.high]
""")

    class Reference(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1),
                nn.ReLU())
            self.features.add_module("up", nn.Upsample(scale_factor=2))

        def forward(self, x):
            f = self.features
            low = f[1](f[0](x))
            high = f[6](f[5](f[4](f[3](f[2](low)))))
            return torch.cat([f.up(high), low], dim=1), low, high

    _same(model, Reference(), torch.randn(2, 3, 16, 16))


def test_a_named_inline_block_reads_its_declared_outputs_and_honours_output():
    model = _build("""
inputs: {x: {shape: [N, 4]}}
blocks:
  Two:
    layers: [{name: fc, op: Linear, out_features: 4}, {name: act, op: Tanh}]
    outputs: {out: act, pre: fc}
  Pick:
    layers: [{name: first, op: Linear, out_features: 4}, {name: second, op: ReLU}]
    output: first
layers:
  - {name: t, block: Two, inline: true}
  - {op: Linear, out_features: 4}            # index 2: fc and act took 0 and 1
  - {op: add, from: [t.pre, 2]}
  - {name: p, block: Pick, inline: true}
  - {op: mul, from: [p, t]}
""")
    x = torch.randn(2, 4)
    with torch.no_grad():
        pre = model.fc(x)
        act = torch.tanh(pre)
        first = model.first(pre + getattr(model, "2")(act))
        assert torch.allclose(model(x), first * act)
    assert sorted(dict(model.named_children())) == ["2", "act", "fc", "first", "second"]


def test_named_inline_misuse_is_located():
    base = """
inputs: {x: {shape: [N, 4]}}
blocks:
  L: {layers: [{name: fc, op: Linear, out_features: 4}]}
layers:
  - {name: a, op: ReLU}
"""
    dup = _problems(base + "  - {name: a, block: L, inline: true}\n")
    assert dup[0][:2] == ("E202", 7)
    missing = _problems(base + "  - {name: t, block: L, inline: true}\n"
                        "  - {op: add, from: [t, t.nope]}\n")
    assert missing[0][:2] == ("E201", 8) and "inline block" in missing[0][2]
    reserved = _problems(base + "  - {name: forward, block: L, inline: true}\n")
    assert reserved[0][:2] == ("E203", 7)
    assert "E207" in codes(specc.check(
        base + "  - {name: t, block: L, inline: true, checkpoint: true}\n"))
