"""Every lint rule; each module registers its rules' checks on import."""
from specc.lint.rules import (  # noqa: F401
    architecture, causal_mask, channels_layout, checkerboard, class_axis, flatten_batch,
    implicit_dim, loss, positional, receptive_field, rnn_readout, single_logit, softmax_axis,
    softmax_size_one)
