"""L319 causal-lm-without-mask: a next-token model whose attention can see the future."""
from specc.lint.registry import rule
from specc.lint.rules._flow import SELF_ATTENTION, is_self_attention

# per op: the forward arguments that carry the (causal) attention mask over the sequence
_SEQUENCE_MASKS = {"TransformerEncoderLayer": ("src_mask", "is_causal"),
                   "TransformerDecoderLayer": ("tgt_mask", "tgt_is_causal"),
                   "MultiheadAttention": ("attn_mask", "is_causal")}


@rule("L319", "causal-lm-without-mask", "warning",
      "a causal language model whose self-attention has no attention mask",
      """
A model trained to predict the next token must not see it: without a causal mask every
position of a Transformer layer attends to the whole sequence, including the tokens it is
asked to predict. Training loss drops to almost nothing and generation fails. `task:
generation` says the model generates token by token: then every self-attention layer of a
decoder-only model (or the decoder layers of an encoder-decoder: its encoder may look both
ways) needs its mask (`src_mask: true` with the mask as an input, and `is_causal: true`).

Bad:   task: generation   layers: [..., {op: TransformerEncoderLayer, nhead: 8, batch_first: true}]
Good:  task: generation   layers: [..., {op: TransformerEncoderLayer, nhead: 8, batch_first: true,
                                         from: [h, causal_mask], src_mask: true, is_causal: true}]
""", "give each self-attention layer the causal mask (src_mask / attn_mask) and is_causal: true")
def causal_lm_without_mask(graph, facts):
    if graph.task != "generation":
        return
    attention = [n for n in graph.nodes if n.op in SELF_ATTENTION and n.out_types is not None
                 and is_self_attention(n)]
    if any(n.op == "TransformerDecoderLayer" for n in attention):
        attention = [n for n in attention if n.op == "TransformerDecoderLayer"]
    unmasked = [n for n in attention if not any(n.attrs.get(a) for a in _SEQUENCE_MASKS[n.op])]
    if unmasked:
        first = unmasked[0]
        more = f" (and {len(unmasked) - 1} more layers)" if len(unmasked) > 1 else ""
        yield first, (f"task is generation but {first.id} ({first.op}) attends without an "
                      f"attention mask{more}: every position sees the tokens it must predict")
