"""L319 causal-lm-without-mask: a next-token model whose attention can see the future."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import SELF_ATTENTION, is_self_attention

# per op: the forward arguments that carry the (causal) attention mask over the sequence
_SEQUENCE_MASKS = {"TransformerEncoderLayer": ("src_mask", "is_causal"),
                   "TransformerDecoderLayer": ("tgt_mask", "tgt_is_causal"),
                   "MultiheadAttention": ("attn_mask", "is_causal")}


@rule(codes.CAUSAL_LM_WITHOUT_MASK)
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
