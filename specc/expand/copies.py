"""The copies of a named `repeat` whose copies are alike, made by copying the first one.

Expanding a block evaluates every expression, checks every name and op parameter and
resolves every `from`; for 80 decoder layers that is 80 times the same work. When nothing
in the repeated item can differ between copies — it is a block use or an op (a block sees
only its inputs; a nested `layers:` could read a value around it by name that is also its
input), it does not read `i`, its first copy expanded without a diagnostic — copy k is
copy 0 with other module paths and other inputs, and :class:`Template` makes it so:
new :class:`~specc.ir.Node` and :class:`~specc.ir.Scope` objects (and the expansion state
a later `from: layers.3.mlp` looks into), every field copied, every reference inside
pointing into the new copy. Each copied scope records the scope it was copied from in
``Scope.twin``, which the code generator uses to write one builder for all of them.

Anything this cannot vouch for is expanded as before: a copy that would pass a limit
(max_graph_nodes, max_expansion_steps, where the normal walk reports the exact item), or,
as a safety net, a template that reads a value that is not one of its inputs.
"""
from __future__ import annotations

import re

from specc.expand.place import Frame, Inline, Namespace, Place
from specc.ir import Node, Ref, Scope

_READS_I = re.compile(r"(?<![A-Za-z0-9_])i(?![A-Za-z0-9_])")


def reads_i(value) -> bool:
    """True when an expression anywhere in ``value`` (a spec item) may read the copy index
    ``i``. Conservative: ``${x if y else 'i'}`` counts too, and then the copies are simply
    expanded one by one. Block definitions are not searched: a block sees only its vars
    and its parameters, and those are written on the item that uses it."""
    if isinstance(value, str):
        return "$" in value and _READS_I.search(value) is not None
    if isinstance(value, dict):
        return any(reads_i(key) or reads_i(entry) for key, entry in value.items())
    if isinstance(value, list):
        return any(reads_i(entry) for entry in value)
    return False


def _shallow(obj):
    """A new node or scope with the same field values (copy.copy, without its generic
    protocol: the IR's classes keep their fields in ``__slots__``)."""
    new = object.__new__(type(obj))
    for name in type(obj).__slots__:
        setattr(new, name, getattr(obj, name))
    return new


class _Outside(Exception):
    """The template reads a value that is not one of its inputs: what it names could be
    something else for another copy."""


class Template:
    """Copy 0 of a repeat, ready to be copied at another place with other inputs."""

    def __init__(self, result: Node | Frame, path: str, inputs: list[Ref], nodes: list[Node],
                 steps: int):
        self.result = result
        self.path = path  # copy 0's module path: every path inside starts with it
        self.inputs = inputs
        self.nodes = nodes  # in graph (topological) order
        self.steps = steps  # expansion steps copy 0 took: each copy counts as many
        self.scopes = list(result.scope.walk_scopes()) if isinstance(result, Frame) else []
        # the module paths copy 0 claimed (nodes and containers)
        self.paths = [s.path for s in self.scopes] + [n.id for n in nodes]

    @classmethod
    def usable(cls, inputs: list[Ref]) -> bool:
        """Distinct inputs: input j of a copy is where input j of copy 0 was read."""
        return len(set(inputs)) == len(inputs)

    def copy(self, ex, place: Place, inputs: list[Ref]) -> Node | Frame | None:
        """The copy at ``place`` reading ``inputs``, added to the expander ``ex`` as its
        normal expansion would have added it; None when it must be expanded normally."""
        if len(inputs) != len(self.inputs):
            return None
        if len(ex.nodes) + len(self.nodes) > ex.limits.max_graph_nodes or \
                ex.steps + self.steps > ex.limits.max_expansion_steps:
            return None  # the normal walk reports the limit at the item that passes it
        cut, prefix = len(self.path), place.path
        paths = [prefix + path[cut:] for path in self.paths]
        if any(path in ex.paths for path in paths):
            return None
        try:
            made = _Copy(self, place, dict(zip(self.inputs, inputs)))
        except _Outside:
            return None
        ex.nodes.extend(made.nodes)
        ex.paths.update(paths)
        ex.steps += self.steps
        place.frame.add(made.top)
        return made.top


