"""The graph IR every later stage reads: :class:`Graph`, :class:`Scope`, :class:`Node`.

A Node is one op instance (or a model input). A Scope is a container — the model, a
nested ``layers:`` sequence, a block instance, a ``repeat`` — and becomes one
``nn.Module`` when compiled. Nodes are stored in a topological order by construction:
a ``from`` can only name something defined earlier, so the graph cannot have a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from specc.dims import Dim
from specc.errors import Loc
from specc.tensor import TensorType


@dataclass(frozen=True)
class Ref:
    """One output of one node."""

    node: "Node"
    index: int = 0

    @property
    def type(self) -> TensorType | None:
        types = self.node.out_types
        return types[self.index] if types and self.index < len(types) else None

    def __str__(self) -> str:
        if self.index == 0:
            return self.node.id
        return f"{self.node.id}.{self.node.output_names[self.index]}"


@dataclass(eq=False)
class Node:
    """One op of the expanded graph."""

    id: str  # unique dotted path, e.g. "layer1.0.conv1"; model inputs use their name
    op: str  # registered op name, or "input"
    attrs: dict
    inputs: list[Ref]
    loc: Loc
    scope: "Scope | None" = None
    attr_name: str = ""  # name inside its scope: module attribute / sequence index
    named: bool = False  # the spec gave it a name
    given: set = field(default_factory=set)  # attrs written in the spec
    attr_locs: dict = field(default_factory=dict)
    init: object = None  # the node's `init:` entry, for the compiler
    tie: str | None = None  # `tie:` the module path whose weight this node's weight is
    broken: bool = False  # expansion failed; inference skips it and what depends on it
    # `training_only:` on it or on a container around it: built (its parameters are in the
    # state_dict) but run only when the module is training; not in eval MACs
    training_only: bool = False
    output_names: tuple = ("out",)
    # attr -> its text in the spec where that is an expression (`$planes`, `${d * 4}`):
    # --emit-python writes the expression, not the value (specc/compile/readable.py)
    exprs: dict = field(default_factory=dict)
    # in a copy of a repeat made by copying (specc/expand/copies.py): the node it is a copy
    # of, whose attributes it has; inference reuses that node's result for the same inputs
    twin: "Node | None" = None
    # filled by inference
    out_types: list[TensorType] | None = None
    params: int = 0
    macs: Dim = 0

    @property
    def ref(self) -> Ref:
        return Ref(self, 0)

    def __repr__(self) -> str:
        return f"Node({self.id}: {self.op})"


@dataclass(eq=False)
class Scope:
    """A module of the built model: the model, a sequence, a block instance or a repeat."""

    path: str  # dotted path of the module; "" for the model
    kind: str  # "model", "sequence", "block", "repeat"
    loc: Loc
    attr_name: str = ""
    parent: "Scope | None" = None
    block: str | None = None  # block name for block instances
    items: list[Node | Scope] = field(default_factory=list)
    input: Ref | None = None  # the value its first item reads
    output: Ref | None = None
    # its declared `outputs:` in order (output is the first): a block with several outputs
    # returns all of them, whoever reads them
    outputs: list[Ref] = field(default_factory=list)
    named: bool = False
    checkpoint: bool = False  # a block use with `checkpoint: true`: recomputed in backward
    training_only: bool = False  # it, or a container around it, says `training_only: true`
    # a block's `module_order`: these children are registered in this order (the
    # state_dict order), in the places they hold among the children; the rest keep theirs
    module_order: list = field(default_factory=list)
    params: dict = field(default_factory=dict)  # a block instance's parameter values
    # a block instance's arguments that are expressions (`stride: ${2 if i == 0 else 1}`),
    # and a repeat's `repeat:` count when it is one, as the spec writes them
    exprs: dict = field(default_factory=dict)
    # a copy of a repeat that expansion made by copying an earlier copy (specc/expand/
    # copies.py): that copy's scope (the first one expanded). Same module paths below it
    # but for the prefix; the code generator writes one builder for the copies whose
    # inferred facts turned out equal too
    twin: "Scope | None" = field(default=None, repr=False)

    def registration_order(self) -> list:
        """The items in the order the module registers them (its state_dict order): a
        block's `module_order` swaps the children it lists into the places they hold."""
        if not self.module_order:
            return self.items
        items = list(self.items)
        by_name = {item.attr_name: item for item in items}
        places = [i for i, item in enumerate(items) if item.attr_name in self.module_order]
        for place, name in zip(places, self.module_order):
            items[place] = by_name[name]
        return items

    def walk_nodes(self):
        for item in self.items:
            if isinstance(item, Scope):
                yield from item.walk_nodes()
            else:
                yield item

    def walk_scopes(self):
        yield self
        for item in self.items:
            if isinstance(item, Scope):
                yield from item.walk_scopes()


@dataclass
class Graph:
    """The expanded model: its inputs, nodes in order, module tree and outputs."""

    name: str
    inputs: list[Node]
    nodes: list[Node]  # topological order, inputs excluded
    root: Scope
    outputs: list[tuple[str, Ref]]
    outputs_as_dict: bool = False
    loss: dict = field(default_factory=dict)  # output name -> loss name
    task: str | None = None
    batch_symbols: set = field(default_factory=set)
    symbols: set = field(default_factory=set)  # every size symbol the spec declares
    vars: dict = field(default_factory=dict)  # the spec's vars, evaluated

    def consumers(self) -> dict:
        """node id -> list of (consumer node, input position)."""
        result: dict = {n.id: [] for n in self.inputs}
        for node in self.nodes:
            result[node.id] = []
        for node in self.nodes:
            for pos, ref in enumerate(node.inputs):
                result[ref.node.id].append((node, pos))
        return result

    def node(self, node_id: str) -> Node | None:
        for n in self.inputs + self.nodes:
            if n.id == node_id:
                return n
        return None

    @property
    def eval_outputs(self) -> list[tuple[str, Ref]]:
        """The outputs an eval-mode forward returns: those not computed in training only."""
        return [(name, ref) for name, ref in self.outputs if not ref.node.training_only]

    @property
    def complete(self) -> bool:
        """Every node expanded and has known output types (what building needs). Whether
        the spec has errors is the analysis's business: the IR holds model facts only."""
        return all(not n.broken and n.out_types is not None for n in self.nodes)

    @property
    def ok(self) -> bool:
        """The name older code uses for :attr:`complete`."""
        return self.complete
