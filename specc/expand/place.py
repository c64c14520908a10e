"""The small values expansion passes around.

- :class:`Namespace` — the names visible at one point of a sequence.
- :class:`Frame` — a scope being filled, with the state expansion keeps about it.
- :class:`Place` — where one node goes: its frame, its name there, whether the spec named
  it, and its position in the spec. Its module path follows from the frame and the name.
"""
from __future__ import annotations

from specc.errors import Loc
from specc.expand.names import join
from specc.ir import Node, Ref, Scope
from specc.values import Value


class Namespace:
    """Names visible at a point in a sequence; lookups fall back to the enclosing one."""

    def __init__(self, parent: "Namespace | None" = None):
        self.parent = parent
        # name -> a Node, a container's Frame, or (for an item whose `if` is false) the
        # Ref that passes through it
        self.entries: dict[str, object] = {}

    def lookup(self, name: str):
        ns: Namespace | None = self
        while ns is not None:
            if name in ns.entries:
                return ns.entries[name]
            ns = ns.parent
        return None

    def visible(self) -> list[str]:
        names: list[str] = []
        ns: Namespace | None = self
        while ns is not None:
            names += list(ns.entries)
            ns = ns.parent
        return names


class Frame:
    """A scope being filled, and what expansion tracks about it."""

    __slots__ = ("scope", "names", "next_index", "parts", "outputs")

    def __init__(self, scope: Scope, names: Namespace | None = None, next_index: int = 0,
                 parts: dict | None = None, outputs: dict | None = None):
        self.scope = scope
        # The names its own sequence defines; `a.b` in a `from` looks `b` up here.
        self.names = names
        # nn.Sequential numbering: the index of its next unnamed item (inlined blocks and
        # spliced repeats continue the numbering of the scope they join).
        self.next_index = next_index
        # Its items by attribute name, for `a.b` where `b` is not a name of its own
        # sequence (the layers of an inlined block).
        self.parts: dict = {} if parts is None else parts
        # Its declared `outputs:` by name and by position ("0", "1", …): `a.skip` reads one.
        self.outputs: dict = {} if outputs is None else outputs

    @property
    def output(self) -> Ref | None:
        return self.scope.output

    def add(self, item: "Node | Frame") -> None:
        node_or_scope = item.scope if isinstance(item, Frame) else item
        self.scope.items.append(node_or_scope)
        self.parts.setdefault(node_or_scope.attr_name, item)


class Place(Value):
    """Where a node goes."""

    __slots__ = ("frame", "name", "named", "loc")
    frame: Frame
    name: str  # its attribute name in the frame's module (an index if unnamed)
    named: bool  # the spec gave it a name
    loc: Loc

    def __init__(self, frame: Frame, name: str, named: bool, loc: Loc):
        self._set_fields(frame, name, named, loc)

    @property
    def path(self) -> str:
        return join(self.frame.scope.path, self.name)


class Inline(Value):
    """A named inline block: no module of its own, but `stem` reads its output and
    `stem.skip` one of its declared `outputs:` (or a layer it named)."""

    __slots__ = ("output", "names", "outputs")
    output: Ref
    names: Namespace  # the names its layers defined
    outputs: dict  # declared outputs by name and by position

    def __init__(self, output: Ref, names: Namespace, outputs: dict):
        self._set_fields(output, names, outputs)


def output_of(entry) -> Ref:
    """The value a name stands for, as a `from` reads it."""
    if isinstance(entry, (Frame, Inline)):
        assert entry.output is not None, "a container's output is set when it is closed"
        return entry.output
    if isinstance(entry, Node):
        return entry.ref
    return entry


class Sequence:
    """One `layers:` list being expanded: its frame, its names, its variables."""

    __slots__ = ("frame", "names", "env", "later_names", "carried")

    def __init__(self, frame: Frame, names: Namespace, env: dict, later_names: set | None = None,
                 carried: list | None = None):
        self.frame = frame
        self.names = names
        self.env = env
        # names defined further down the list
        self.later_names: set = set() if later_names is None else later_names
        # a spliced repeat's later copies: the inputs they read after the previous copy
        self.carried: list = [] if carried is None else carried

    def with_env(self, env: dict) -> "Sequence":
        return Sequence(self.frame, self.names, env, self.later_names, self.carried)


class Disabled(Value):
    """The name of an item whose `if` is false and whose `from` names nothing: an error
    only if something reads it."""

    __slots__ = ("name", "error")
    name: str
    error: Exception

    def __init__(self, name: str, error: Exception):
        self._set_fields(name, error)
