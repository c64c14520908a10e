"""Reading values inside nested sequences and block instances from outside (issue 13).

`check` accepted these and `build` crashed with `KeyError: Ref(...)`: a generated scope now
returns every value code outside reads, and receives every value its nested scopes read.
Each model is compared with the same computation written directly in torch."""
import pytest

import specc
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _build(text: str):
    analysis = specc.check(text)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    assert_matches_torch(analysis.graph, {"N": 2})
    return specc.build(text).eval()


def test_from_reads_a_node_inside_a_named_sequence():
    model = _build("""
inputs: {x: {shape: [N, 3, 16, 16]}}
layers:
  - name: encoder
    layers:
      - {name: conv1, op: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
      - {name: conv2, op: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}
      - {op: MaxPool2d, kernel_size: 2}
  - {name: up, op: Upsample, scale_factor: 2}
  - {op: cat, from: [encoder.conv2, up], dim: 1}
""")
    x = torch.randn(2, 3, 16, 16)
    enc = model.encoder
    skip = enc.conv2(enc.conv1(x))
    want = torch.cat([skip, F.interpolate(F.max_pool2d(skip, 2), scale_factor=2)], dim=1)
    with torch.no_grad():
        assert torch.allclose(model(x), want)


def test_outputs_name_a_node_inside_a_sequence_and_a_block():
    model = _build("""
inputs: {x: {shape: [N, 8]}}
blocks:
  mlp:
    layers:
      - {name: fc, op: Linear, out_features: 8}
      - name: inner
        layers: [{name: act, op: ReLU}, {op: Linear, out_features: 3}]
layers:
  - name: seq
    layers: [{name: a, op: Linear, out_features: 8}, {op: Tanh}]
  - {name: head, block: mlp}
outputs: [seq.a, head.fc, head.inner.act, head]
""")
    x = torch.randn(2, 8)
    with torch.no_grad():
        a, fc, act, head = model(x)
        assert torch.allclose(a, model.seq.a(x))
        assert torch.allclose(fc, model.head.fc(torch.tanh(a)))
        assert torch.allclose(act, torch.relu(fc))
        assert torch.allclose(head, getattr(model.head.inner, "1")(act))


def test_nested_sequence_in_a_block_reading_an_input_nothing_else_reads():
    model = _build("""
inputs: {x: {shape: [N, 4, 8, 8]}, y: {shape: [N, 4, 8, 8]}}
blocks:
  b:
    inputs: [x, y]
    layers:
      - name: s
        from: y
        layers:
          - {name: conv, op: Conv2d, from: x, out_channels: 4, kernel_size: 1}
layers:
  - {name: blk, block: b, from: [x, y]}
""")
    x, y = torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8)
    with torch.no_grad():
        assert torch.allclose(model(x, y), model.blk.s.conv(x))


def test_a_sequence_read_from_outside_is_no_longer_a_plain_sequential():
    """nn.Sequential can return one value only; a scope read from outside returns a tuple."""
    model = _build("""
inputs: {x: {shape: [N, 4]}}
layers:
  - name: enc
    layers: [{name: a, op: Linear, out_features: 4}, {op: ReLU}]
  - {op: add, from: [enc, enc.a]}
""")
    assert not isinstance(model.enc, torch.nn.Sequential)
    x = torch.randn(2, 4)
    with torch.no_grad():
        a = model.enc.a(x)
        assert torch.allclose(model(x), torch.relu(a) + a)
