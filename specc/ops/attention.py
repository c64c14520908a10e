"""MultiheadAttention and the Transformer encoder/decoder layers."""
from __future__ import annotations

from specc import codes
from specc.ops._util import numel
from specc.ops.activation import check_dropout
from specc.tensor import HALF_DTYPES
from specc.ops.base import EmitCtx, InferCtx, OpDef, Param, Saved, SaveCtx, register


def _seq_batch(ctx: InferCtx, t, batch_first: bool, what: str):
    """(length, batch, features) of a (L, N, E) / (N, L, E) / unbatched (L, E) input."""
    if t.rank not in (2, 3):
        ctx.fail(f"{ctx.op.name}: {what} must be 3-D ({'N, L' if batch_first else 'L, N'}, E) "
                 f"or 2-D (L, E), got {t}")
    return _layout(t, batch_first)


def _layout(t, batch_first: bool):
    """_seq_batch of an input inference has already checked (the memory analysis)."""
    if t.rank == 2:
        return t.shape[0], None, t.shape[1]
    if batch_first:
        return t.shape[1], t.shape[0], t.shape[2]
    return t.shape[0], t.shape[1], t.shape[2]


def _check_heads(ctx: InferCtx, embed: str, heads: str) -> None:
    e, h = ctx.attrs[embed], ctx.attrs[heads]
    if e % h:
        ctx.fail(f"{ctx.op.name}: {embed}={e} must be divisible by {heads}={h}", heads,
                 code=codes.HEADS_NOT_DIVISIBLE)
    check_dropout(ctx)


# Masks are forward arguments in torch; a spec says which ones come (as flags named like
# torch's arguments) and gives them as inputs after the tensors, in this order.
_MASKS = {
    "MultiheadAttention": (("key_padding_mask", None), ("attn_mask", "is_causal")),
    "TransformerEncoderLayer": (("src_mask", "is_causal"), ("src_key_padding_mask", None)),
    "TransformerDecoderLayer": (("tgt_mask", "tgt_is_causal"), ("memory_mask", "memory_is_causal"),
                                ("tgt_key_padding_mask", None),
                                ("memory_key_padding_mask", None)),
}


def _mask_params(op: str) -> list[Param]:
    params = []
    for mask, causal in _MASKS[op]:
        params.append(Param(mask, "bool", False, to_torch=False,
                            doc=f"an input gives forward's {mask} (bool: True = masked, or "
                                "float: added to the scores)"))
        if causal:
            params.append(Param(causal, "bool", False, to_torch=False,
                                doc=f"forward's {causal} hint: {mask} is the causal mask "
                                    f"(torch requires {mask} with it)"))
    return params


def _masks_given(ctx: InferCtx, n_tensors_min: int) -> tuple[list, dict]:
    """Split the inputs into the tensors and {mask name: type}; check the causal hints."""
    names = [mask for mask, _ in _MASKS[ctx.op.name] if ctx.attrs[mask]]
    tensors = ctx.inputs[:len(ctx.inputs) - len(names)]
    if len(tensors) < n_tensors_min:
        ctx.fail(f"{ctx.op.name}: inputs are the tensors, then {', '.join(names)}; got "
                 f"{len(ctx.inputs)} input(s)", code="E307")
    masks = dict(zip(names, ctx.inputs[len(tensors):]))
    for mask, causal in _MASKS[ctx.op.name]:
        if causal and ctx.attrs[causal] and not ctx.attrs[mask]:
            ctx.fail(f"{ctx.op.name}: {causal} needs {mask} (torch: \"Need attn_mask if "
                     "specifying the is_causal hint\")", causal,
                     hint=f"give {mask}: true and the mask as an input, e.g. from a "
                          "`lt` of two `positions`")
    for name, t in masks.items():
        if t.dtype != "bool" and not t.is_float:
            ctx.fail(f"{ctx.op.name}: {name} must be bool or float, got {t.dtype}", code="E305",
                     hint="compare it first, e.g. {op: eq, other: 0}")
    return tensors, masks


