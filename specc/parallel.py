"""From a built spec to a model ready for sharded training — with torch's own stack only.

A spec knows its block structure: which modules are instances of one block (a `repeat`'s
copies, or every use of a named block). torchtitan's ``parallelize_llama`` applies
tensor parallelism, activation checkpointing, ``torch.compile`` and FSDP2 per decoder layer
and then to the root; :func:`parallelize` does the same for any spec, with the units taken
from the spec instead of from hand-written model code. Nothing here re-implements torch's
distributed machinery: every step is one call of a public torch API.

:func:`materialize` is the other half of building a model too big for one host: build on
``meta`` (no memory), shard, then allocate only the local shards with ``to_empty`` and
initialise them the way a direct build would.
"""
from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from specc.errors import Diagnostic, SpecError
from specc.ir import Graph, Scope


class ParallelizeError(SpecError):
    """A parallelism request that does not fit the model (an unknown block, a bad plan)."""


def _fail(message: str, hint: str | None = None) -> ParallelizeError:
    return ParallelizeError(Diagnostic("E306", message, "error", hint=hint))


@dataclass(frozen=True)
class Unit:
    """One module the plan treats as a unit: a block instance or a repeated op."""

    path: str  # module path in the built model (``get_submodule``)
    block: str  # the block (or op) it is an instance of


def _graph_of(module) -> Graph:
    graph = getattr(module, "specc_graph", None)
    if graph is None:
        raise _fail("this module was not built by specc (it has no specc_graph)",
                    "build it with specc.build(...) first")
    return graph


def block_units(graph: Graph, which="repeat") -> list[Unit]:
    """The modules to treat as units, in model order.

    ``which``: ``"repeat"`` — every copy of every ``repeat`` (decoder layers, ResNet
    stages' blocks); a block or op name — every instance of it; or a list of module paths,
    ``*`` globs allowed (``layers.*``)."""
    units: list[Unit] = []
    if isinstance(which, (list, tuple)):
        paths = _module_paths(graph)
        for pattern in which:
            matched = [p for p in paths if fnmatch.fnmatchcase(p, pattern)]
            if not matched:
                raise _fail(f"no module matches {pattern!r}",
                            f"module paths look like: {', '.join(list(paths)[:6])}")
            units += [Unit(p, paths[p]) for p in matched if Unit(p, paths[p]) not in units]
        return units
    for scope in graph.root.walk_scopes():
        if which == "repeat" and scope.kind == "repeat":
            units += [Unit(_path(item), _kind(item)) for item in scope.items]
        elif which != "repeat" and scope.kind in ("block", "sequence") and scope.block == which:
            units.append(Unit(scope.path, which))
    if which != "repeat" and not units:
        for node in graph.nodes:
            if node.op == which:
                units.append(Unit(node.id, which))
    if not units:
        names = sorted({s.block for s in graph.root.walk_scopes() if s.block})
        raise _fail(f"the model has no {'repeat' if which == 'repeat' else repr(which)} "
                    "to treat as units",
                    f"blocks in this spec: {', '.join(names) or 'none'}; or pass module paths")
    return units


def _path(item) -> str:
    return item.path if isinstance(item, Scope) else item.id


def _kind(item) -> str:
    if isinstance(item, Scope):
        return item.block or item.kind
    return item.op


def _module_paths(graph: Graph) -> dict:
    paths = {}
    for scope in graph.root.walk_scopes():
        if scope.path:
            paths[scope.path] = scope.block or scope.kind
    for node in graph.nodes:
        paths.setdefault(node.id, node.op)
    return paths


# --- tensor parallelism ---------------------------------------------------------------

_STYLES = ("colwise", "rowwise")


def _tp_plan(block_module, plan: dict) -> dict:
    """{submodule path within the block: torch ParallelStyle} for a plan keyed by the
    last component of a projection's name (``q_proj: colwise``)."""
    from torch.distributed.tensor.parallel import ColwiseParallel, RowwiseParallel

    styles = {"colwise": ColwiseParallel, "rowwise": RowwiseParallel}
    resolved, seen = {}, set()
    for name, _ in block_module.named_modules():
        leaf = name.rsplit(".", 1)[-1]
        if name and leaf in plan:
            resolved[name] = styles[plan[leaf]]()
            seen.add(leaf)
    missing = set(plan) - seen
    if missing:
        raise _fail(f"tensor-parallel plan names {', '.join(sorted(missing))}, which the "
                    "block does not have",
                    "key the plan by projection names as the spec writes them (q_proj, ...)")
    return resolved


