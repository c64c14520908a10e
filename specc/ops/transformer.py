"""Today's transformer pieces: RMSNorm, rotary embeddings, positions, scaled dot-product
attention, and an attention module whose projections carry the names a checkpoint uses.

``Attention`` and ``RotaryEmbedding`` are not in torch.nn: their modules live in
specc/compile/runtime.py (``runtime_class``) and follow Hugging Face transformers'
semantics, which tests/test_hf_specs.py checks model by model.
"""
from __future__ import annotations

from specc import codes
from specc.dims import product
from specc.ops._util import norm_dim, numel
from specc.ops.base import (EmitCtx, InferCtx, Layout, LayoutCtx, OpDef, Param, Saved, SaveCtx,
                            register, saves_nothing)
from specc.ops.linear import linear_op, with_bias
from specc.ops.norm import elementwise_tensors
from specc.ops.ptypes import as_tuple
from specc.tensor import INT_DTYPES, BroadcastError, TensorType, broadcast_shapes


# -- RMSNorm ---------------------------------------------------------------------------
def _rms_norm(ctx: InferCtx):
    t = ctx.need_float()
    if t.rank == 0:
        ctx.fail(f"RMSNorm needs at least a 1-D input, got {t} (a 0-D tensor: a reduction "
                 "without dim?)")
    if ctx.attrs["normalized_shape"] is None:
        ctx.infer_attr("normalized_shape", t.shape[-1], "last dimension")  # refuses a symbol
        ctx.attrs["normalized_shape"] = [t.shape[-1]]
    shape = list(as_tuple(ctx.attrs["normalized_shape"], 1))
    if len(shape) > t.rank or list(t.shape[t.rank - len(shape):]) != shape:
        ctx.fail(f"RMSNorm: normalized_shape {shape} does not match the trailing dims of the "
                 f"input {t}", "normalized_shape", code="E302")
    return [t]


def _rms_norm_count(a: dict) -> int:
    n = product(as_tuple(a["normalized_shape"], 1))  # concrete: normalized_shape is ints
    if not a["elementwise_affine"]:
        return 0
    return n * 1


def _rms_norm_saves(ctx: SaveCtx) -> list:
    """torch's composite rms_norm (x · rsqrt(mean(x²) + eps) · weight), measured on the
    CPU: the input (upcast to float32 first in bfloat16/float16: that copy is what is
    kept), rsqrt per normalised row, and with a weight the normalised x, in float32
    for bfloat16/float16 (the weight is multiplied in float32)."""
    t = ctx.inputs[0]
    rows = numel(t.shape[:t.rank - len(as_tuple(ctx.attrs["normalized_shape"], 1))])
    items = []
    if ctx.grad[0]:
        items.append(Saved("new", numel=numel(t.shape), dtype=ctx.compute_dtype)
                     if ctx.low_precision else Saved("input", 0))
        items.append(Saved("new", numel=rows, dtype=ctx.compute_dtype))
    if ctx.attrs["elementwise_affine"]:
        items.append(Saved("new", numel=numel(t.shape), dtype=ctx.compute_dtype))
    return items


register(OpDef(
    "RMSNorm", "module",
    [Param("normalized_shape", "posints", inferred=True,
           doc="trailing dims to normalise (default: the last one)"),
     Param("eps", "optfloat", None, doc="null: the dtype's machine epsilon, as torch"),
     Param("elementwise_affine", "bool", True)],
    _rms_norm, doc="torch.nn.RMSNorm: x / sqrt(mean(x²) + eps) · weight. Hugging Face's "
                   "LlamaRMSNorm / Qwen2RMSNorm / MistralRMSNorm / T5LayerNorm (key `weight`).",
    category="norm", layout="features-last", keeps_shape=True, saves=_rms_norm_saves,
    parameter_input_dtypes="any",
    count_params=_rms_norm_count, tensors=elementwise_tensors))


# -- positions -------------------------------------------------------------------------
def _positions(ctx: InferCtx):
    t = ctx.inputs[0]
    if t.rank == 0:
        ctx.fail("positions needs an input with at least one dim")
    axis = norm_dim(ctx, ctx.attrs["dim"], t.rank)
    return [TensorType((t.shape[axis],), "int64")]