def _check_mask(ctx: InferCtx, name: str, t, allowed: list[tuple]) -> None:
    if tuple(t.shape) not in [tuple(s) for s in allowed]:
        want = " or ".join("[" + ", ".join(str(d) for d in s) + "]" for s in allowed)
        ctx.fail(f"{ctx.op.name}: {name} must be {want}, got {t}")


def _mask_code(op: str, ctx: EmitCtx) -> tuple[list[str], str]:
    """(the tensor arguments, `, mask=input, hint=True` for the masks the node has)."""
    a = ctx.attrs
    names = [mask for mask, _ in _MASKS[op] if a[mask]]
    tensors = ctx.args[:len(ctx.args) - len(names)]
    parts = [f", {mask}={arg}" for mask, arg in zip(names, ctx.args[len(tensors):])]
    parts += [f", {causal}=True" for _, causal in _MASKS[op] if causal and a[causal]]
    return tensors, "".join(parts)


def _mha(ctx: InferCtx):
    tensors, masks = _masks_given(ctx, 1)
    for i in range(len(tensors)):
        ctx.need_float(i)
    q = ctx.inputs[0]
    k = tensors[1] if len(tensors) > 1 else q
    v = tensors[2] if len(tensors) > 2 else k
    a, bf = ctx.attrs, ctx.attrs["batch_first"]
    lq, nq, eq = _seq_batch(ctx, q, bf, "query")
    lk, nk, ek = _seq_batch(ctx, k, bf, "key")
    lv, nv, ev = _seq_batch(ctx, v, bf, "value")
    ctx.infer_attr("embed_dim", eq, "query feature size")
    _check_heads(ctx, "embed_dim", "num_heads")
    if a["kdim"] is None and ek != a["embed_dim"]:
        ctx.infer_attr("kdim", ek, "key feature size")
    if a["vdim"] is None and ev != a["embed_dim"]:
        ctx.infer_attr("vdim", ev, "value feature size")
    if ek != (a["kdim"] or a["embed_dim"]) or ev != (a["vdim"] or a["embed_dim"]):
        ctx.fail(f"MultiheadAttention: key/value feature sizes {ek}/{ev} do not match kdim/vdim",
                 code=codes.SIZE_DISAGREES)
    if lk != lv or not (nq == nk == nv):
        ctx.fail(f"MultiheadAttention: query {q}, key {k} and value {v} disagree on batch or "
                 "key/value length", code=codes.SHAPE_MISMATCH)
    if "key_padding_mask" in masks:
        _check_mask(ctx, "key_padding_mask", masks["key_padding_mask"],
                    [(lk,)] if nq is None else [(nq, lk)])
    if "attn_mask" in masks:
        heads = a["num_heads"]
        _check_mask(ctx, "attn_mask", masks["attn_mask"],
                    [(lq, lk), (heads, lq, lk)] if nq is None else [(lq, lk), (nq * heads, lq, lk)])
    # add_bias_kv appends one learned key, add_zero_attn one zero key: the weights see both
    keys = lk + _extra_keys(a)
    weights = (lq, keys) if nq is None else (nq, lq, keys)
    return [q, q.with_shape(weights)]


def _extra_keys(a: dict) -> int:
    return int(bool(a["add_bias_kv"])) + int(bool(a["add_zero_attn"]))


def _tensor_inputs(ctx: InferCtx) -> list:
    """The inputs that are tensors to attend over (the masks come after them)."""
    n_masks = sum(bool(ctx.attrs[mask]) for mask, _ in _MASKS[ctx.op.name])
    return ctx.inputs[:len(ctx.inputs) - n_masks]


def _mha_count(a: dict) -> int:
    e = a["embed_dim"]
    kd, vd = a["kdim"] or e, a["vdim"] or e
    total = e * e + e * kd + e * vd + e * e  # q, k, v and output projections
    if a["bias"]:
        total += 3 * e + e
    if a["add_bias_kv"]:
        total += 2 * e
    return total


