"""Configurations torch rejects at build or run time (errors).

The shape rules of the ops detect these (they cannot compute a shape otherwise) and report
them under these rules' codes; the rules are registered here for their code, name,
explanation and selection.
"""
from specc.lint.registry import rule


def _found_by_inference(graph, facts):
    return ()


rule("L101", "padding-same-strided", "error",
     "padding='same' on a strided convolution",
     """
torch only supports padding='same' when stride is 1: the output of a strided conv cannot
have the input's size. torch raises at construction.

Bad:   {op: Conv2d, out_channels: 64, kernel_size: 3, stride: 2, padding: same}
Good:  {op: Conv2d, out_channels: 64, kernel_size: 3, stride: 2, padding: 1}
""", "use an explicit padding such as (kernel_size - 1) // 2")(_found_by_inference)

rule("L102", "groups-not-divisible", "error",
     "channels not divisible by groups",
     """
A grouped convolution splits its input and output channels into `groups` equal parts, and
GroupNorm splits its channels into `num_groups`; torch raises when they do not divide.

Bad:   {op: Conv2d, out_channels: 30, kernel_size: 3, groups: 4}   # on 64 input channels
Good:  {op: Conv2d, out_channels: 32, kernel_size: 3, groups: 4}
""", "make in_channels and out_channels multiples of groups")(_found_by_inference)

rule("L103", "heads-not-divisible", "error",
     "embedding size not divisible by the number of heads",
     """
MultiheadAttention and the Transformer layers split embed_dim / d_model evenly across the
heads; torch raises "embed_dim must be divisible by num_heads".

Bad:   {op: MultiheadAttention, embed_dim: 100, num_heads: 8}
Good:  {op: MultiheadAttention, embed_dim: 128, num_heads: 8}
""", "choose num_heads that divides the embedding size")(_found_by_inference)

rule("L104", "dropout-p-range", "error",
     "dropout probability outside [0, 1]",
     """
A dropout probability is a probability: torch raises a ValueError for p < 0 or p > 1
(Dropout layers, and the dropout of RNNs, attention and Transformer layers).

Bad:   {op: Dropout, p: 50}
Good:  {op: Dropout, p: 0.5}
""", "write the probability as a number between 0 and 1")(_found_by_inference)

rule("L105", "softmax-without-dim", "error",
     "Softmax / LogSoftmax without an explicit dim",
     """
Without `dim`, torch picks one from the input's rank (and warns that this is deprecated):
dim 0 for 0-, 1- and 3-D inputs, which on a batch normalises across samples.

Bad:   - Softmax
Good:  - {op: Softmax, dim: 1}
""", "give dim, usually -1 or 1 (the class dimension)")(_found_by_inference)

rule("L106", "embedding-float-input", "error",
     "Embedding fed with a floating-point tensor",
     """
Embedding looks rows up by integer index; torch raises for float input. Token ids must be
declared as integers.

Bad:   inputs: {tokens: {shape: [N, T]}}                 # float32 by default
Good:  inputs: {tokens: {shape: [N, T], dtype: int64}}
""", "declare the input with dtype: int64")(_found_by_inference)