class _Copy:
    """One copy: new objects for every node, scope, frame and namespace of the template."""

    def __init__(self, template: Template, place: Place, inputs: dict):
        self.inputs = inputs  # copy 0's input Ref -> this copy's
        # id(copy 0's object) -> this copy's
        self.scopes: dict[int, Scope] = {}
        self.made_nodes: dict[int, Node] = {}
        self.frames: dict[int, Frame] = {}
        self.namespaces: dict[int, Namespace] = {}
        cut, prefix = len(template.path), place.path
        top = template.result
        top_scope = top.scope if isinstance(top, Frame) else None
        # every field copied as it is (a shallow copy), then the ones that differ: paths,
        # links to other objects of the copy, the mutable containers
        for scope in template.scopes:
            new_scope = _shallow(scope)
            new_scope.path = prefix + scope.path[cut:]
            new_scope.parent = self.scopes.get(id(scope.parent), scope.parent)
            new_scope.module_order = list(scope.module_order)
            new_scope.twin = scope.twin or scope
            if scope is top_scope:
                new_scope.attr_name, new_scope.named = place.name, place.named
            self.scopes[id(scope)] = new_scope
        self.nodes: list[Node] = []
        for node in template.nodes:
            new = _shallow(node)
            new.id = prefix + node.id[cut:]
            new.attrs, new.given, new.attr_locs = dict(node.attrs), set(node.given), \
                dict(node.attr_locs)
            new.inputs = [self.ref(r) for r in node.inputs]
            new.scope = self.scopes.get(id(node.scope), node.scope)
            new.twin = node.twin or node
            if node is top:
                new.attr_name, new.named = place.name, place.named
            self.made_nodes[id(node)] = new
            self.nodes.append(new)
        for scope in template.scopes:
            new_scope = self.scopes[id(scope)]
            new_scope.items = [self.scopes[id(item)] if isinstance(item, Scope)
                               else self.made_nodes[id(item)] for item in scope.items]
            new_scope.input, new_scope.output = self.ref(scope.input), self.ref(scope.output)
            new_scope.outputs = [self.ref(r) for r in scope.outputs]
        self.top = self.frame(top) if isinstance(top, Frame) else self.made_nodes[id(top)]

    def ref(self, ref):
        """This copy's value for one of copy 0's (None stays None)."""
        if ref is None:
            return None
        moved = self.inputs.get(ref)
        if moved is not None:
            return moved
        node = self.made_nodes.get(id(ref.node))
        if node is None:
            raise _Outside(str(ref))
        return Ref(node, ref.index)

    def entry(self, value):
        """A namespace entry or a frame part: a node, a container's frame, a value that
        passes through, a named inline block, or a disabled item (kept: it holds no value)."""
        if isinstance(value, Node):
            if id(value) not in self.made_nodes:
                raise _Outside(value.id)
            return self.made_nodes[id(value)]
        if isinstance(value, Ref):
            return self.ref(value)
        if isinstance(value, Frame):
            return self.frame(value)
        if isinstance(value, Inline):
            return Inline(self.ref(value.output), self.namespace(value.names),
                          {key: self.ref(r) for key, r in value.outputs.items()})
        return value

    def frame(self, frame: Frame) -> Frame:
        if id(frame) in self.frames:
            return self.frames[id(frame)]
        new = Frame(self.scopes[id(frame.scope)])
        self.frames[id(frame)] = new
        new.next_index = frame.next_index
        new.names = None if frame.names is None else self.namespace(frame.names)
        new.parts = {key: self.entry(value) for key, value in frame.parts.items()}
        new.outputs = {key: self.ref(value) for key, value in frame.outputs.items()}
        return new

    def namespace(self, ns: Namespace) -> Namespace:
        """The names a copy's sequence defined. The enclosing namespace stays copy 0's: it
        is consulted only while that sequence is expanded, which is over; later `from`s
        look into ``entries`` only."""
        if id(ns) in self.namespaces:
            return self.namespaces[id(ns)]
        new = Namespace(ns.parent)
        self.namespaces[id(ns)] = new
        new.entries = {key: self.entry(value) for key, value in ns.entries.items()}
        return new
