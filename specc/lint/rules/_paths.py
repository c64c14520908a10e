"""Small graph helpers shared by the rules."""
from __future__ import annotations

from specc.ir import Node

# ops that pass values through unchanged in range and meaning (looked through by rules)
TRANSPARENT = {"Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "Identity",
               "flatten", "Flatten", "reshape", "view", "squeeze", "unsqueeze"}
NORMS = {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "InstanceNorm1d", "InstanceNorm2d",
         "InstanceNorm3d", "GroupNorm"}
WEIGHTED = {"Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
            "ConvTranspose3d", "Bilinear"}


def producer(node: Node, through=TRANSPARENT) -> Node:
    """The node that really made this value, looking through pass-through ops."""
    seen = 0
    while node.op in through and node.inputs and seen < 10_000:
        node = node.inputs[0].node
        seen += 1
    return node


def single_consumer(facts, node: Node, through=TRANSPARENT):
    """The one node that consumes ``node`` (looking through pass-through ops), else None."""
    users = facts.users(node)
    seen = 0
    while len(users) == 1 and users[0].op in through and seen < 10_000:
        users = facts.users(users[0])
        seen += 1
    return users[0] if len(users) == 1 else None


def is_pointwise_conv(node: Node) -> bool:
    from specc.ops.ptypes import as_tuple

    # convolutions by their kernel (HF's Conv1D is a linear layer: it has none)
    if "kernel_size" not in node.attrs or node.op.startswith("ConvTranspose"):
        return False
    a = node.attrs
    return set(as_tuple(a["kernel_size"], 1)) == {1} and set(as_tuple(a["stride"], 1)) == {1} \
        and a["groups"] == 1