def _check_plan(plan: dict) -> None:
    for name, style in plan.items():
        if style not in _STYLES:
            raise _fail(f"tensor-parallel style for {name!r} is {style!r}",
                        f"use one of {', '.join(_STYLES)}")


# --- the plan -------------------------------------------------------------------------

def parallelize(module, mesh=None, *, units="repeat", fsdp: bool = True,
                checkpoint: bool = False, compile: bool | dict = False,
                tp_plan: dict | None = None,
                mp_policy=None, reshard_after_forward: bool = True):
    """Apply, in torchtitan's order, tensor parallelism, activation checkpointing,
    per-unit ``torch.compile`` and FSDP2 to a specc-built module; returns it (in place).

    ``mesh``: a 1-D ``DeviceMesh`` (data parallel) or a 2-D one with dims named ``dp`` and
    ``tp``. ``units``: see :func:`block_units`. ``tp_plan``: ``{projection name:
    "colwise" | "rowwise"}`` applied inside every unit (needs a ``tp`` mesh dim).
    ``compile``: True, or the keyword arguments of ``torch.compile`` (e.g. ``{"backend":
    "inductor", "mode": "max-autotune"}``), applied per unit (regional compilation: one
    compiled graph serves every identical block, as torchtitan does).
    ``mp_policy``: an FSDP2 ``MixedPrecisionPolicy``."""
    graph = _graph_of(module)
    chosen = block_units(graph, units)
    dp_mesh, tp_mesh = _split_mesh(mesh, tp_plan)
    if tp_plan:
        from torch.distributed.tensor.parallel import parallelize_module

        _check_plan(tp_plan)
        for unit in chosen:
            block = module.get_submodule(unit.path)
            parallelize_module(block, tp_mesh, _tp_plan(block, tp_plan))
    for unit in chosen:
        block = module.get_submodule(unit.path)
        if checkpoint:
            from torch.distributed._composable import checkpoint as checkpoint_module

            checkpoint_module(block)  # in place: parameter names (FQNs) do not change
        if compile:
            block.compile(**(compile if isinstance(compile, dict) else {}))
    if fsdp:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        kwargs = {"mesh": dp_mesh, "mp_policy": mp_policy or MixedPrecisionPolicy()}
        for unit in chosen:
            fully_shard(module.get_submodule(unit.path),
                        reshard_after_forward=reshard_after_forward, **kwargs)
        fully_shard(module, **kwargs)
    return module


def _split_mesh(mesh, tp_plan):
    if mesh is None:
        if tp_plan:
            raise _fail("a tensor-parallel plan needs a device mesh with a 'tp' dimension")
        return None, None
    names = mesh.mesh_dim_names or ()
    if mesh.ndim == 1:
        if tp_plan:
            if names and names[0] != "tp":
                raise _fail("a tensor-parallel plan needs a mesh dimension named 'tp'")
            return None, mesh
        return mesh, None
    if "dp" not in names or "tp" not in names:
        raise _fail(f"a 2-D mesh needs dims named 'dp' and 'tp', got {names}")
    return mesh["dp"], mesh["tp"]


# --- deferred initialisation ----------------------------------------------------------

def materialize(module, device="cpu", *, init: bool = True):
    """Allocate a module built on ``meta`` (or sharded while on meta) on ``device`` and
    initialise it as a direct build would: every torch module's own ``reset_parameters``
    (children before parents, the order their constructors run in), parameter nodes
    zeroed, then the spec's ``init:`` entries. Returns the module (in place)."""
    import torch

    module.to_empty(device=device)
    if not init:
        return module
    graph = getattr(module, "specc_graph", None)
    with torch.no_grad():
        for sub in reversed(list(module.modules())):  # post-order: children first
            reset = getattr(sub, "reset_parameters", None) or getattr(
                sub, "_reset_parameters", None)
            if callable(reset):
                reset()
        if graph is not None:
            for node in graph.nodes:
                if node.op == "parameter":
                    module.get_parameter(node.id).zero_()
            _spec_init(graph)(module)
    return module


def _spec_init(graph: Graph):
    """The spec's ``init:`` entries as a function of the model — the same generated lines
    that ``build_model`` runs after construction."""
    import torch
    from torch import nn

    from specc.compile.init import init_code

    lines = init_code(graph) or ["pass"]
    text = "def init_weights(model):\n" + "".join(f"    {line}\n" for line in lines)
    namespace = {"torch": torch, "nn": nn}
    exec(compile(text, "<specc init>", "exec"), namespace)  # generated from the IR, not the spec
    return namespace["init_weights"]


__all__ = ["parallelize", "materialize", "block_units", "Unit", "ParallelizeError"]