def _mha_macs(ctx: InferCtx, _outs):
    a, q = ctx.attrs, ctx.inputs[0]
    tensors = _tensor_inputs(ctx)
    k = tensors[1] if len(tensors) > 1 else q
    e = a["embed_dim"]
    kd, vd = a["kdim"] or e, a["vdim"] or e
    kv_rows = numel(k.shape[:-1])
    q_rows = numel(q.shape[:-1])
    lk = k.shape[0] if k.rank == 2 else (k.shape[1] if a["batch_first"] else k.shape[0])
    lk = lk + _extra_keys(a)
    projections = q_rows * e * e + kv_rows * e * (kd + vd) + q_rows * e * e
    attention = 2 * q_rows * lk * e  # QKᵀ and AV
    return projections + attention


def _attention_sizes(x, heads: int, batch_first: bool):
    """(tokens L·N, length L, attention scores N·H·L·L) of a self-attention over x."""
    length, batch, _ = _layout(x, batch_first)
    samples = 1 if batch is None else batch
    return length * samples, length, samples * heads * length * length


def _mha_saves(ctx: SaveCtx) -> list:
    """Measured on torch's MultiheadAttention in training (need_weights=True, as the
    generated forward calls it). Self-attention (one input): the packed q/k/v (3·L·N·E),
    the scaled q, the attention output (L·N·E each), the softmax (N·H·L·S; dropout adds
    its mask and result) and the input (a transposed copy when batch_first); the
    weights it saves are views of the parameters."""
    a, q = ctx.attrs, ctx.inputs[0]
    e = a["embed_dim"]
    # the masks (the last inputs) are added to the scores by baddbmm, which keeps neither
    n_tensors = len(ctx.inputs) - sum(bool(a[mask]) for mask, _ in _MASKS[
        "MultiheadAttention"])
    tokens, _, scores = _attention_sizes(q, a["num_heads"], a["batch_first"])
    attention = [Saved("new", numel=scores)] * (3 if a["dropout"] > 0 else 1)
    if n_tensors == 1:
        source = Saved("new", numel=tokens * e) if a["batch_first"] and q.rank == 3 \
            else Saved("input", 0)
        return [source, Saved("new", numel=5 * tokens * e)] + attention
    # separate key/value: the three inputs, and q, k, v and the output per token; the
    # scores are L·S per head
    kv_tokens = numel(ctx.inputs[1].shape[:-1])
    kv_length = _layout(ctx.inputs[1], a["batch_first"])[0]
    cross = [Saved("new", numel=scores // _attention_sizes(q, 1, a["batch_first"])[1]
                   * kv_length)] * (3 if a["dropout"] > 0 else 1)
    return [Saved("input", i) for i in range(n_tensors)] + [
        Saved("new", numel=2 * tokens * e + 2 * kv_tokens * e)] + cross


def _mha_emit(ctx: EmitCtx) -> list[str]:
    tensors, masks = _mask_code("MultiheadAttention", ctx)
    q = tensors[0]
    k = tensors[1] if len(tensors) > 1 else q
    v = tensors[2] if len(tensors) > 2 else k
    return [f"{ctx.outs[0]}, {ctx.outs[1]} = {ctx.module}({q}, {k}, {v}{masks})"]


