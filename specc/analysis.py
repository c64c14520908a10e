"""The static pipeline end to end: load → validate → expand → infer → lint.

Never imports torch. :func:`analyse` returns an :class:`Analysis` whatever the input:
problems become diagnostics, never exceptions.
"""
from __future__ import annotations

import os

from specc.errors import SEVERITY_RANK, Diagnostic, Limits, Loc, SpecError, collapse_instances
from specc.ir import Graph
from specc.values import Record


class Analysis(Record):
    """What :func:`analyse` found: the graph (None when the spec could not be read) and its diagnostics."""

    __slots__ = ("path", "graph", "diagnostics", "source", "ignored_vars", "declared_vars",
                 "fit")

    def __init__(self, path: str, graph: Graph | None, diagnostics: list[Diagnostic] | None = None,
                 source: str = "", ignored_vars: list[str] | None = None,
                 declared_vars: list[str] | None = None, fit: object = None):
        self.path = path
        self.graph = graph
        self.diagnostics: list[Diagnostic] = [] if diagnostics is None else diagnostics
        self.source = source
        # outside vars the spec lacks
        self.ignored_vars: list[str] = [] if ignored_vars is None else ignored_vars
        # the spec's own vars
        self.declared_vars: list[str] = [] if declared_vars is None else declared_vars
        self.fit = fit  # specc.analyses.fit.Fit, when `check --memory` asked for it

    def worst(self) -> str | None:
        if not self.diagnostics:
            return None
        return max((d.severity for d in self.diagnostics), key=SEVERITY_RANK.__getitem__)

    def fails(self, fail_on: str = "error") -> bool:
        return any(SEVERITY_RANK[d.severity] >= SEVERITY_RANK[fail_on] for d in self.diagnostics)

    @property
    def ok(self) -> bool:
        return not self.fails("error")

    @property
    def totals(self) -> dict | None:
        """The numbers under `specc check`'s table: ``params``, ``trainable`` and ``macs``
        (per sample; symbolic where the sizes are). None when the spec could not be read."""
        if self.graph is None:
            return None
        from specc.infer import totals

        return totals(self.graph)

    def memory(self, dtype: str = "float32", optimizer: str = "adamw", amp: bool = False,
               dims: dict | None = None, device: str = "cuda"):
        """Bytes a training step and an inference pass hold (specc.analyses.memory):
        ``.parameters_bytes``, ``.activations_train_bytes``, ``.total_train_bytes``...
        Sizes still symbolic are bound with ``dims``; ``device`` ("cuda" or "cpu") picks
        whose kernels' saved tensors to count. Raises MemoryAnalysisError if sizes stay
        symbolic, an option is unknown or the spec has errors."""
        from specc.analyses.memory import MemoryAnalysisError, analyse_memory

        if self.graph is None or not self.ok:
            raise MemoryAnalysisError("the spec has errors; fix them first")
        return analyse_memory(self.graph, dtype=dtype, optimizer=optimizer, amp=amp, env=dims,
                              device=device)


def is_spec_path(source) -> bool:
    """A path (Path, or a one-line string ending in .yaml/.yml) rather than YAML text."""
    return isinstance(source, os.PathLike) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml")))