def _positions_code(ctx: EmitCtx) -> list[str]:
    a = ctx.attrs
    start = a["offset"]
    length = f"{ctx.args[0]}.size({a['dim']})"
    stop = length if start == 0 else f"{start} + {length}"
    return [f"{ctx.outs[0]} = torch.arange({start}, {stop}, device={ctx.args[0]}.device)"]


register(OpDef(
    "positions", "function",
    [Param("dim", "int", 1, doc="the input dim whose (symbolic) size is the length"),
     Param("offset", "int", 0, doc="the first position (e.g. tokens already in a cache)")],
    _positions, doc="torch.arange(offset, offset + x.size(dim)): int64 position ids over a "
                    "symbolic length (HF's default position_ids)",
    category="index", emit=_positions_code, encodes_position=True, saves=saves_nothing))


# -- rotary embeddings -----------------------------------------------------------------
def _rotary_dim(a: dict) -> int:
    return int(a["head_dim"] * a["partial_rotary_factor"])


def _rotary(ctx: InferCtx):
    t = ctx.inputs[0]
    if t.dtype not in INT_DTYPES:
        ctx.fail(f"RotaryEmbedding needs integer positions, got {t.dtype}", code="E305",
                 hint="feed it a `positions` node or an int64 position_ids input")
    if t.rank not in (1, 2):
        ctx.fail(f"RotaryEmbedding expects positions [T] or [N, T], got {t}")
    rot = _rotary_dim(ctx.attrs)
    if rot < 2 or rot % 2:
        ctx.fail(f"RotaryEmbedding: head_dim × partial_rotary_factor = {rot} must be a positive "
                 "even number", "partial_rotary_factor", code="E306")
    out = TensorType((*t.shape, rot), "float32")
    return [out, out]


