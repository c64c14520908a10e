"""The small values expansion passes around.

- :class:`Namespace` — the names visible at one point of a sequence.
- :class:`Frame` — a scope being filled, with the state expansion keeps about it.
- :class:`Place` — where one node goes: its frame, its name there, whether the spec named
  it, and its position in the spec. Its module path follows from the frame and the name.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from specc.errors import Loc
from specc.expand.names import join
from specc.ir import Node, Ref, Scope

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


@dataclass(eq=False)
class Frame:
    """A scope being filled, and what expansion tracks about it."""

    scope: Scope
    # The names its own sequence defines; `a.b` in a `from` looks `b` up here.
    names: Namespace | None = None
    # nn.Sequential numbering: the index of its next unnamed item (inlined blocks and
    # spliced repeats continue the numbering of the scope they join).
    next_index: int = 0
    # Its items by attribute name, for `a.b` where `b` is not a name of its own sequence
    # (the layers of an inlined block).
    parts: dict = field(default_factory=dict)
    # Its declared `outputs:` by name and by position ("0", "1", …): `a.skip` reads one.
    outputs: dict = field(default_factory=dict)

    @property
    def output(self) -> Ref | None:
        return self.scope.output

    def add(self, item: "Node | Frame") -> None:
        node_or_scope = item.scope if isinstance(item, Frame) else item
        self.scope.items.append(node_or_scope)
        self.parts.setdefault(node_or_scope.attr_name, item)


@dataclass(frozen=True)
class Place:
    """Where a node goes."""

    frame: Frame
    name: str  # its attribute name in the frame's module (an index if unnamed)
    named: bool  # the spec gave it a name
    loc: Loc

    @property
    def path(self) -> str:
        return join(self.frame.scope.path, self.name)


@dataclass(frozen=True)
class Inline:
    """A named inline block: no module of its own, but `stem` reads its output and
    `stem.skip` one of its declared `outputs:` (or a layer it named)."""

    output: Ref
    names: Namespace  # the names its layers defined
    outputs: dict  # declared outputs by name and by position


def output_of(entry) -> Ref:
    """The value a name stands for, as a `from` reads it."""
    if isinstance(entry, (Frame, Inline)):
        assert entry.output is not None, "a container's output is set when it is closed"
        return entry.output
    if isinstance(entry, Node):
        return entry.ref
    return entry


@dataclass
class Sequence:
    """One `layers:` list being expanded: its frame, its names, its variables."""

    frame: Frame
    names: Namespace
    env: dict
    later_names: set = field(default_factory=set)  # names defined further down the list
    # a spliced repeat's later copies: the inputs they read after the previous copy
    carried: list = field(default_factory=list)

    def with_env(self, env: dict) -> "Sequence":
        return Sequence(self.frame, self.names, env, self.later_names, self.carried)


@dataclass(frozen=True)
class Disabled:
    """The name of an item whose `if` is false and whose `from` names nothing: an error
    only if something reads it."""

    name: str
    error: Exception
