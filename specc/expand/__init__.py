"""Stage 3 — expand: a validated spec document → the graph IR.

Resolves ``vars``, expressions, ``blocks`` (with their params), ``repeat`` (index ``i``),
``if``, nested ``layers`` and ``from`` references, and names every node the way
``nn.Sequential`` would (named nodes by name, unnamed ones by their index).
Errors are collected per node, so one bad node does not hide the next.

- :mod:`.model` — the model-level parts (vars, inputs, outputs, loss) and :func:`expand`
- :mod:`.expander` — the walk over `layers:` lists: repeat, inline, blocks, ops, `from`
- :mod:`.place` — the values it passes around (where a node goes, a scope being filled)
- :mod:`.names` — which names are allowed, 'did you mean' hints
"""
from specc.expand.expander import NODE_KEYS, Expander
from specc.expand.model import expand
from specc.expand.names import MODULE_ATTRS, suggest

__all__ = ["MODULE_ATTRS", "NODE_KEYS", "Expander", "expand", "suggest"]