register(OpDef(
    "RotaryEmbedding", "module",
    [Param("head_dim", "posint", doc="features per attention head"),
     Param("rope_theta", "float", 10000.0, doc="the frequency base (HF config.rope_theta)"),
     Param("partial_rotary_factor", "float", 1.0,
           doc="the share of each head's features that rotate (HF partial_rotary_factor)")],
    _rotary, doc="rotary position embeddings: positions [T] or [N, T] → cos, sin "
                 "[..., head_dim × partial_rotary_factor], HF's LlamaRotaryEmbedding "
                 "(inv_freq a non-persistent buffer). Feed both to Attention(rotary: half "
                 "or interleaved).",
    category="attention", outputs=("cos", "sin"), runtime_class="SpeccRotaryEmbedding",
    encodes_position=True,
    # its input is integer positions and its one buffer is not learned: nothing needs a
    # gradient, so autograd records nothing (Attention keeps cos and sin)
    saves=saves_nothing, buffers=lambda a: (_rotary_dim(a) // 2, 0),
    key_args=lambda a: f"θ={a['rope_theta']:g}"))


# -- scaled_dot_product_attention ------------------------------------------------------
def _flash_kernel(q: tuple, k: tuple, v: tuple, mask_grad: bool) -> bool:
    """Does torch's fused CPU kernel (_scaled_dot_product_flash_attention_for_cpu) run, or
    the composite math path, on inputs of these shapes? Fused: 4-D inputs of one batch,
    equal heads (or whole groups with enable_gqa, which infer has checked), one head size,
    and a mask that needs no gradient (measured; torch's use_flash_attention_cpp)."""
    return (len(q) == len(k) == len(v) == 4 and q[0] == k[0] == v[0]
            and k[1] == v[1] and q[-1] == k[-1] == v[-1] and not mask_grad)


def _sdpa_layouts(ctx: LayoutCtx) -> dict:
    """The fused kernel writes its output as [N, T, heads, E] and returns it transposed
    to [N, heads, T, E]: transposing back and flattening the heads is then free. The math
    path's last matmul is contiguous."""
    q, k, v = (layout.sizes for layout in ctx.inputs[:3])
    if not _flash_kernel(q, k, v, len(ctx.grad) == 4 and ctx.grad[3]):
        return {}
    batch, heads, length, features = ctx.outputs[0]
    return {0: Layout.contiguous((batch, length, heads, features)).permuted((0, 2, 1, 3))}


def _kernel_extras(ctx: SaveCtx, scores: tuple, mask: Saved | None) -> list:
    """What the fused attention kernel keeps besides q, k, v and its output: logsumexp
    per (batch, head, query) in float32 (float64 for a float64 model) and the additive
    mask. ``scores`` is the shape [.., T, S]."""
    lse = Saved("new", numel=numel(scores[:-1]),
                dtype="float64" if ctx.dtype == "float64" else "float32")
    return [lse] + ([mask] if mask is not None else [])


def _sdpa_saves(ctx: SaveCtx) -> list:
    q, k, v = ctx.inputs[:3]
    out = ctx.outputs[0]
    scores = (*out.shape[:-1], k.shape[-2])
    has_mask = len(ctx.inputs) == 4
    mask_grad = has_mask and ctx.grad[3]
    if _flash_kernel(q.shape, k.shape, v.shape, mask_grad):
        mask = None
        if has_mask:
            m = ctx.inputs[3]
            mask = Saved("input", 3) if m.is_float else Saved("new", numel=numel(m.shape))
        return [Saved("input", 0), Saved("input", 1), Saved("input", 2), Saved("output", 0),
                *_kernel_extras(ctx, scores, mask)]
    batch = numel(out.shape[:-2])
    same_v = list(v.shape[:-2]) == list(out.shape[:-2])  # not broadcast, not repeated
    return _math_saves(ctx, batch * q.shape[-2] * q.shape[-1], batch * k.shape[-2] * k.shape[-1],
                       numel(scores), Saved("input", 2) if same_v else None,
                       batch * v.shape[-2] * v.shape[-1], (*ctx.grad[:3], mask_grad))


def _math_saves(ctx: SaveCtx, q_numel, k_numel, scores_numel, v: Saved | None, v_numel,
                grads: tuple) -> list:
    """The math path (_scaled_dot_product_attention_math), in float32 for a bfloat16 or
    float16 model: softmax(q·√scale @ (k·√scale)ᵀ + mask) @ v over the broadcast batch
    (keys and values repeated for grouped heads). Each product keeps the operand the other
    one's gradient needs: the scaled q and k, the softmax, and v (``v``: its storage, or
    None when torch reads an expanded copy)."""
    q_grad, k_grad, v_grad, mask_grad = grads
    scores_grad = q_grad or k_grad or mask_grad
    dtype = ctx.compute_dtype
    items = []
    if k_grad:
        items.append(Saved("new", numel=q_numel, dtype=dtype))
    if q_grad:
        items.append(Saved("new", numel=k_numel, dtype=dtype))
    if scores_grad or v_grad:
        items.append(Saved("new", numel=scores_numel, dtype=dtype))
    if scores_grad:
        items.append(v if v is not None and not ctx.low_precision else
                     Saved("new", numel=v_numel, dtype=dtype))
    return items


def _sdpa(ctx: InferCtx):
    q, k, v = (ctx.need_float(i) for i in range(3))
    a = ctx.attrs
    if q.rank < 2 or k.rank != q.rank or v.rank != q.rank:
        ctx.fail(f"scaled_dot_product_attention: query {q}, key {k} and value {v} need the same "
                 "rank (≥ 2)")
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        ctx.fail(f"scaled_dot_product_attention: query {q} and key {k} need the same feature "
                 f"size, key and value {v} the same length", code="E302")
    q_batch, k_batch = list(q.shape[:-2]), list(k.shape[:-2])
    if a["enable_gqa"] and q.rank >= 3 and q_batch[-1] != k_batch[-1]:
        hq, hk = q_batch[-1], k_batch[-1]
        if isinstance(hq, int) and isinstance(hk, int) and hq % hk:
            ctx.fail(f"scaled_dot_product_attention: {hq} query heads are not a multiple of "
                     f"{hk} key/value heads", code="E306")
        k_batch[-1] = hq
    try:
        batch = broadcast_shapes(q_batch, k_batch, list(v.shape[:-2]) if not a["enable_gqa"]
                                 else k_batch)
    except BroadcastError as exc:
        ctx.fail(f"scaled_dot_product_attention: batch dims do not broadcast: {exc}")
    scores = (*batch, q.shape[-2], k.shape[-2])
    if len(ctx.inputs) == 4:
        if a["is_causal"]:
            ctx.fail("scaled_dot_product_attention: give attn_mask or is_causal, not both "
                     "(torch refuses both)", "is_causal")
        m = ctx.inputs[3]
        try:
            broadcast_shapes(m.shape, scores)
        except BroadcastError as exc:
            ctx.fail(f"scaled_dot_product_attention: attn_mask {m} does not broadcast to the "
                     f"scores {TensorType(scores)}: {exc}")
        if m.dtype != "bool" and not m.is_float:
            ctx.fail(f"scaled_dot_product_attention: attn_mask must be bool or float, got "
                     f"{m.dtype}", code="E305")
    return [TensorType((*batch, q.shape[-2], v.shape[-1]), q.dtype)]


def _sdpa_code(ctx: EmitCtx) -> list[str]:
    a = ctx.attrs
    args = ctx.args[:3] + ([f"attn_mask={ctx.args[3]}"] if len(ctx.args) == 4 else [])
    if a["is_causal"]:
        args.append("is_causal=True")
    if a["scale"] is not None:
        args.append(f"scale={a['scale']!r}")
    if a["enable_gqa"]:
        args.append("enable_gqa=True")
    return [f"{ctx.outs[0]} = nn.functional.scaled_dot_product_attention({', '.join(args)})"]


def _sdpa_macs(ctx: InferCtx, outs):
    q, v = ctx.inputs[0], ctx.inputs[2]
    rows = numel(outs[0].shape[:-1])  # every (batch, head, query) row
    return rows * v.shape[-2] * (q.shape[-1] + v.shape[-1])  # QKᵀ and (scores)V


def _sdpa_backward_macs(ctx: SaveCtx, _macs, _has_params: bool):
    """Each product pays once per operand that needs a gradient: scores = QKᵀ for dQ and
    dK; out = P·V for dV, and for dP when the scores need one (q, k or the mask do)."""
    q, v = ctx.inputs[0], ctx.inputs[2]
    rows = numel(ctx.outputs[0].shape[:-1])
    q_grad, k_grad, v_grad = ctx.grad[:3]
    scores_grad = q_grad or k_grad or (len(ctx.grad) == 4 and ctx.grad[3])
    return rows * v.shape[-2] * (q.shape[-1] * (int(q_grad) + int(k_grad))
                                 + v.shape[-1] * (int(scores_grad) + int(v_grad)))


register(OpDef(
    "scaled_dot_product_attention", "function",
    [Param("is_causal", "bool", False), Param("scale", "optfloat", None),
     Param("enable_gqa", "bool", False)],
    _sdpa, doc="torch.nn.functional.scaled_dot_product_attention(query, key, value "
               "[, attn_mask]); dropout is not applied (eval semantics)",
    category="attention", n_inputs=(3, 4), emit=_sdpa_code, macs=_sdpa_macs,
    layout="features-last", sequence_masks=("is_causal",), mask_input=3,
    key_input=lambda a: 1, saves=_sdpa_saves, layouts=_sdpa_layouts,
    backward_macs=_sdpa_backward_macs))


# -- Attention -------------------------------------------------------------------------
def _attention_sizes(a: dict) -> tuple[int, int, int]:
    """(query heads, key/value heads, head dim)."""
    heads = a["num_heads"]
    kv_heads = a["num_key_value_heads"] or heads
    return heads, kv_heads, a["head_dim"] or a["hidden_size"] // heads


def _input_roles(a: dict) -> list[str]:
    """What the inputs after the first are, in order."""
    roles = ["kv"] if a["cross"] else []
    if a["rotary"] != "none":
        roles += ["cos", "sin"]
    if a["mask"]:
        roles.append("attention_mask")
    if a["bias_input"]:
        roles.append("bias")
    return roles


def _attention(ctx: InferCtx):
    a = ctx.attrs
    x = ctx.need_float(0)
    if x.rank != 3:
        ctx.fail(f"Attention expects a 3-D input [N, T, hidden], got {x}")
    roles = _input_roles(a)
    if len(ctx.inputs) != 1 + len(roles):
        want = ", ".join(["x"] + roles)
        ctx.fail(f"Attention takes {1 + len(roles)} input(s) here ({want}): cross, rotary, mask "
                 f"and bias_input say which; got {len(ctx.inputs)}", code="E307")
    given = dict(zip(roles, ctx.inputs[1:]))
    ctx.infer_attr("hidden_size", x.shape[-1], "feature size")
    heads, kv_heads, head_dim = _attention_sizes(a)
    if a["head_dim"] is None and a["hidden_size"] % heads:
        ctx.fail(f"Attention: hidden_size={a['hidden_size']} must be divisible by "
                 f"num_heads={heads} (or give head_dim)", "num_heads",
                 code=codes.HEADS_NOT_DIVISIBLE)
    if heads % kv_heads:
        ctx.fail(f"Attention: num_heads={heads} must be a multiple of "
                 f"num_key_value_heads={kv_heads}", "num_key_value_heads", code="E306")
    source = given.get("kv", x)
    if source.rank != 3 or source.shape[0] != x.shape[0]:
        ctx.fail(f"Attention: the key/value input {source} must be [N, S, features] with the "
                 f"batch of {x}")
    if a["cross"]:
        ctx.infer_attr("kv_size", source.shape[-1], "key/value feature size")
    if a["rotary"] != "none" and a["cross"]:
        ctx.fail("Attention: rotary embeddings apply to self-attention, not cross-attention",
                 "rotary")
    if a["qkv_proj"] is not None and a["cross"]:
        ctx.fail("Attention: a fused qkv_proj reads one input; cross-attention needs separate "
                 "projections", "qkv_proj")
    length, kv_length = x.shape[1], source.shape[1]
    if "cos" in given:
        for role in ("cos", "sin"):
            t = given[role]
            rot = t.shape[-1] if t.rank else 0
            if t.rank not in (2, 3) or t.shape[-2] != length or (isinstance(rot, int) and (
                    rot > head_dim or rot % 2)):
                ctx.fail(f"Attention: {role} must be [T, rot] or [N, T, rot] with T = {length} "
                         f"and an even rot ≤ head_dim {head_dim}, got {t}")
    if "attention_mask" in given:
        m = given["attention_mask"]
        if m.rank != 2 or m.shape[0] != x.shape[0] or m.shape[1] != kv_length:
            ctx.fail(f"Attention: attention_mask must be [N, S] = [{x.shape[0]}, {kv_length}] "
                     f"(1 = attend, 0 = padding), got {m}")
    if "bias" in given:
        try:
            broadcast_shapes(given["bias"].shape, (x.shape[0], heads, length, kv_length))
        except BroadcastError as exc:
            ctx.fail(f"Attention: the bias input {given['bias']} does not broadcast to the "
                     f"scores [N, heads, T, S]: {exc}")
    out = (a["out_size"] or a["hidden_size"]) if a["o_proj"] is not None else heads * head_dim
    return [x.with_shape((x.shape[0], length, out))]


def _attention_count(a: dict) -> int:
    heads, kv_heads, head_dim = _attention_sizes(a)
    hidden, kv_size = a["hidden_size"], a["kv_size"] or a["hidden_size"]
    q_out, kv_out = heads * head_dim, kv_heads * head_dim
    total = hidden * q_out + 2 * kv_size * kv_out
    if a["bias"]:
        total += q_out + 2 * kv_out
    if a["o_proj"] is not None:
        out = a["out_size"] or hidden
        total += q_out * out
        if a["bias"] if a["o_bias"] is None else a["o_bias"]:
            total += out
    return total


def _attention_macs(ctx: InferCtx, _outs):
    a = ctx.attrs
    heads, kv_heads, head_dim = _attention_sizes(a)
    x = ctx.inputs[0]
    source = ctx.inputs[1] if a["cross"] else x
    q_rows, kv_rows = numel(x.shape[:2]), numel(source.shape[:2])
    kv_size = a["kv_size"] or a["hidden_size"]
    projections = q_rows * a["hidden_size"] * heads * head_dim \
        + 2 * kv_rows * kv_size * kv_heads * head_dim
    if a["o_proj"] is not None:
        projections = projections + q_rows * heads * head_dim * (a["out_size"] or
                                                                 a["hidden_size"])
    scores_and_values = 2 * q_rows * heads * source.shape[1] * head_dim
    return projections + scores_and_values


def _attention_saves(ctx: SaveCtx) -> list:
    """SpeccAttention's forward (specc/compile/runtime.py) in training, measured on the
    CPU: the projections keep their inputs, and the attention kernel what it keeps of
    q, k and v (see _sdpa_saves): the projections' outputs (one storage when fused)
    unless rotated (new q, k) or repeated for grouped heads (new k, v). The fused kernel
    also keeps its output: the node's own when there is no output projection (the
    kernel writes [N, T, heads, D], so the reshape for o_proj is a view of it)."""
    a = ctx.attrs
    roles = dict(zip(["x"] + _input_roles(a), range(len(ctx.inputs))))
    heads, kv_heads, head_dim = _attention_sizes(a)
    x = ctx.inputs[0]
    source = ctx.inputs[roles["kv"]] if a["cross"] else x
    n, length, kv_length = x.shape[0], x.shape[1], source.shape[1]
    q_size, kv_size = n * heads * length * head_dim, n * kv_heads * kv_length * head_dim
    repeated = n * heads * kv_length * head_dim
    scores = (n, heads, length, kv_length)
    rotary, grouped = a["rotary"] != "none", heads != kv_heads
    items = [Saved("input", 0)] + ([Saved("input", roles["kv"])] if a["cross"] else [])

    def projection(role: str) -> Saved:
        if a["qkv_proj"] is not None:
            return Saved("new", numel=q_size + 2 * kv_size, key="qkv")
        return Saved("new", numel=q_size if role == "q" else kv_size, key=role)

    q = Saved("new", numel=q_size, key="rotated q") if rotary else projection("q")
    k = Saved("new", numel=repeated, key="repeated k") if grouped else \
        Saved("new", numel=kv_size, key="rotated k") if rotary else projection("k")
    v = Saved("new", numel=repeated, key="repeated v") if grouped else projection("v")
    if a["rotary"] == "half":
        items += [Saved("input", roles["cos"]), Saved("input", roles["sin"])]
    elif rotary:  # interleaved: cos and sin repeated pairwise, for q and for k
        items += [Saved("new", numel=numel(ctx.inputs[roles["cos"]].shape))] * 4
    if rotary:  # x·cos + rotate(x)·sin keeps x and rotate(x) when cos, sin need gradients
        rot = ctx.inputs[roles["cos"]].shape[-1]
        for role, rows in (("q", n * heads * length), ("k", n * kv_heads * kv_length)):
            if ctx.grad[roles["cos"]]:
                items.append(projection(role))
            if ctx.grad[roles["sin"]]:
                items.append(Saved("new", numel=rows * rot))
    mask, mask_grad = _attention_mask_saved(ctx, roles, scores)
    if mask_grad:  # a learned bias: the math path, and a copy of the output for o_proj
        items += _math_saves(ctx, q_size, repeated, numel(scores), v, repeated, (True,) * 4)
        return items + ([Saved("new", numel=q_size)] if a["o_proj"] is not None else [])
    out = Saved("output", 0) if a["o_proj"] is None else Saved("new", numel=q_size)
    return items + [q, k, v, out, *_kernel_extras(ctx, scores, mask)]


def _attention_mask_saved(ctx: SaveCtx, roles: dict, scores: tuple) -> tuple:
    """(what the kernel keeps of the additive mask, does it need a gradient):
    SpeccAttention._bias makes causal / sliding-window [T, S] and padding [N, 1, 1, S]
    keeps one new bias in the activation dtype, and adds the bias input (kept as is
    when nothing is added to it and it already has the activation dtype)."""
    a = ctx.attrs
    shapes = []
    if a["causal"] or a["sliding_window"] is not None:
        shapes.append(scores[2:])
    if a["mask"]:
        shapes.append((scores[0], 1, 1, scores[3]))
    if not a["bias_input"]:
        return (Saved("new", numel=numel(broadcast_shapes(*shapes))) if shapes else None), False
    additive, grad = ctx.inputs[roles["bias"]], ctx.grad[roles["bias"]]
    if shapes:
        return Saved("new", numel=numel(broadcast_shapes(*shapes, additive.shape))), grad
    if additive.is_float:
        return Saved("input", roles["bias"]), grad
    return Saved("new", numel=numel(additive.shape)), grad


def _attention_tensors(a: dict) -> int:
    """Parameter tensors: a weight (and a bias) per projection."""
    per = 2 if a["bias"] else 1
    count = per * (1 if a["qkv_proj"] is not None else 3)
    if a["o_proj"] is not None:
        count += 2 if (a["bias"] if a["o_bias"] is None else a["o_bias"]) else 1
    return count


def _projection(name: str, default: str | None, what: str) -> Param:
    return Param(name, "optname", default, doc=f"submodule name of the {what} (null: none)")


register(OpDef(
    "Attention", "module",
    [Param("hidden_size", "posint", inferred=True, doc="input features (inferred)"),
     Param("num_heads", "posint", doc="query heads (HF num_attention_heads)"),
     Param("num_key_value_heads", "optpos", None,
           doc="key/value heads for grouped-query attention (default: num_heads)"),
     Param("head_dim", "optpos", None, doc="features per head (default hidden_size / heads)"),
     Param("kv_size", "optpos", None, doc="key/value input features for cross-attention "
                                          "(inferred)"),
     _projection("q_proj", "q_proj", "query projection"),
     _projection("k_proj", "k_proj", "key projection"),
     _projection("v_proj", "v_proj", "value projection"),
     _projection("o_proj", "o_proj", "output projection"),
     _projection("qkv_proj", None, "fused q/k/v projection (GPT-2's c_attn)"),
     Param("bias", "bool", False, doc="bias on the q/k/v projections"),
     Param("o_bias", "optbool", None, doc="bias on the output projection (default: bias)"),
     Param("layout", "str", "linear", choices=("linear", "conv1d"),
           doc="conv1d: HF GPT-2's Conv1D, weights stored [in, out]"),
     Param("scale", "optfloat", None, doc="score scale (default 1/sqrt(head_dim); T5: 1.0)"),
     Param("causal", "bool", False), Param("sliding_window", "optpos", None,
                                             doc="attend to the last N keys only (Mistral)"),
     Param("rotary", "str", "none", choices=("none", "half", "interleaved"),
           doc="rotary embeddings from cos, sin inputs: HF rotate_half or GPT-J interleaved"),
     Param("cross", "bool", False, doc="the second input is the key/value source"),
     Param("mask", "bool", False, doc="an attention_mask [N, S] input of 1/0 (padding)"),
     Param("bias_input", "bool", False,
           doc="an additive bias input broadcast to [N, heads, T, S] (T5's position bias)"),
     Param("out_size", "optpos", None, doc="output projection size (default hidden_size)")],
    _attention,
    doc="multi-head attention with projections named as a checkpoint names them (HF "
        "LlamaAttention: q_proj k_proj v_proj o_proj; BERT: query key value, o_proj: null; "
        "GPT-2: qkv_proj: c_attn, o_proj: c_proj, layout: conv1d). Inputs: x, then "
        "[kv] [cos, sin] [attention_mask] [bias] as cross/rotary/mask/bias_input say.",
    category="attention", n_inputs=(1, 6), count_params=_attention_count,
    macs=_attention_macs, runtime_class="SpeccAttention", saves=_attention_saves,
    param_tensors=_attention_tensors,
    # `mask` is a padding attention_mask [N, S]: only `causal` hides the future
    layout="features-last", sequence_masks=("causal",),
    key_input=lambda a: 1 if a["cross"] else None,
    key_args=lambda a: f"{a['num_heads']} heads"
    + (f", {a['num_key_value_heads']} kv" if a["num_key_value_heads"] else "")))



# -- HF GPT-2's Conv1D -----------------------------------------------------------------
linear_op("Conv1D", "Hugging Face GPT-2's Conv1D (transformers.pytorch_utils.Conv1D): a linear "
                    "layer whose weight is stored [in, out], so GPT-2 checkpoints load as "
                    "saved. Not a convolution.", runtime_class="SpeccConv1D",
          tensors=with_bias(lambda a: (a["in_features"], a["out_features"]), "out_features"))
