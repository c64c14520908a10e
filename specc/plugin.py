"""The public op-declaration API: how an op is declared, inside specc or outside it.

specc's own ops (``specc/ops/*.py``) are declared with exactly these classes — an
:class:`OpDef` with its :class:`Param` list, a shape/dtype rule that receives an
:class:`InferCtx`, a parameter count, MACs, and how it becomes torch code. A plugin declares
its ops the same way, with the same power; see ``docs/plugins.md``.

A plugin is a Python module the *user's configuration* names (``[tool.specc] plugins``, or
installed packages' ``specc.ops`` entry points when ``entry-points = true``) — never a
spec. The module must be importable without torch (``specc check`` never imports torch);
the module class that ``build`` constructs is named by an import path string and imported
only when building.

This module imports no torch.
"""
from __future__ import annotations

from typing import Callable

from specc.dims import Dim, Sym
from specc.ops.base import (REQUIRED, EmitCtx, InferCtx, OpDef, Param, SaveCtx, Saved,
                            ShapeError, emit_call, saves_inputs, saves_output)
from specc.tensor import TensorType

# Keys that wire a spec node; a parameter cannot take one of these names (a torch argument
# called `init`, as PReLU's, is reached through the node's `init:` instead).
RESERVED_PARAM_NAMES = frozenset({"name", "op", "block", "layers", "from", "if", "repeat",
                                  "repeat_name", "inline", "init"})


def param_types() -> tuple[str, ...]:
    """The parameter types a :class:`Param` may have (each generates its JSON Schema)."""
    from specc.ops.ptypes import PTYPES

    return tuple(PTYPES)


def module_op(name: str, module: str, params: list[Param], infer: Callable[[InferCtx], list],
              *, doc: str = "", category: str = "plugin",
              count_params: Callable[[dict], int] | None = None,
              macs: Callable[[InferCtx, list], Dim] | None = None,
              n_inputs: tuple[int, int | None] = (1, 1),
              outputs: tuple[str, ...] = ("out",),
              emit: Callable[[EmitCtx], list[str]] | None = None,
              key_args: Callable[[dict], str] | None = None, **facts) -> OpDef:
    """An op that builds ``module`` ("package.module:Class") with its params as keyword
    arguments. ``infer`` returns the output :class:`TensorType` list; ``count_params`` the
    number of parameters given the (inferred) attributes; ``macs`` multiply-accumulates.
    ``facts`` are the memory analysis's declarations (``saves``, ``param_tensors``,
    ``buffers``, ``aliases``, ``workspace``, ``backward_macs``, ``receptive``), as
    specc's own ops give them, and ``tensors`` (attrs -> {"weight": shape, "bias": shape}:
    what a node's `init:` can set and `tie:` share; without it `init:` on the op is E106)."""
    return OpDef(name, "module", list(params), infer, doc=doc, category=category,
                 n_inputs=n_inputs, outputs=outputs,
                 count_params=count_params or (lambda attrs: 0),
                 macs=macs or (lambda ctx, outs: 0), emit=emit or emit_call,
                 key_args=key_args, module=module, torch_class=None, **facts)


def function_op(name: str, params: list[Param], infer: Callable[[InferCtx], list],
                emit: Callable[[EmitCtx], list[str]], *, doc: str = "",
                category: str = "plugin", macs: Callable[[InferCtx, list], Dim] | None = None,
                n_inputs: tuple[int, int | None] = (1, 1),
                outputs: tuple[str, ...] = ("out",),
                key_args: Callable[[dict], str] | None = None, **facts) -> OpDef:
    """An op without weights whose torch code is the lines ``emit(ctx)`` returns
    (``facts``: as for :func:`module_op`)."""
    return OpDef(name, "function", list(params), infer, doc=doc, category=category,
                 n_inputs=n_inputs, outputs=outputs, macs=macs or (lambda ctx, outs: 0),
                 emit=emit, key_args=key_args, **facts)


def enable(modules: list[str], *, entry_points: bool = False) -> list:
    """From Python (``specc.from_module``, ``specc.check`` on YAML text): make these plugin
    modules' ops the active ones, as a configuration naming them would. Returns the
    problems (E010 diagnostics); a spec *file* checked later uses its own configuration."""
    from specc.config import Config
    from specc.plugin_loading import activate

    return activate(Config(plugins=list(modules), entry_points=entry_points))


def validate_op(op) -> list[str]:
    """What is wrong with a declaration (empty when it is sound). Built-in ops pass the
    same checks (tests/test_plugins.py)."""
    import re

    if not isinstance(op, OpDef):
        return [f"expected an OpDef, got {type(op).__name__}"]
    problems = []
    if not isinstance(op.name, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", op.name):
        problems.append(f"op name {op.name!r} is not an identifier")
    if op.kind not in ("module", "function", "parameter", "buffer"):
        problems.append(f"{op.name}: kind must be 'module' or 'function' (built-ins also "
                        f"use 'parameter' and 'buffer'), not {op.kind!r}")
    if op.kind == "module" and op.module is None and op.torch_class is None:
        problems.append(f"{op.name}: a module op names its class (module='pkg.mod:Class')")
    if op.module is not None and not re.fullmatch(
            r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*", str(op.module)):
        problems.append(f"{op.name}: module must be 'package.module:Class', got {op.module!r}")
    if op.kind == "function" and op.emit is emit_call:
        problems.append(f"{op.name}: a function op needs emit= (its torch code)")
    for attr in ("infer", "count_params", "macs", "emit"):
        if not callable(getattr(op, attr)):
            problems.append(f"{op.name}: {attr} must be callable")
    low, high = op.n_inputs if isinstance(op.n_inputs, tuple) and len(op.n_inputs) == 2 \
        else (None, None)
    if not isinstance(low, int) or not (high is None or isinstance(high, int) and high >= low):
        problems.append(f"{op.name}: n_inputs must be (min, max or None)")
    types = param_types()
    seen = set()
    for param in op.params:
        if not isinstance(param, Param):
            problems.append(f"{op.name}: params must be Param objects, got "
                            f"{type(param).__name__}")
            continue
        if param.name in seen:
            problems.append(f"{op.name}: parameter {param.name!r} declared twice")
        seen.add(param.name)
        if param.name in RESERVED_PARAM_NAMES or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*",
                                                                  str(param.name)):
            problems.append(f"{op.name}: {param.name!r} cannot be a parameter name")
        if param.type not in types:
            problems.append(f"{op.name}.{param.name}: unknown type {param.type!r} "
                            f"(one of {', '.join(types)})")
    return problems


__all__ = ["OpDef", "Param", "REQUIRED", "InferCtx", "EmitCtx", "ShapeError", "TensorType",
           "Saved", "SaveCtx", "saves_inputs", "saves_output",
           "Dim", "Sym", "emit_call", "module_op", "function_op", "validate_op",
           "param_types", "RESERVED_PARAM_NAMES", "enable"]
