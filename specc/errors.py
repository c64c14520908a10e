"""Diagnostics: the one structured error/warning object every stage produces.

Modelled on python-jsonschema's errors: a code, a message, and a path back into the
document (file, line, column, node path) so every finding can be printed as
``path:line:col: CODE message``.
"""
from __future__ import annotations

from specc.codes import CODES, SEVERITIES
from specc.values import Record, Value

SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


class Loc(Value):
    """A position in a spec file (1-based line and column, as editors show them). ``file``
    is set in a file the spec includes (None: the spec itself)."""

    __slots__ = ("line", "col", "file")
    line: int
    col: int
    file: str | None

    def __init__(self, line: int = 0, col: int = 0, file: str | None = None):
        self._set_fields(line, col, file)

    def __bool__(self) -> bool:
        return self.line > 0


NOWHERE = Loc()


class Diagnostic(Value):
    """One finding, located in the spec."""

    __slots__ = ("code", "message", "severity", "loc", "node", "hint", "rule", "file",
                 "instances")
    code: str
    message: str
    severity: str
    loc: Loc
    node: str | None  # dotted node path, e.g. "layer1.0.conv1"
    hint: str | None
    rule: str | None  # kebab-case rule name for lint findings
    file: str | None
    instances: tuple  # every block instance / repeat copy the finding applies to

    def __init__(self, code: str, message: str, severity: str = "error", loc: Loc = NOWHERE,
                 node: str | None = None, hint: str | None = None, rule: str | None = None,
                 file: str | None = None, instances: tuple = ()):
        self._set_fields(code, message, severity, loc, node, hint, rule, file, instances)

    def with_file(self, file: str) -> "Diagnostic":
        """The diagnostic in ``file`` (the spec), unless it is located in an included file."""
        return self.replace(file=self.loc.file or file)

    def format(self) -> str:
        where = f"{self.file or '<spec>'}:{self.loc.line}:{self.loc.col}"
        text = f"{where}: {self.code} {self.message}"
        if self.node:
            text += f" [node {self.node}]"
        if self.hint:
            text += f"\n    hint: {self.hint}"
        return text

    def to_json(self) -> dict:
        return {
            "code": self.code,
            "rule": self.rule,
            "severity": self.severity,
            "message": self.message,
            "line": self.loc.line,
            "column": self.loc.col,
            "node": self.node,
            "hint": self.hint,
            "instances": list(self.instances),
        }


def collapse_instances(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Report each problem once: a mistake written once inside a block (or a repeated layer)
    shows up once per instance, all at the same source position with the same code. Keep
    the first, and name the instances in its message ("in 4 instances: layer1.0, …")."""
    groups: dict = {}
    for d in diagnostics:
        key = (d.file, d.code, d.loc) if d.loc else id(d)
        groups.setdefault(key, []).append(d)
    out = []
    for group in groups.values():
        first = group[0]
        nodes = [d.node for d in group if d.node]
        if len(nodes) < 2:
            out.append(first)
            continue
        names = _instance_names(nodes)
        shown = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
        out.append(first.replace(message=f"{first.message} (in {len(names)} instances: {shown})",
                           instances=tuple(names)))
    return out


def _instance_names(nodes: list[str]) -> list[str]:
    """layer1.0.conv1, layer1.1.conv1 → layer1.0, layer1.1 (drop the common dotted tail)."""
    parts = [n.split(".") for n in nodes]
    tail = 0
    while all(len(p) > tail + 1 for p in parts) and len({p[-1 - tail] for p in parts}) == 1:
        tail += 1
    return list(dict.fromkeys(".".join(p[:len(p) - tail]) for p in parts))


class SpecError(Exception):
    """Raised by a stage that cannot go on; carries one or more diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic] | Diagnostic):
        if isinstance(diagnostics, Diagnostic):
            diagnostics = [diagnostics]
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


class BuildError(Exception):
    """A valid spec could not be made into a working torch module here: the device is not
    available, weights do not fit, an optional package is missing, an exporter refused."""


class DeviceError(BuildError):
    """The requested device does not exist on this machine (e.g. ``cuda`` without a GPU)."""


class DtypeError(BuildError, ValueError):
    """The requested dtype is not one a model can be built in (``"bf16"``, ``torch.int8``)."""


class WeightsError(BuildError):
    """A weights file cannot be read or does not fit the model strictly."""


def error(code: str, message: str, loc: Loc = NOWHERE, node: str | None = None,
          hint: str | None = None) -> SpecError:
    return SpecError(Diagnostic(code, message, "error", loc, node, hint))


class Limits(Record):
    """Resource limits for hostile input, reported as E004 (exit code 2).

    Set them in `[tool.specc.limits]` (pyproject.toml) or `[limits]` (specc.toml); every
    one is listed in docs/errors.md (LIMIT_DOCS)."""

    __slots__ = ("max_file_bytes", "max_yaml_nodes", "max_depth", "max_graph_nodes",
                 "max_repeat", "max_dim", "max_count", "max_nesting", "max_expansion_steps",
                 "max_includes", "max_include_depth")

    def __init__(self, max_file_bytes: int = 5_000_000, max_yaml_nodes: int = 1_000_000,
                 max_depth: int = 200, max_graph_nodes: int = 50_000, max_repeat: int = 10_000,
                 max_dim: int = 2 ** 40, max_count: int = 10 ** 18, max_nesting: int = 50,
                 max_expansion_steps: int = 250_000,  # 5 per node at max_graph_nodes
                 max_includes: int = 256, max_include_depth: int = 16):
        self.max_file_bytes = max_file_bytes
        self.max_yaml_nodes = max_yaml_nodes
        self.max_depth = max_depth
        self.max_graph_nodes = max_graph_nodes
        self.max_repeat = max_repeat
        self.max_dim = max_dim
        self.max_count = max_count
        self.max_nesting = max_nesting
        self.max_expansion_steps = max_expansion_steps
        self.max_includes = max_includes
        self.max_include_depth = max_include_depth


LIMIT_DOCS = {
    "max_file_bytes": "size of a spec file in bytes",
    "max_yaml_nodes": "YAML nodes after alias expansion (stops billion-laughs bombs)",
    "max_depth": "nesting depth of YAML mappings and sequences",
    "max_graph_nodes": "nodes in the expanded graph (after blocks and repeats)",
    "max_repeat": "the count of one `repeat`",
    "max_dim": "any concrete tensor size, declared or inferred",
    "max_nesting": "sequences nested in sequences (nested `layers`, blocks, inline blocks), "
                   "so the recursive stages (schema, expansion, render, code generation) "
                   "never run out of stack",
    "max_expansion_steps": "steps of expansion: every item, repeat copy, disabled item and "
                           "inline splice counts, not only the nodes they make (nested "
                           "repeats of empty blocks multiply to 10**12 steps otherwise)",
    "max_includes": "entries of `include:` followed, in the spec and in the files it includes "
                    "(a file listed twice counts twice); the files together are held to "
                    "max_file_bytes and max_yaml_nodes as one spec is",
    "max_include_depth": "files including files including files…",
    "max_count": "elements of any tensor, and the parameters and MACs of any node (numbers "
                 "that large are mistakes, and printing them would be slow)",
}


# The E-codes and their summaries (a view of specc.codes, the one table of codes).
ERROR_CODES = {c.code: c.summary for c in CODES.values() if not c.is_rule}
