"""The graph IR every later stage reads: :class:`Graph`, :class:`Scope`, :class:`Node`.

A Node is one op instance (or a model input). A Scope is a container — the model, a
nested ``layers:`` sequence, a block instance, a ``repeat`` — and becomes one
``nn.Module`` when compiled. Nodes are stored in a topological order by construction:
a ``from`` can only name something defined earlier, so the graph cannot have a cycle.
"""
from __future__ import annotations

from specc.dims import Dim
from specc.errors import Loc
from specc.tensor import TensorType
from specc.values import Record, Value


class Ref(Value):
    """One output of one node."""

    __slots__ = ("node", "index")
    node: Node
    index: int

    def __init__(self, node: Node, index: int = 0):
        self._set_fields(node, index)

    @property
    def type(self) -> TensorType | None:
        types = self.node.out_types
        return types[self.index] if types and self.index < len(types) else None

    def __str__(self) -> str:
        if self.index == 0:
            return self.node.id
        return f"{self.node.id}.{self.node.output_names[self.index]}"


class Node:
    """One op of the expanded graph. Two nodes are equal only when they are the same node."""

    __slots__ = ("id", "op", "attrs", "inputs", "loc", "scope", "attr_name", "named", "given",
                 "attr_locs", "init", "tie", "broken", "training_only", "output_names",
                 "exprs", "twin", "out_types", "params", "macs")

    def __init__(self, id: str, op: str, attrs: dict, inputs: list[Ref], loc: Loc,
                 scope: Scope | None = None, attr_name: str = "", named: bool = False,
                 given: set | None = None, attr_locs: dict | None = None, init: object = None,
                 tie: str | None = None, broken: bool = False, training_only: bool = False,
                 output_names: tuple = ("out",), exprs: dict | None = None,
                 twin: Node | None = None, out_types: list[TensorType] | None = None,
                 params: int = 0, macs: Dim = 0):
        # unique dotted path, e.g. "layer1.0.conv1"; model inputs use their name
        self.id = id
        self.op = op  # registered op name, or "input"
        self.attrs = attrs
        self.inputs = inputs
        self.loc = loc
        self.scope = scope
        self.attr_name = attr_name  # name inside its scope: module attribute / sequence index
        self.named = named  # the spec gave it a name
        self.given: set = set() if given is None else given  # attrs written in the spec
        self.attr_locs: dict = {} if attr_locs is None else attr_locs
        self.init = init  # the node's `init:` entry, for the compiler
        self.tie = tie  # `tie:` the module path whose weight this node's weight is
        self.broken = broken  # expansion failed; inference skips it and what depends on it
        # `training_only:` on it or on a container around it: built (its parameters are in
        # the state_dict) but run only when the module is training; not in eval MACs
        self.training_only = training_only
        self.output_names = output_names
        # attr -> its text in the spec where that is an expression (`$planes`,
        # `${d * 4}`): --emit-python writes the expression, not the value
        # (specc/compile/readable.py)
        self.exprs: dict = {} if exprs is None else exprs
        # in a copy of a repeat made by copying (specc/expand/copies.py): the node it is a
        # copy of, whose attributes it has; inference reuses that node's result for the
        # same inputs
        self.twin = twin
        # filled by inference
        self.out_types = out_types
        self.params = params
        self.macs = macs

    @property
    def ref(self) -> Ref:
        return Ref(self, 0)

    def __repr__(self) -> str:
        return f"Node({self.id}: {self.op})"


class Scope:
    """A module of the built model: the model, a sequence, a block instance or a repeat.
    Two scopes are equal only when they are the same scope."""

    __slots__ = ("path", "kind", "loc", "attr_name", "parent", "block", "items", "input",
                 "output", "outputs", "named", "checkpoint", "training_only", "module_order",
                 "params", "exprs", "twin")

    def __init__(self, path: str, kind: str, loc: Loc, attr_name: str = "",
                 parent: Scope | None = None, block: str | None = None,
                 items: list[Node | Scope] | None = None, input: Ref | None = None,
                 output: Ref | None = None, outputs: list[Ref] | None = None,
                 named: bool = False, checkpoint: bool = False, training_only: bool = False,
                 module_order: list | None = None, params: dict | None = None,
                 exprs: dict | None = None, twin: Scope | None = None):
        self.path = path  # dotted path of the module; "" for the model
        self.kind = kind  # "model", "sequence", "block", "repeat"
        self.loc = loc
        self.attr_name = attr_name
        self.parent = parent
        self.block = block  # block name for block instances
        self.items: list[Node | Scope] = [] if items is None else items
        self.input = input  # the value its first item reads
        self.output = output
        # its declared `outputs:` in order (output is the first): a block with several
        # outputs returns all of them, whoever reads them
        self.outputs: list[Ref] = [] if outputs is None else outputs
        self.named = named
        # a block use with `checkpoint: true`: recomputed in backward
        self.checkpoint = checkpoint
        # it, or a container around it, says `training_only: true`
        self.training_only = training_only
        # a block's `module_order`: these children are registered in this order (the
        # state_dict order), in the places they hold among the children; the rest keep
        # theirs
        self.module_order: list = [] if module_order is None else module_order
        # a block instance's parameter values
        self.params: dict = {} if params is None else params
        # a block instance's arguments that are expressions (`stride: ${2 if i == 0 else
        # 1}`, in a repeat's copy with its `i` put in), and a repeat's `repeat:` count when
        # it is one, as the spec writes them; "repeat@K": the count of an unnamed repeat
        # whose copies are this scope's items from index K on (read by --emit-python)
        self.exprs: dict = {} if exprs is None else exprs
        # a copy of a repeat that expansion made by copying an earlier copy
        # (specc/expand/copies.py): that copy's scope (the first one expanded). Same module
        # paths below it but for the prefix; the code generator writes one builder for the
        # copies whose inferred facts turned out equal too
        self.twin = twin

    def __repr__(self) -> str:
        return f"Scope({self.path or '<model>'}: {self.kind})"

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


class Graph(Record):
    """The expanded model: its inputs, nodes in order, module tree and outputs."""

    __slots__ = ("name", "inputs", "nodes", "root", "outputs", "outputs_as_dict", "loss",
                 "task", "batch_symbols", "symbols", "vars")

    def __init__(self, name: str, inputs: list[Node], nodes: list[Node], root: Scope,
                 outputs: list[tuple[str, Ref]], outputs_as_dict: bool = False,
                 loss: dict | None = None, task: str | None = None,
                 batch_symbols: set | None = None, symbols: set | None = None,
                 vars: dict | None = None):
        self.name = name
        self.inputs = inputs
        self.nodes = nodes  # topological order, inputs excluded
        self.root = root
        self.outputs = outputs
        self.outputs_as_dict = outputs_as_dict
        self.loss: dict = {} if loss is None else loss  # output name -> loss name
        self.task = task
        self.batch_symbols: set = set() if batch_symbols is None else batch_symbols
        # every size symbol the spec declares
        self.symbols: set = set() if symbols is None else symbols
        self.vars: dict = {} if vars is None else vars  # the spec's vars, evaluated

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
