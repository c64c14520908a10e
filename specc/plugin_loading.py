"""Loading the plugins the user's configuration enables — never a spec.

``[tool.specc] plugins = ["myproject.specc_ops"]`` (pyproject.toml, or specc.toml) names
modules to import; ``entry-points = true`` also loads installed packages' ``specc.ops``
entry points. A plugin module provides ``specc_ops()`` returning its :class:`OpDef` list (or
a ``SPECC_OPS`` list). Whatever goes wrong — the import raises, the function raises or
returns something else, a declaration is unsound, a name clashes — becomes an E010
diagnostic located at the plugin's entry in the configuration file and naming the plugin.

The ops of the configuration in use are the active ones (:data:`ACTIVE_PLUGIN_OPS`); a spec
under another configuration does not see them.
"""
from __future__ import annotations

import importlib
import re

from specc import codes
from specc.errors import Diagnostic, Loc
from specc.ops.base import ACTIVE_PLUGIN_OPS, OpDef

ENTRY_POINT_GROUP = "specc.ops"
CODE = codes.PLUGIN_LOAD.code


class LoadedPlugins:
    """The ops and lint rules of the active plugins."""

    __slots__ = ("ops", "diagnostics")

    def __init__(self, ops: dict | None = None, diagnostics: list | None = None):
        self.ops: dict = {} if ops is None else ops  # op name -> OpDef
        self.diagnostics: list = [] if diagnostics is None else diagnostics


_CACHE: dict = {}


def _where(config_path: str | None, needle: str) -> Loc:
    """The line and column of ``needle`` in the configuration file (for the diagnostic)."""
    if not config_path:
        return Loc(1, 1)
    try:
        with open(config_path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return Loc(1, 1)
    for candidate in (f'"{needle}"', f"'{needle}'", needle):  # the quoted entry first
        for number, line in enumerate(lines, 1):
            col = line.find(candidate)
            if col >= 0:
                return Loc(number, col + 1)
    return Loc(1, 1)


def _declared(obj, label: str) -> list:
    """The OpDefs a plugin object declares: a module with specc_ops()/SPECC_OPS, a function
    returning them, or a list of them."""
    if hasattr(obj, "specc_ops"):
        obj = obj.specc_ops
    elif hasattr(obj, "SPECC_OPS"):
        obj = obj.SPECC_OPS
    elif isinstance(obj, type(re)):
        raise _PluginError(f"plugin {label} defines neither specc_ops() nor SPECC_OPS")
    if callable(obj) and not isinstance(obj, OpDef):
        try:
            obj = obj()
        except Exception as exc:  # the plugin's own code: report it, never a traceback
            raise _PluginError(f"plugin {label}: specc_ops() raised {type(exc).__name__}: "
                               f"{exc}") from None
    if isinstance(obj, OpDef):
        obj = [obj]
    if isinstance(obj, (str, bytes, dict)) or not hasattr(obj, "__iter__"):
        raise _PluginError(f"plugin {label}: specc_ops() must return a list of OpDef, got "
                           f"{type(obj).__name__}")
    return list(obj)


class _PluginError(Exception):
    pass


def load_plugins(names: tuple, entry_points: bool = False,
                 config_path: str | None = None) -> LoadedPlugins:
    """Import and validate the plugins; cached per configuration."""
    key = (tuple(names), bool(entry_points), config_path)
    if key in _CACHE:
        return _CACHE[key]
    from specc.ops.base import REGISTRY, all_ops
    from specc.plugin import validate_op

    all_ops()  # the built-ins are registered before anything is compared with them
    loaded = LoadedPlugins()
    owner: dict = {}

    def report(message: str, needle: str, hint: str | None = None) -> None:
        loaded.diagnostics.append(Diagnostic(CODE, message, "error",
                                             _where(config_path, needle), None, hint,
                                             file=config_path))

    sources: list = [(repr(name), name, lambda n=name: importlib.import_module(n))
                     for name in names]  # (label, text to locate in the config, loader)
    if entry_points:
        from importlib.metadata import entry_points as find_entry_points

        for ep in find_entry_points(group=ENTRY_POINT_GROUP):
            sources.append((f"{ep.name!r} (entry point {ep.value})", "entry-points",
                            ep.load))
    for label, needle, load in sources:
        try:
            obj = load()
        except Exception as exc:  # import errors of the user's plugin are findings
            report(f"plugin {label} cannot be imported: {type(exc).__name__}: {exc}", needle,
                   "is the plugin's package on PYTHONPATH (or installed)?")
            continue
        try:
            ops = _declared(obj, label)
        except _PluginError as exc:
            report(str(exc), needle, "see docs/plugins.md")
            continue
        for op in ops:
            problems = validate_op(op)
            if problems:
                report(f"plugin {label}: " + "; ".join(problems), needle, "see docs/plugins.md")
                continue
            if op.name in REGISTRY:
                report(f"plugin {label} declares op '{op.name}', which specc already has",
                       needle, "rename the plugin's op")
                continue
            if op.name in owner:
                report(f"op '{op.name}' is declared by both plugin {owner[op.name]} and plugin "
                       f"{label}", needle, "rename one of them, or enable only one plugin")
                continue
            op.plugin = label
            owner[op.name] = label
            loaded.ops[op.name] = op
    _CACHE[key] = loaded
    return loaded


def activate(config) -> list[Diagnostic]:
    """Make the configuration's plugin ops the active ones (none without a config)."""
    names = tuple(getattr(config, "plugins", ()) or ())
    entry_points = bool(getattr(config, "entry_points", False))
    if not names and not entry_points:
        ACTIVE_PLUGIN_OPS.clear()
        return []
    loaded = load_plugins(names, entry_points, getattr(config, "source", None))
    if ACTIVE_PLUGIN_OPS != loaded.ops:
        ACTIVE_PLUGIN_OPS.clear()
        ACTIVE_PLUGIN_OPS.update(loaded.ops)
    return list(loaded.diagnostics)


def deactivate() -> None:
    ACTIVE_PLUGIN_OPS.clear()