def analyse(source, *, path: str | None = None, dims: dict | None = None,
            limits: Limits | None = None, lint: bool = True, config=None,
            vars: dict | None = None) -> Analysis:
    from specc.loader import load_yaml_counted

    limits = limits or Limits()
    display = path or "<spec>"
    text = ""
    used = (0, 0)  # bytes and YAML nodes the spec takes (its includes get the rest)
    if isinstance(source, (bytearray, memoryview)):
        source = bytes(source)
    if not isinstance(source, (dict, str, bytes)):
        raise TypeError(f"specc.check takes a path, YAML text (str or bytes) or a dict, "
                        f"not {type(source).__name__}")
    try:
        if isinstance(source, dict):
            doc = _Locator(limits).located(source, 0)
        else:
            if isinstance(source, bytes):
                text = source.decode("utf-8", "replace")
            else:
                text = source
            doc, nodes = load_yaml_counted(source, limits)
            used = (len(source) if isinstance(source, bytes) else len(source.encode()), nodes)
    except SpecError as exc:
        return Analysis(display, None, _with_file(exc.diagnostics, display), text)
    plugin_problems = []
    if config is not None or path is not None:
        # the plugins of this spec's configuration (found from its path), never the spec's
        from specc.config import ConfigError, resolve_config
        from specc.plugin_loading import activate

        try:
            plugin_problems = activate(config if config is not None
                                       else resolve_config(path or ""))
        except ConfigError as exc:  # no trustworthy plugin list: none, and say why
            plugin_problems = activate(None) + [Diagnostic(
                "E010", f"plugins not loaded: {exc}", "error", Loc(1, 1), file=display)]
    analysis = analyse_document(doc, display, dims=dims, limits=limits, lint=lint,
                                config=config, source=text, vars=vars, origin=path, used=used)
    if plugin_problems:  # located in the configuration file, which keeps its own name
        analysis.diagnostics = plugin_problems + analysis.diagnostics
    return analysis


def analyse_document(doc, display: str, *, dims=None, limits=None, lint=True, config=None,
                     source: str = "", vars: dict | None = None, origin: str | None = None,
                     used: tuple[int, int] = (0, 0)) -> Analysis:
    """``origin`` is the spec's path, where its `include:` files are found; ``used`` the
    bytes and YAML nodes the spec itself took of the limits its includes share."""
    from specc.expand import expand
    from specc.include import resolve_includes
    from specc.infer import infer
    from specc.loader import LDict
    from specc.schema import validate

    limits = limits or Limits()
    problems, included = resolve_includes(doc, origin, limits, *used)
    if problems:  # the blocks are incomplete: every use of them would be a false E204
        return Analysis(display, None, _with_file(problems, display), source)
    ignored: list[str] = []
    if vars:
        from specc.vars import apply_vars

        doc, ignored = apply_vars(doc, vars)
    too_many = _too_many_layers(doc, limits)
    if too_many is not None:  # refuse before the (slower) schema validation walks them all
        return Analysis(display, None, _with_file([too_many], display), source)
    diagnostics = validate(doc)
    graph = None
    if isinstance(doc, LDict):  # what the loader and _Locator make of a mapping
        try:
            graph, found = expand(doc, dims, limits)
        except SpecError as exc:
            diagnostics += exc.diagnostics
        except (TypeError, AttributeError, KeyError, ValueError):
            # only a document the schema already rejected can confuse the expander
            if not diagnostics:
                raise
        else:
            diagnostics = _merge(diagnostics, found)
    if graph is not None:
        diagnostics = _merge(diagnostics, infer(graph, limits))
        from specc.tie import resolve_ties

        from specc.initializers import check_inits

        diagnostics = _merge(diagnostics, resolve_ties(graph) + check_inits(graph))
        if lint:
            from specc.lint import run_lints

            diagnostics = run_lints(graph, diagnostics, source.splitlines(), config,
                                    {path: text.splitlines() for path, text in included.items()})
        diagnostics = collapse_instances(diagnostics)
    from specc.vars import declared_vars

    return Analysis(display, graph, _with_file(diagnostics, display), source, ignored,
                    declared_vars(doc))


def _too_many_layers(doc, limits: Limits):
    """E004 when the `layers` lists alone hold more items than max_graph_nodes, or nest
    deeper than max_nesting: one iterative walk, before the recursive stages see the
    document (the schema validator would otherwise hit Python's recursion limit first)."""
    total, stack = 0, [(doc, -1)]  # the model's own `layers` are level 0
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = depth
                if key == "layers" and isinstance(item, list):
                    total += len(item)
                    inner = depth + 1
                    if inner > limits.max_nesting:
                        return Diagnostic("E004", f"`layers` nest more than {limits.max_nesting}"
                                          " levels deep (max_nesting)", "error",
                                          getattr(item, "loc", Loc(1, 1)))
                stack.append((item, inner))
        elif isinstance(value, list):
            stack.extend((v, depth) for v in value if isinstance(v, (dict, list)))
    if total > limits.max_graph_nodes:
        return Diagnostic("E004", f"the spec lists {total} layers, more than "
                          f"{limits.max_graph_nodes} (max_graph_nodes)", "error",
                          getattr(doc.get("layers"), "loc", Loc(1, 1)) if isinstance(doc, dict)
                          else Loc(1, 1))
    return None


