"""Masks on MultiheadAttention and the Transformer layers, against torch's own modules:
attn_mask, key_padding_mask and the is_causal hint reach forward as torch takes them."""
import pytest

import specc

torch = pytest.importorskip("torch")

SPEC = """
name: masked_encoder
inputs:
  x: {shape: [N, T, 8]}
  padding: {shape: [N, T], dtype: bool}      # True = padding, as torch's key_padding_mask
layers:
  - {name: position, op: positions, from: x}
  - {name: rows, op: unsqueeze, from: position, dim: 1}
  - {name: cols, op: unsqueeze, from: position, dim: 0}
  - {name: future, op: lt, from: [rows, cols]}           # [T, T]: True above the diagonal
  - {name: encoder, op: TransformerEncoderLayer, from: [x, future, padding], nhead: 2,
     dim_feedforward: 16, dropout: 0.0, batch_first: true, src_mask: true,
     src_key_padding_mask: true, is_causal: true}
  - {name: attn, op: MultiheadAttention, from: [encoder, padding, future], num_heads: 2,
     batch_first: true, key_padding_mask: true, attn_mask: true, is_causal: true}
outputs: [attn.out, attn.weights]
"""


def test_masks_reach_torch_modules_as_torch_takes_them():
    analysis = specc.check(SPEC)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    model = specc.build(SPEC).eval()
    encoder = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, batch_first=True).eval()
    attn = torch.nn.MultiheadAttention(8, 2, batch_first=True).eval()
    encoder.load_state_dict(model.encoder.state_dict())
    attn.load_state_dict(model.attn.state_dict())
    x = torch.randn(2, 5, 8)
    padding = torch.tensor([[False] * 5, [False] * 3 + [True] * 2])
    future = torch.nn.Transformer.generate_square_subsequent_mask(5).isinf()
    with torch.no_grad():
        h = encoder(x, src_mask=future, src_key_padding_mask=padding, is_causal=True)
        want, weights = attn(h, h, h, key_padding_mask=padding, attn_mask=future, is_causal=True)
        got, got_weights = model(x, padding)
    assert torch.allclose(got, want, atol=1e-6, equal_nan=True)
    assert torch.allclose(got_weights, weights, atol=1e-6, equal_nan=True)
    assert got_weights[1, :, 3:].abs().sum() == 0  # padded keys get no weight


def test_is_causal_without_its_mask_is_refused_as_torch_refuses_it():
    spec = SPEC.replace("src_mask: true,\n     ", "").replace("[x, future, padding]", "[x, padding]")
    errors = [d for d in specc.check(spec).diagnostics if d.severity == "error"]
    assert errors and "is_causal needs src_mask" in errors[0].message
