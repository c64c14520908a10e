"""Modules that torch.nn lacks, copied verbatim into generated code by the ops that use them.

An op declares ``runtime_class="SpeccAttention"``; codegen reads this file's text (without
importing it, so the check path never imports torch) and pastes that class, with the
classes of this file it names, into the generated source, which therefore still imports
only torch (a built model pickles by that source, an --emit-python file runs without specc).
The classes are ordinary Python, so tests can also import this file and use them directly.
This file is the one place such code lives: add a class here, not a source string on an op.

The semantics of LayerNorm2d and StochasticDepth are torchvision's, tested against copies of
torchvision's code in tests/test_ops_vs_torch.py; the others are Hugging Face transformers'
(LlamaAttention, LlamaRotaryEmbedding, GPT-2's Conv1D); tests/test_hf_specs.py compares whole
models against transformers.
"""
from __future__ import annotations

import torch
from torch import nn


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of an (N, C, H, W) tensor, as torchvision's ConvNeXt."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: randomly drops a residual branch in training."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, x):
        if self.p < 0.0 or self.p > 1.0:
            raise ValueError(f"drop probability has to be between 0 and 1, but got {self.p}")
        if self.mode not in ("batch", "row"):
            raise ValueError(f"mode has to be either 'batch' or 'row', but got {self.mode}")
        if not self.training or self.p == 0.0:
            return x
        survival_rate = 1.0 - self.p
        size = [x.shape[0]] + [1] * (x.ndim - 1) if self.mode == "row" else [1] * x.ndim
        noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival_rate)
        if survival_rate > 0.0:
            noise.div_(survival_rate)
        return x * noise

    def extra_repr(self):
        return f"p={self.p}, mode={self.mode}"