def _merge(first: list[Diagnostic], second: list[Diagnostic]) -> list[Diagnostic]:
    """Schema and expander can find the same mistake: keep one per (line, code family)."""
    seen = {(d.loc.file, d.loc.line, d.code) for d in first}
    seen_lines = {(d.loc.file, d.loc.line) for d in first}
    out = list(first)
    for d in second:
        if (d.loc.file, d.loc.line, d.code) in seen or (
                d.code[:2] == "E1" and (d.loc.file, d.loc.line) in seen_lines):
            continue
        out.append(d)
    return out


def _with_file(diagnostics, display: str) -> list[Diagnostic]:
    return [d.with_file(display) for d in diagnostics]


class _Locator:
    """A plain dict/list from the Python API → LDict/LList without positions, under the
    limits a YAML file is held to: depth, total nodes (shared sub-objects count each time
    they appear, like YAML aliases), no cycles, keys are strings, and numbers are ones the
    loader would accept (an int of 5,000 digits cannot even be printed)."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.count = 0
        self.active: set[int] = set()  # ids of the containers on the current path

    def located(self, value, depth: int):
        from specc.loader import _MAX_INT_DIGITS, LDict, LList

        self.count += 1
        if self.count > self.limits.max_yaml_nodes:
            raise _limit(f"the document has more than {self.limits.max_yaml_nodes} values "
                         "(max_yaml_nodes)")
        if isinstance(value, (dict, list, tuple)):
            if depth >= self.limits.max_depth:
                raise _limit(f"nesting is deeper than {self.limits.max_depth} levels (max_depth)")
            if id(value) in self.active:
                raise _limit("the document contains itself (a cycle)")
            self.active.add(id(value))
            try:
                if isinstance(value, dict):
                    out = LDict(Loc(0, 0))
                    for k, v in value.items():
                        if not isinstance(k, str):
                            raise SpecError(Diagnostic("E104", f"mapping keys in a spec are "
                                                       f"names, got {type(k).__name__}"))
                        out[k] = self.located(v, depth + 1)
                    return out
                items = LList(Loc(0, 0))
                for v in value:
                    items.append(self.located(v, depth + 1))
                    items.item_locs.append(Loc(0, 0))
                return items
            finally:
                self.active.discard(id(value))
        if isinstance(value, int) and not isinstance(value, bool) \
                and abs(value) >= 10 ** _MAX_INT_DIGITS:
            raise _limit(f"an integer of more than {_MAX_INT_DIGITS} digits is too large")
        if isinstance(value, float) and (value != value or value in (float("inf"),
                                                                      float("-inf"))):
            raise _limit(f"{value} is not a usable number in a model spec")
        return value


def _limit(message: str) -> SpecError:
    return SpecError(Diagnostic("E004", message, "error", Loc(1, 1)))


def analyse_path(path: str, **kwargs) -> Analysis:
    from specc.files import FileTooLarge, read_bounded

    limits = kwargs.get("limits") or Limits()
    try:
        data = read_bounded(path, limits.max_file_bytes)
    except FileTooLarge as exc:
        return Analysis(path, None, [Diagnostic(
            "E004", f"file is over the limit of {exc.limit} bytes (max_file_bytes)",
            loc=Loc(1, 1), file=path)])
    except OSError as exc:
        return Analysis(path, None, [Diagnostic("E000", f"cannot read {path}: "
                                                f"{exc.strerror or exc}", loc=Loc(1, 1),
                                                file=path)])
    return analyse(data, path=path, **kwargs)
