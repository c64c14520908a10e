"""`tie:` — a layer whose weight is another layer's (an LM head tied to the token embedding).

The tied parameter is one tensor: counted once (on the node it belongs to), present under
both keys in the state_dict, as torch and Hugging Face save it. Checked after inference,
when every layer's weight shape is known.
"""
from __future__ import annotations

from specc.errors import Diagnostic
from specc.ir import Graph
from specc.ops.base import get_op


def resolve_ties(graph: Graph) -> list:
    """Check every `tie:` and count a tied weight once; returns the problems found."""
    problems = []
    by_id = {n.id: n for n in graph.nodes}
    for node in graph.nodes:
        if node.tie is None or node.out_types is None:
            continue
        loc = node.attr_locs.get("tie", node.loc)
        own_op = get_op(node.op)
        own = own_op.weight_shape if own_op is not None else None
        target = by_id.get(node.tie)
        target_op = get_op(target.op) if target is not None else None
        theirs = target_op.weight_shape if target_op is not None else None
        problem, hint = None, None
        if own is None:
            problem = f"{node.op} has no weight to tie"
        elif target is None:
            from specc.expand import suggest

            problem = f"tie: no layer at '{node.tie}'"
            hint = suggest(node.tie, by_id) or "give the module path, e.g. model.embed_tokens"
        elif target is node:
            problem = "tie: a layer cannot tie to itself"
        elif theirs is None or target.out_types is None:
            problem = f"tie: '{node.tie}' ({target.op}) has no weight to share"
        elif target.tie is not None:
            problem = f"tie: '{node.tie}' is itself tied to '{target.tie}'; tie to that"
        elif own(node.attrs) != theirs(target.attrs):
            problem = (f"tie: this {node.op}'s weight is {list(own(node.attrs))} but "
                       f"'{node.tie}' ({target.op}) has {list(theirs(target.attrs))}")
            hint = "tied weights must have the same shape"
        if problem is not None:
            problems.append(Diagnostic("E302" if "weight is" in problem else "E201",
                                                problem, "error", loc, node.id, hint))
            continue
        assert own is not None
        shape = own(node.attrs)
        node.params -= shape[0] * shape[1]  # the shared tensor counts once, on its owner
    return problems