register(OpDef(
    "MultiheadAttention", "module",
    [Param("embed_dim", "posint", inferred=True), Param("num_heads", "posint"),
     Param("dropout", "float", 0.0), Param("bias", "bool", True),
     Param("add_bias_kv", "bool", False), Param("add_zero_attn", "bool", False),
     Param("kdim", "optpos", None), Param("vdim", "optpos", None),
     Param("batch_first", "bool", False), *_mask_params("MultiheadAttention")],
    _mha, doc="torch.nn.MultiheadAttention. Inputs: query [, key [, value]] (one input = "
              "self-attention), then key_padding_mask and attn_mask when those flags are "
              "true. Outputs: out, weights.",
    category="attention", n_inputs=(1, 5), outputs=("out", "weights"),
    layout="features-last", sequence_masks=("attn_mask", "is_causal"), key_input=lambda a: 1,
    count_params=_mha_count, macs=_mha_macs, emit=_mha_emit,
    key_args=lambda a: f"{a['num_heads']} heads", saves=_mha_saves,
    param_tensors=lambda a: 2 + (2 if a["bias"] else 0) + (2 if a["add_bias_kv"] else 0)
    + (2 if a["kdim"] not in (None, a["embed_dim"]) or a["vdim"] not in (None, a["embed_dim"])
       else 0)))


def _layer_params() -> list[Param]:
    return [Param("d_model", "posint", inferred=True), Param("nhead", "posint"),
            Param("dim_feedforward", "posint", 2048), Param("dropout", "float", 0.1),
            Param("activation", "str", "relu", choices=("relu", "gelu")),
            Param("layer_norm_eps", "float", 1e-5), Param("batch_first", "bool", False),
            Param("norm_first", "bool", False), Param("bias", "bool", True)]


def _transformer(decoder: bool):
    def infer(ctx: InferCtx):
        tensors, masks = _masks_given(ctx, 2 if decoder else 1)
        if len(tensors) != (2 if decoder else 1):
            ctx.fail(f"{ctx.op.name} takes {'tgt, memory' if decoder else 'src'} and then its "
                     f"masks; got {len(ctx.inputs)} input(s)", code="E307")
        x = ctx.need_float(0)
        bf = ctx.attrs["batch_first"]
        length, batch, e = _seq_batch(ctx, x, bf, "input")
        ctx.infer_attr("d_model", e, "feature size")
        _check_heads(ctx, "d_model", "nhead")
        m_length = length
        if decoder:
            memory = ctx.need_float(1)
            m_length, _, em = _seq_batch(ctx, memory, bf, "memory")
            if em != e:
                ctx.fail(f"TransformerDecoderLayer: memory features {em} ≠ d_model {e}",
                         code=codes.SIZE_DISAGREES)
        heads = ctx.attrs["nhead"]
        for name, t in masks.items():
            keys = m_length if name.startswith("memory") else length
            allowed: list[tuple]
            if name.endswith("key_padding_mask"):
                allowed = [(keys,)] if batch is None else [(batch, keys)]
            else:
                allowed = [(length, keys)] + ([(heads, length, keys)] if batch is None
                                              else [(batch * heads, length, keys)])
            _check_mask(ctx, name, t, allowed)
        return [x]
    return infer


def _transformer_emit(op: str):
    def emit(ctx: EmitCtx) -> list[str]:
        tensors, masks = _mask_code(op, ctx)
        return [f"{ctx.outs[0]} = {ctx.module}({', '.join(tensors)}{masks})"]
    return emit


def _memory_input(decoder: bool):
    """``key_input``: a decoder layer's keys are its memory (input 1)."""
    return lambda a: 1 if decoder else None


def _transformer_tensor_count(decoder: bool):
    """Parameter tensors of an encoder (12) or decoder (18) layer; half without biases."""
    return lambda a: (18 if decoder else 12) if a["bias"] else (9 if decoder else 6)


def _transformer_count(decoder: bool):
    def count(a: dict) -> int:
        e, f, b = a["d_model"], a["dim_feedforward"], a["bias"]
        attn = 4 * e * e + (4 * e if b else 0)
        ffn = 2 * e * f + ((f + e) if b else 0)
        norms = (3 if decoder else 2) * (2 * e if b else e)
        return attn * (2 if decoder else 1) + ffn + norms
    return count


