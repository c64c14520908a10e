"""What code generation knows about the module tree, shared by the module :mod:`codegen`
builds from and the readable file ``--emit-python`` writes (:mod:`specc.compile.readable`):
which values each scope reads from outside (its forward's parameters) and returns, and
which scopes are plain chains (an ``nn.Sequential``). Answers are cached on the state, so
each scope is analysed once however often the code asks. This module does not import torch.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from specc.ir import Graph, Node, Ref, Scope
from specc.ops.base import OpDef, get_op


@dataclass
class ScopeState:
    """The graph and the per-scope answers found so far (keyed by id(scope))."""

    graph: Graph
    externals: dict = field(default_factory=dict)  # id(scope) -> [Ref], see externals
    exports: dict = field(default_factory=dict)  # id(scope) -> [Ref], see find_exports
    ancestors: dict = field(default_factory=dict)  # id(scope) -> ids of it and its parents


def op_of(node: Node) -> OpDef:
    """The op of a node of a complete graph (expansion refused any op not registered)."""
    op = get_op(node.op)
    assert op is not None, node.op
    return op


def ancestors(state: ScopeState, scope: Scope | None) -> set:
    """ids of a scope and of every scope around it (empty for a model input's None)."""
    key = id(scope)
    if key not in state.ancestors:
        state.ancestors[key] = set() if scope is None else \
            {key} | ancestors(state, scope.parent)
    return state.ancestors[key]


def is_outside(state: ScopeState, ref: Ref, scope: Scope) -> bool:
    """True when the value is computed outside ``scope`` (model inputs always are)."""
    return id(scope) not in ancestors(state, ref.node.scope)


def find_exports(state: ScopeState) -> dict:
    """id(scope) -> the values its forward returns: its output first, then every value
    computed inside it that code outside reads (``from: [encoder.conv2, up]``,
    ``outputs: [seq.a]``, a block's ``output:`` deep inside a nested sequence)."""
    exports: dict = {}

    def need(ref: Ref, reader: Scope | None) -> None:
        around_reader = ancestors(state, reader)
        scope = ref.node.scope
        while scope is not None and id(scope) not in around_reader:
            values = exports.setdefault(id(scope), [scope.output])
            if ref not in values:
                values.append(ref)
            scope = scope.parent

    graph = state.graph
    for scope in graph.root.walk_scopes():  # declared `outputs:` first, in their order
        for ref in scope.outputs:
            values = exports.setdefault(id(scope), [scope.output])
            if ref not in values:
                values.append(ref)
    for node in graph.nodes:
        for ref in node.inputs:
            need(ref, node.scope)
    for scope in graph.root.walk_scopes():
        for ref in scope.outputs:
            need(ref, scope)
        if scope.output is not None:
            need(scope.output, scope)
        if scope.input is not None and scope.parent is not None:
            need(scope.input, scope.parent)
    for _, ref in graph.outputs:
        need(ref, graph.root)
    return exports


def returns(state: ScopeState, scope: Scope) -> list[Ref]:
    return state.exports.get(id(scope)) or [scope.output]


def externals(state: ScopeState, scope: Scope) -> list[Ref]:
    """Values a scope reads from outside itself: its forward's parameters, main input first.
    A nested scope's own parameters count too (its input may be a value nothing else in
    this scope reads)."""
    key = id(scope)
    if key in state.externals:
        return state.externals[key]
    refs: list[Ref]
    if scope.kind == "model":
        refs = [n.ref for n in state.graph.inputs]
    else:
        refs = [scope.input] if scope.input is not None else []
        for item in scope.items:
            reads = externals(state, item) if isinstance(item, Scope) else item.inputs
            for ref in reads:
                if ref not in refs and is_outside(state, ref, scope):
                    refs.append(ref)
        for value in [scope.output, *scope.outputs]:  # a block may return its input
            if value is not None and value not in refs and is_outside(state, value, scope):
                refs.append(value)
    state.externals[key] = refs
    return refs


def is_chain(state: ScopeState, scope: Scope) -> bool:
    """True when the scope can be an nn.Sequential: each item reads only the previous one,
    and nothing but its output is read from outside."""
    if scope.kind == "model" or not scope.items or len(returns(state, scope)) > 1:
        return False
    if scope.module_order:  # an nn.Sequential runs its children in registration order
        return False
    if any(isinstance(item, Scope) and item.checkpoint for item in scope.items):
        return False  # the checkpoint call needs a forward of our own
    if any(runs_in_training_only(item, scope) for item in scope.items):
        return False  # `if self.training:` needs a forward of our own
    prev: Ref | None = scope.input
    for item in scope.items:
        if isinstance(item, Node):
            if op_of(item).kind != "module" or item.inputs != [prev] \
                    or len(item.output_names) > 1:
                return False
            prev = item.ref
        else:
            if externals(state, item) != [prev] or len(returns(state, item)) > 1:
                return False
            prev = item.output
    return prev == scope.output


def runs_in_training_only(item: Node | Scope, scope: Scope) -> bool:
    """The item is training-only and its scope is not: its forward guards the call."""
    return item.training_only and not scope.training_only
