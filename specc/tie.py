"""`tie:` — a layer whose weight is another layer's (an LM head tied to the token embedding).

The tied parameter is one tensor: counted once (on the node it belongs to), present under
both keys in the state_dict, as torch and Hugging Face save it. Checked after inference,
when every layer's weight shape is known.
"""
from __future__ import annotations

from specc.dims import product
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
        own = _weight_shape(node)
        target = by_id.get(node.tie)
        theirs = _weight_shape(target) if target is not None else None
        problem, hint = None, None
        if own is None:
            problem = f"{node.op} has no weight to tie"
        elif target is None:
            from specc.expand import suggest

            problem = f"tie: no layer at '{node.tie}'"
            hint = suggest(node.tie, by_id) or "give the module path, e.g. model.embed_tokens"
        elif target is node:
            problem = "tie: a layer cannot tie to itself"
        elif theirs is None:
            problem = f"tie: '{node.tie}' ({target.op}) has no weight to share"
        elif target.tie is not None:
            problem = f"tie: '{node.tie}' is itself tied to '{target.tie}'; tie to that"
        elif own != theirs:
            problem = (f"tie: this {node.op}'s weight is {list(own)} but "
                       f"'{node.tie}' ({target.op}) has {list(theirs)}")
            hint = "tied weights must have the same shape"
        if problem is not None:
            problems.append(Diagnostic("E302" if "weight is" in problem else "E201",
                                                problem, "error", loc, node.id, hint))
            continue
        assert own is not None
        node.params -= product(own)  # the shared tensor counts once, on its owner
    return problems


def _weight_shape(node) -> tuple | None:
    """The shape of a module's own `weight` (None: it has none, or inference failed)."""
    op = get_op(node.op)
    if op is None or op.kind != "module" or node.out_types is None:
        return None
    return op.tensors(node.attrs).get("weight")