def _transformer_macs(decoder: bool):
    def macs(ctx: InferCtx, _outs):
        a, x = ctx.attrs, ctx.inputs[0]
        e, f = a["d_model"], a["dim_feedforward"]
        rows = numel(x.shape[:-1])
        length = x.shape[0] if x.rank == 2 else (x.shape[1] if a["batch_first"] else x.shape[0])
        total = rows * (4 * e * e + 2 * e * f) + 2 * rows * length * e
        if decoder:
            m = _tensor_inputs(ctx)[1]
            m_rows = numel(m.shape[:-1])
            m_len = m.shape[0] if m.rank == 2 else (m.shape[1] if a["batch_first"] else m.shape[0])
            total = total + rows * 2 * e * e + m_rows * 2 * e * e + 2 * rows * m_len * e
        return total
    return macs


def _mask_saves(ctx: SaveCtx, op: str, block: int, length: int, keys, heads: int) -> list:
    """The attention mask the fused SDPA kernel keeps in one attention block of a
    transformer layer (F.multi_head_attention_forward, need_weights=False): its masks
    become float masks in the model's dtype (a float one is kept as given, a bool one is
    a new tensor); a key padding mask [N, S] is viewed [N, H, 1, S], which folds to
    [N·H, 1, S] without a copy only for one sample or one head; with both masks, their
    sum [N·H, L, S] is new. The causal hint without a padding mask drops the mask
    (SDPA's is_causal). ``block``: which (mask, causal, padding) of _MASKS[op]; a float
    mask that needs a gradient sends SDPA down the math path, which these rules do not
    model."""
    a = ctx.attrs
    given = [mask for mask, _ in _MASKS[op] if a[mask]]
    first = len(ctx.inputs) - len(given)
    index = {mask: first + i for i, mask in enumerate(given)}
    (mask, causal), (padding, _) = _MASKS[op][block], _MASKS[op][block + len(_MASKS[op]) // 2]
    x = ctx.inputs[0]
    batch = 1 if x.rank == 2 else x.shape[0 if a["batch_first"] else 1]
    if not a[padding]:
        if not a[mask] or a[causal]:
            return []
        return [Saved("input", index[mask]) if ctx.inputs[index[mask]].is_float
                else Saved("new", numel=length * keys)]
    if not a[mask]:
        folds = batch == 1 or heads == 1
        if folds and ctx.inputs[index[padding]].is_float:
            return [Saved("input", index[padding])]
        return [Saved("new", numel=batch * (1 if folds else heads) * keys)]
    return [Saved("new", numel=batch * heads * length * keys)]


def _encoder_saves(ctx: SaveCtx) -> list:
    """Measured on TransformerEncoderLayer in training (either norm order, batch_first or
    not). With dropout, attention runs the math path: 12 tensors of L·N·E (the input
    among them), three of N·H·L·L (scores, mask, dropped), three of L·N·F and the two
    LayerNorms' mean/rstd (4·L·N). Without dropout the fused SDPA kernel keeps only
    the log-sum-exp (N·H·L) instead of the scores, 8 of L·N·E and one L·N·F (two with
    gelu, which saves its input)."""
    a, x = ctx.attrs, ctx.inputs[0]
    e, f = a["d_model"], a["dim_feedforward"]
    tokens, _, scores = _attention_sizes(x, a["nhead"], a["batch_first"])
    if a["dropout"] > 0 and ctx.dtype in HALF_DTYPES:
        # the math path upcasts: q, k, v and the three score tensors are kept in fp32
        return [Saved("input", 0), Saved("new", numel=6 * tokens * e + 3 * tokens * f
                                         + 4 * tokens),
                Saved("new", numel=3 * tokens * e + 3 * scores, dtype="float32")]
    if a["dropout"] > 0:
        rest = 11 * tokens * e + 3 * scores + 3 * tokens * f + 4 * tokens
        return [Saved("input", 0), Saved("new", numel=rest)]
    ffn = (2 if a["activation"] == "gelu" else 1) * tokens * f
    length = _attention_sizes(x, 1, a["batch_first"])[1]
    return [Saved("input", 0), Saved("new", numel=7 * tokens * e + ffn + 4 * tokens),
            Saved("new", numel=tokens * a["nhead"], dtype="float32"),  # log-sum-exp
            *_mask_saves(ctx, "TransformerEncoderLayer", 0, length, length, a["nhead"])]


def _decoder_saves(ctx: SaveCtx) -> list:
    """Measured on TransformerDecoderLayer in training, in the units of the encoder rule
    plus S = memory length. With dropout (math attention): 6·L·N for three LayerNorms,
    17·L·N·E, 4·S·N·E, the self-attention scores ×3 (N·H·L·L) and the cross-attention
    ones ×3 (N·H·L·S), 3·L·N·F; in bf16/fp16 the math path keeps 4·L·N·E, 2·S·N·E and
    the scores in fp32, and 11·L·N·E and S·N·E in the model dtype. Without dropout (fused SDPA): two
    fp32 log-sum-exps (N·H·L each), 12·L·N·E, 3·S·N·E and one L·N·F (two with gelu).
    The inputs are among these tensors unless batch_first made time-major copies."""
    a, x, memory = ctx.attrs, ctx.inputs[0], ctx.inputs[1]
    e, f, heads = a["d_model"], a["dim_feedforward"], a["nhead"]
    tokens, _, self_scores = _attention_sizes(x, heads, a["batch_first"])
    memory_tokens, memory_length, _ = _attention_sizes(memory, 1, a["batch_first"])
    cross_scores = self_scores // _attention_sizes(x, 1, a["batch_first"])[1] \
        * memory_length
    given = [] if a["batch_first"] else [Saved("input", 0), Saved("input", 1)]
    lte, ste = tokens * e, memory_tokens * e
    if a["batch_first"]:
        lte_new, ste_new = 0, 0
    else:
        lte_new, ste_new = -lte, -ste  # the inputs themselves are two of the tensors
    if a["dropout"] > 0:
        scores = 3 * self_scores + 3 * cross_scores
        if ctx.dtype in HALF_DTYPES:
            return given + [
                Saved("new", numel=6 * tokens + 11 * lte + lte_new + ste + ste_new
                      + 3 * tokens * f),
                Saved("new", numel=4 * lte + 2 * ste + scores, dtype="float32")]
        return given + [Saved("new", numel=6 * tokens + 17 * lte + lte_new + 4 * ste + ste_new
                              + scores + 3 * tokens * f)]
    ffn = (2 if a["activation"] == "gelu" else 1) * tokens * f
    length = _attention_sizes(x, 1, a["batch_first"])[1]
    return given + [Saved("new", numel=6 * tokens + 12 * lte + lte_new + 3 * ste + ste_new
                          + ffn),
                    Saved("new", numel=2 * tokens * heads, dtype="float32"),
                    *_mask_saves(ctx, "TransformerDecoderLayer", 0, length, length, heads),
                    *_mask_saves(ctx, "TransformerDecoderLayer", 1, length, memory_length,
                                 heads)]


for _name, _decoder in (("TransformerEncoderLayer", False), ("TransformerDecoderLayer", True)):
    register(OpDef(
        _name, "module", _layer_params() + _mask_params(_name), _transformer(_decoder),
        doc=f"torch.nn.{_name}. Inputs: {'tgt, memory' if _decoder else 'src'}, then the "
            "masks whose flags are true, in the order listed.",
        category="attention", n_inputs=(2, 6) if _decoder else (1, 3),
        layout="features-last",
        sequence_masks=tuple(flag for flag in _MASKS[_name][0] if flag is not None),
        key_input=_memory_input(_decoder), self_and_cross=_decoder,
        emit=_transformer_emit(_name),
        count_params=_transformer_count(_decoder), macs=_transformer_macs(_decoder),
        key_args=lambda a: f"d={a['d_model']}, {a['nhead']} heads",
        saves=_decoder_saves if _decoder else _encoder_saves,
        param_tensors=_transformer_tensor_count(_decoder)))
