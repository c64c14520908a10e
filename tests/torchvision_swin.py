"""torchvision's shifted window attention (torchvision/models/swin_transformer.py, 0.29:
`shifted_window_attention` and `ShiftedWindowAttention`), retyped step for step because
torchvision does not load with this CPU torch build. The oracle for specc's window ops
(tests/test_ops_vs_torch.py) and for swin_t's attention blocks
(tests/test_specs_torchvision_2.py). Deliberately the reference's own steps (the slice
loop for the mask, view/permute for the windows), not specc's runtime code."""
from __future__ import annotations

import torch
import torch.nn.functional as F


def pad_and_shift(x, window, shift):
    """Pad [N, H, W, C] at the bottom/right to whole windows; the shift is 0 on a dim whose
    padded size fits in one window."""
    _, height, width, _ = x.shape  # torchvision: B, H, W, C = input.shape
    pad_right = (window[1] - width % window[1]) % window[1]
    pad_bottom = (window[0] - height % window[0]) % window[0]
    x = F.pad(x, (0, 0, 0, pad_right, 0, pad_bottom))
    shift = list(shift)
    if window[0] >= x.shape[1]:
        shift[0] = 0
    if window[1] >= x.shape[2]:
        shift[1] = 0
    return x, shift


def partition(x, window, shift):
    x, shift = pad_and_shift(x, window, shift)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
    n, height, width, channels = x.shape
    x = x.view(n, height // window[0], window[0], width // window[1], window[1], channels)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window[0] * window[1], channels)


def attention_mask(x, window, shift):
    """[windows, t, t]: the region of each position of the padded map, by torchvision's
    three slices per dim (later slices overwrite earlier ones), then -100 across regions."""
    padded, shift = pad_and_shift(x, window, shift)
    height, width = padded.shape[1], padded.shape[2]
    region = padded.new_zeros((height, width))
    rows = ((0, -window[0]), (-window[0], -shift[0]), (-shift[0], None))
    cols = ((0, -window[1]), (-window[1], -shift[1]), (-shift[1], None))
    count = 0
    for r in rows:
        for c in cols:
            region[r[0]:r[1], c[0]:c[1]] = count
            count += 1
    region = region.view(height // window[0], window[0], width // window[1], window[1])
    region = region.permute(0, 2, 1, 3).reshape(-1, window[0] * window[1])
    diff = region.unsqueeze(1) - region.unsqueeze(2)
    return diff.masked_fill(diff != 0, -100.0).masked_fill(diff == 0, 0.0)


def merge(windows, like, window, shift):
    padded, shift = pad_and_shift(like, window, shift)
    n, height, width, _ = padded.shape
    channels = windows.shape[-1]
    x = windows.view(n, height // window[0], width // window[1], window[0], window[1],
                     channels)
    x = x.permute(0, 1, 3, 2, 4, 5).reshape(n, height, width, channels)
    if sum(shift) > 0:
        x = torch.roll(x, shifts=(shift[0], shift[1]), dims=(1, 2))
    return x[:, :like.shape[1], :like.shape[2], :].contiguous()


def relative_position_index(window):
    """The buffer ShiftedWindowAttention registers: for each (query, key) pair of a window,
    the row of the bias table of their relative offset."""
    coords = torch.stack(torch.meshgrid(torch.arange(window[0]), torch.arange(window[1]),
                                        indexing="ij")).flatten(1)
    relative = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
    relative[:, :, 0] += window[0] - 1
    relative[:, :, 1] += window[1] - 1
    relative[:, :, 0] *= 2 * window[1] - 1
    return relative.sum(-1).flatten()


def shifted_window_attention(x, attn, window, shift, heads):
    """ShiftedWindowAttention.forward with the weights of `attn` (a module holding qkv,
    proj, relative_position_bias_table and relative_position_index)."""
    tokens = window[0] * window[1]
    bias = attn.relative_position_bias_table[attn.relative_position_index]
    bias = bias.view(tokens, tokens, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
    channels = x.shape[-1]
    _, effective = pad_and_shift(x, window, shift)
    windows = partition(x, window, shift)
    qkv = F.linear(windows, attn.qkv.weight, attn.qkv.bias)
    qkv = qkv.reshape(windows.size(0), tokens, 3, heads, channels // heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    q = q * (channels // heads) ** -0.5
    scores = q.matmul(k.transpose(-2, -1)) + bias
    if sum(effective) > 0:
        mask = attention_mask(x, window, shift)
        count = mask.size(0)
        scores = scores.view(windows.size(0) // count, count, heads, tokens, tokens)
        scores = (scores + mask.unsqueeze(1).unsqueeze(0)).view(-1, heads, tokens, tokens)
    out = F.softmax(scores, dim=-1).matmul(v).transpose(1, 2).reshape(windows.size(0), tokens,
                                                                       channels)
    out = F.linear(out, attn.proj.weight, attn.proj.bias)
    return merge(out, x, window, shift)


def _layer_norm(x, norm):
    return F.layer_norm(x, norm.normalized_shape, norm.weight, norm.bias, norm.eps)


def patch_merging(x, merging):
    """PatchMerging.forward (the map's sizes are even here: no padding)."""
    x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :],
                   x[..., 1::2, 1::2, :]], -1)
    return F.linear(_layer_norm(x, merging.norm), merging.reduction.weight)


def swin_t_forward(model, x, window=(7, 7), depths=(2, 2, 6, 2), heads=(3, 6, 12, 24)):
    """SwinTransformer.forward in eval (stochastic depth and dropouts are identities), with
    the weights of `model`, a module laid out as torchvision's swin_t (features.0 the stem,
    features.1/3/5/7 the stages, features.2/4/6 the patch mergings, norm, head)."""
    module = model.get_submodule
    conv = module("features.0.0")
    x = F.conv2d(x, conv.weight, conv.bias, stride=4).permute(0, 2, 3, 1)
    x = _layer_norm(x, module("features.0.2"))
    for stage in range(4):
        for i in range(depths[stage]):
            block = module(f"features.{2 * stage + 1}.{i}")
            shift = [0, 0] if i % 2 == 0 else [w // 2 for w in window]
            x = x + shifted_window_attention(_layer_norm(x, block.norm1), block.attn, window,
                                             shift, heads[stage])
            up, down = block.get_submodule("mlp.0"), block.get_submodule("mlp.3")
            hidden = F.gelu(F.linear(_layer_norm(x, block.norm2), up.weight, up.bias))
            x = x + F.linear(hidden, down.weight, down.bias)
        if stage < 3:
            x = patch_merging(x, module(f"features.{2 * stage + 2}"))
    x = _layer_norm(x, model.norm).permute(0, 3, 1, 2)
    x = F.adaptive_avg_pool2d(x, 1).flatten(1)
    return F.linear(x, model.head.weight, model.head.bias)
