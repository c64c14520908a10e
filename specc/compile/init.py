"""`init:` entries → torch.nn.init calls (as generated code, so --emit-python keeps them).

What an entry means, and what `check` refuses before a build gets here, is declared in
specc/initializers.py. Each node's entry is its own or its op type's (the expander resolves
which), so the calls are in node order.
"""
from __future__ import annotations

from specc.initializers import METHODS, parse
from specc.ir import Graph, Node
from specc.ops.base import get_op


def init_code(graph: Graph, skip: frozenset = frozenset()) -> list[str]:
    """The calls, in node order; ``skip``: ids of nodes whose tensor is made with its
    values already (--emit-python's ``torch.full`` of a constant init)."""
    lines = []
    for node in graph.nodes:
        if id(node) in skip:
            continue
        for tensor, (method, options) in parse(node.init).items():
            lines.append(_call(node, tensor, method, options))
    return lines


def _call(node: Node, tensor: str, method: str, options: dict) -> str:
    op = get_op(node.op)
    if op is not None and op.kind == "parameter":
        target = f"model.get_parameter({node.id!r})"  # the learned tensor is the weight
    else:
        target = f"model.get_submodule({node.id!r}).{tensor}"
    spec = METHODS[method]
    args = "".join(f", {spec.torch_names.get(k, k)}={v!r}" for k, v in options.items())
    return f"nn.init.{spec.torch_fn}({target}{args})"