class SpeccConv1D(nn.Module):
    """HF GPT-2's Conv1D: a linear layer whose weight is stored [in, out]."""

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(in_features, out_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        nn.init.normal_(self.weight, std=0.02)

    def forward(self, x):
        out = torch.matmul(x, self.weight)
        return out if self.bias is None else out + self.bias


class SpeccRotaryEmbedding(nn.Module):
    """cos/sin tables of rotary position embeddings for the given positions (HF layout:
    the frequencies repeated as two halves). ``inv_freq`` is a non-persistent buffer, as
    in HF, so it is not in the state_dict."""

    def __init__(self, head_dim, rope_theta=10000.0, partial_rotary_factor=1.0):
        super().__init__()
        dim = int(head_dim * partial_rotary_factor)
        if dim < 2 or dim % 2:
            raise ValueError(f"the rotary dimension {dim} must be a positive even number")
        self.dim, self.rope_theta = dim, rope_theta
        self.register_buffer("inv_freq", self._inv_freq(), persistent=False)

    def _inv_freq(self):
        return 1.0 / (self.rope_theta ** (torch.arange(0, self.dim, 2, dtype=torch.int64)
                                          .to(torch.float) / self.dim))

    def reset_parameters(self):
        """Recompute the buffer (a module built on meta is allocated empty by to_empty)."""
        with torch.no_grad():
            self.inv_freq.copy_(self._inv_freq())

    def forward(self, positions):
        # computed in float32 whatever the build dtype, returned in the buffer's dtype
        freqs = positions[..., None].float() * self.inv_freq.float()
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos().to(self.inv_freq.dtype), emb.sin().to(self.inv_freq.dtype)


class SpeccAttention(nn.Module):
    """Multi-head attention with named projections, grouped-query heads, rotary
    embeddings, causal / sliding-window / padding masks and an additive bias.

    forward(x, [kv], [cos, sin], [attention_mask], [bias]) — which of the optional inputs
    come is fixed at construction (cross, rotary, mask, bias_input), in that order.
    """

    def __init__(self, hidden_size, num_heads, num_key_value_heads=None, head_dim=None,
                 kv_size=None, q_proj="q_proj", k_proj="k_proj", v_proj="v_proj",
                 o_proj="o_proj", qkv_proj=None, bias=False, o_bias=None, layout="linear",
                 scale=None, causal=False, sliding_window=None, rotary="none", cross=False,
                 mask=False, bias_input=False, out_size=None):
        super().__init__()
        if rotary != "none" and cross:
            raise ValueError("rotary embeddings apply to self-attention, not cross-attention")
        self.num_heads = num_heads
        self.num_kv = num_key_value_heads or num_heads
        self.head_dim = head_dim or hidden_size // num_heads
        self.scale = self.head_dim ** -0.5 if scale is None else scale
        self.causal, self.sliding_window = causal, sliding_window
        self.rotary, self.cross, self.mask, self.bias_input = rotary, cross, mask, bias_input
        self.names = (q_proj, k_proj, v_proj, o_proj, qkv_proj)
        layer = SpeccConv1D if layout == "conv1d" else nn.Linear
        kv_size = kv_size or hidden_size
        q_out, kv_out = num_heads * self.head_dim, self.num_kv * self.head_dim
        if qkv_proj is not None:
            self.add_module(qkv_proj, layer(hidden_size, q_out + 2 * kv_out, bias=bias))
        else:
            self.add_module(q_proj, layer(hidden_size, q_out, bias=bias))
            self.add_module(k_proj, layer(kv_size, kv_out, bias=bias))
            self.add_module(v_proj, layer(kv_size, kv_out, bias=bias))
        if o_proj is not None:
            self.add_module(o_proj, layer(q_out, out_size or hidden_size,
                                          bias=bias if o_bias is None else o_bias))

    @staticmethod
    def _rotate(x, cos, sin, interleaved):
        """Apply rotary embeddings to the first cos.size(-1) features of x [N, H, T, D]."""
        rot = cos.size(-1)
        if cos.dim() == 3:  # per-batch positions [N, T, rot] → broadcast over heads
            cos, sin = cos.unsqueeze(1), sin.unsqueeze(1)
        x_rot, x_pass = x[..., :rot], x[..., rot:]
        if interleaved:  # GPT-J / GLM layout: pairs (x0, x1), (x2, x3), ...
            cos = cos[..., : rot // 2].repeat_interleave(2, dim=-1)
            sin = sin[..., : rot // 2].repeat_interleave(2, dim=-1)
            rotated = torch.stack((-x_rot[..., 1::2], x_rot[..., ::2]), dim=-1).flatten(-2)
        else:  # HF rotate_half: halves (x[:rot/2], x[rot/2:])
            half = rot // 2
            rotated = torch.cat((-x_rot[..., half:], x_rot[..., :half]), dim=-1)
        out = x_rot * cos + rotated * sin
        return torch.cat((out, x_pass), dim=-1) if x_pass.size(-1) else out

    def _heads(self, x):
        # -1, not the configured count: under tensor parallelism a rank holds a slice of
        # the heads (ColwiseParallel shards the projection's output features)
        return x.view(x.size(0), x.size(1), -1, self.head_dim).transpose(1, 2)

    def forward(self, x, *extra):
        extra = list(extra)
        source = extra.pop(0) if self.cross else x
        cos, sin = (extra.pop(0), extra.pop(0)) if self.rotary != "none" else (None, None)
        padding = extra.pop(0) if self.mask else None
        additive = extra.pop(0) if self.bias_input else None
        q_name, k_name, v_name, o_name, qkv_name = self.names
        if qkv_name is not None:
            q_out, kv_out = self.num_heads * self.head_dim, self.num_kv * self.head_dim
            q, k, v = getattr(self, qkv_name)(x).split((q_out, kv_out, kv_out), dim=-1)
        else:
            q = getattr(self, q_name)(x)
            k, v = getattr(self, k_name)(source), getattr(self, v_name)(source)
        q, k, v = self._heads(q), self._heads(k), \
            self._heads(v)
        if cos is not None:
            interleaved = self.rotary == "interleaved"
            q = self._rotate(q, cos, sin, interleaved)
            k = self._rotate(k, cos, sin, interleaved)
        if self.num_kv != self.num_heads:
            k = k.repeat_interleave(self.num_heads // self.num_kv, dim=1)
            v = v.repeat_interleave(self.num_heads // self.num_kv, dim=1)
        bias = self._bias(q, k, padding, additive)
        out = nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias,
                                                         scale=self.scale)
        out = out.transpose(1, 2).reshape(x.size(0), x.size(1), -1)
        return out if o_name is None else getattr(self, o_name)(out)

    def _bias(self, q, k, padding, additive):
        """The additive attention bias: 0 where a query may attend, the dtype's minimum
        where it may not (as HF's eager attention), plus the bias input."""
        t, s = q.size(-2), k.size(-2)
        keep = None
        if self.causal or self.sliding_window is not None:
            q_pos = torch.arange(t, device=q.device)[:, None] + (s - t)
            k_pos = torch.arange(s, device=q.device)[None, :]
            keep = k_pos <= q_pos if self.causal else torch.ones(t, s, dtype=torch.bool,
                                                                  device=q.device)
            if self.sliding_window is not None:
                keep = keep & (k_pos > q_pos - self.sliding_window)
        if padding is not None:
            keys = padding[:, None, None, :].bool()
            keep = keys if keep is None else keep & keys
        bias = None
        if keep is not None:
            bias = torch.zeros(keep.shape, dtype=q.dtype, device=q.device)
            bias = bias.masked_fill(~keep, torch.finfo(q.dtype).min)
        if additive is not None:
            additive = additive.to(q.dtype)
            bias = additive if bias is None else bias + additive
        return bias


class SpeccWindows:
    """Swin's shifted windows, as torchvision's shifted_window_attention computes them
    (torchvision.models.swin_transformer): an [N, H, W, C] map is padded at the bottom and
    right to whole windows, rolled up and left by the shift, and cut into windows of
    window[0] x window[1] tokens; `merge` undoes it; `mask` is the additive attention mask
    that keeps a rolled window's tokens from attending across the seams the roll made.
    As torchvision, the shift is 0 on a dim whose padded size fits in one window."""

    @staticmethod
    def _padded(x, window, shift):
        """The padded height and width, and the shift that applies at that size."""
        height = x.size(1) + (-x.size(1)) % window[0]
        width = x.size(2) + (-x.size(2)) % window[1]
        return height, width, (0 if window[0] >= height else shift[0],
                               0 if window[1] >= width else shift[1])

    @staticmethod
    def partition(x, window, shift):
        """[N, H, W, C] -> [N * windows, window[0] * window[1], C], windows row by row."""
        height, width, shift = SpeccWindows._padded(x, window, shift)
        x = nn.functional.pad(x, (0, 0, 0, width - x.size(2), 0, height - x.size(1)))
        if shift != (0, 0):
            x = torch.roll(x, shifts=(-shift[0], -shift[1]), dims=(1, 2))
        x = x.view(x.size(0), height // window[0], window[0], width // window[1], window[1],
                   x.size(3))
        return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window[0] * window[1], x.size(5))

    @staticmethod
    def merge(windows, like, window, shift):
        """The inverse of partition: windows back to the [N, H, W, C] map of `like`."""
        height, width, shift = SpeccWindows._padded(like, window, shift)
        x = windows.view(like.size(0), height // window[0], width // window[1], window[0],
                         window[1], windows.size(-1))
        x = x.permute(0, 1, 3, 2, 4, 5).reshape(like.size(0), height, width, windows.size(-1))
        if shift != (0, 0):
            x = torch.roll(x, shifts=shift, dims=(1, 2))
        return x[:, :like.size(1), :like.size(2), :].contiguous()

    @staticmethod
    def mask(x, window, shift):
        """[windows, tokens, tokens] in x's dtype: -100 between two tokens of a window that
        the roll brought from different regions of the map, 0 elsewhere (all 0 unshifted).
        The regions along each dim: before the last window, the last window up to the
        shift, the shifted-in rest."""
        height, width, shift = SpeccWindows._padded(x, window, shift)
        rows = torch.arange(height, device=x.device)
        cols = torch.arange(width, device=x.device)
        row_region = (rows >= height - window[0]).long() + (rows >= height - shift[0]).long()
        col_region = (cols >= width - window[1]).long() + (cols >= width - shift[1]).long()
        region = row_region[:, None] * 3 + col_region[None, :]
        region = region.view(height // window[0], window[0], width // window[1], window[1])
        region = region.permute(0, 2, 1, 3).reshape(-1, window[0] * window[1])
        across = region.unsqueeze(1) != region.unsqueeze(2)
        return x.new_zeros(across.shape).masked_fill(across, -100.0)
