"""L319 causal-lm-without-mask: a next-token model whose attention can see the future.

Which attention needs the mask: with `task: generation`, every self-attention of a
decoder-only model; in an encoder-decoder (some attention cross-attends to a memory), the
self-attention on the decoder side only — the encoder, whose output is only read as the
memory, may look both ways. Each attention op declares the flags that mask its sequence
(OpDef.sequence_masks: src_mask / is_causal, tgt_mask / tgt_is_causal, attn_mask /
is_causal, Attention's causal) and whether a mask comes as an input
(scaled_dot_product_attention's attn_mask).
"""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import (ATTENTION, cross_attention_keys, is_self_attention,
                                    reaching_outputs)
from specc.lint.rules._paths import op_of


@rule(codes.CAUSAL_LM_WITHOUT_MASK)
def causal_lm_without_mask(graph, facts):
    if graph.task != "generation":
        return
    attention = [n for n in graph.nodes if n.op in ATTENTION and n.out_types is not None]
    encoder = _encoder_side(graph, facts, attention)
    unmasked = [n for n in attention if is_self_attention(n, facts) and n.id not in encoder
                and not _masked(n)]
    if unmasked:
        first = unmasked[0]
        more = f" (and {len(unmasked) - 1} more layers)" if len(unmasked) > 1 else ""
        yield first, (f"task is generation but {first.id} ({first.op}) attends without a "
                      f"causal mask{more}: every position sees the tokens it must predict")


def _masked(node) -> bool:
    op = op_of(node)
    return any(node.attrs.get(flag) for flag in op.sequence_masks or ()) or (
        op.mask_input is not None and len(node.inputs) > op.mask_input)


def _encoder_side(graph, facts, attention) -> set:
    """Ids of the nodes whose output reaches the model only as a cross-attention memory:
    the encoder of an encoder-decoder. One backward pass from the outputs that does not
    step into memory inputs, then the rest is the encoder side (empty for decoder-only)."""
    memories = {(n.id, ref.node.id) for n in attention
                if (ref := cross_attention_keys(n, facts)) is not None}
    if not memories:
        return set()
    decoder = reaching_outputs(graph, skip=memories)
    return {n.id for n in graph.nodes if n.id not in decoder}
