"""The rule registry, in the style of ruff.

A rule's code, name, severity and explanation are declared in :mod:`specc.codes`; its
check is a function ``check(graph, facts) -> iterable of (node, message[, loc])``
registered against that code with :func:`rule`. :func:`run_lints` runs the selected rules, applies inline
suppressions (``# specc: ignore[rule-name]`` on the node's line) and reports
suppressions that suppressed nothing.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from specc import codes
from specc.codes import Code
from specc.errors import Diagnostic, Loc
from specc.ir import Graph, Node

Rule = Code  # a lint rule is a code of specc.codes whose code starts with L

# Every lint rule (L###), sorted by code, including those that shape inference finds (they
# have no check function) and unused-suppression (which the registry itself reports).
RULES: dict[str, Code] = {c.code: c for c in sorted(codes.CODES.values(), key=lambda c: c.code)
                          if c.is_rule}
CHECKS: dict[str, Callable] = {}  # code -> check function, for rules that lint finds


def rule(code: Code):
    """Register the check function of a lint rule declared in specc.codes."""
    def register(check):
        if not isinstance(code, Code) or code.code not in RULES:
            raise ValueError(f"{code!r}: a lint rule is declared in specc/codes.py first "
                             "(code, name, severity, summary, explanation, hint)")
        if code.code in CHECKS:
            raise ValueError(f"rule {code.code} {code.name} has two checks")
        CHECKS[code.code] = check
        return check
    return register


def find_rule(key: str) -> Code | None:
    """A lint rule by code or name (E-codes are not rules: see specc.codes.lookup)."""
    found = codes.lookup(key)
    return found if found is not None and found.is_rule else None


def matches(r: Rule, selectors: Iterable[str]) -> bool:
    """A selector is a code, a code prefix ('L1', 'L'), a rule name, or 'ALL'."""
    for s in selectors:
        s = s.strip()
        if not s:
            continue
        if s.upper() == "ALL" or r.code.startswith(s.upper()) or s.lower() == r.name:
            return True
    return False


_SUPPRESS = re.compile(r"#\s*specc:\s*ignore(?:\[([^\]]*)\])?")


def _suppressions(source_lines: list[str], file: str | None = None,
                  found: dict | None = None) -> dict[tuple, tuple[set, Loc]]:
    """(file, line) -> (rule names/codes suppressed, where the comment is); empty set = all.
    ``file`` is None for the spec itself, else an included file's path."""
    found = {} if found is None else found
    for number, line in enumerate(source_lines, start=1):
        match = _SUPPRESS.search(line)
        if match:
            names = {n.strip() for n in (match.group(1) or "").split(",") if n.strip()}
            found[file, number] = (names, Loc(number, match.start() + 1, file))
    return found


def run_lints(graph: Graph, earlier: list[Diagnostic], source_lines: list[str],
              config=None, included: dict | None = None) -> list[Diagnostic]:
    """The earlier stages' diagnostics plus the selected rules' findings, with selection
    and the `# specc: ignore` comments of the spec (and of the files it includes:
    ``included`` maps their paths to their lines) applied to every finding with a rule."""
    _load_rules()
    select = getattr(config, "select", None) or ["ALL"]
    ignore = getattr(config, "ignore", None) or []
    diagnostics = list(earlier)
    if any(d.severity == "error" and d.code[:2] in _INCOMPLETE for d in diagnostics):
        # the graph is incomplete (a bad document, a dangling `from`, a duplicate name):
        # lint would reason about a graph that is not the one written — report nothing more
        return diagnostics
    facts = _Facts(graph)
    tainted = _downstream_of_errors(diagnostics, facts)
    for code, check in CHECKS.items():
        r = RULES[code]
        if not matches(r, select) or matches(r, ignore):
            continue
        for node, message, *extra in check(graph, facts):
            if node.id in tainted:
                continue  # follow-on noise of an error already reported
            loc = extra[0] if extra and extra[0] else node.loc
            diagnostics.append(Diagnostic(r.code, message, r.severity, loc, node.id, r.hint,
                                          rule=r.name))
    # selection applies to every finding with a rule, including those inference reported
    diagnostics = [d for d in diagnostics if d.rule is None or _selected(d.rule, select, ignore)]
    suppressions = _suppressions(source_lines)
    for file, lines in (included or {}).items():
        _suppressions(lines, file, suppressions)
    return _apply_suppressions(suppressions, diagnostics,
                               _selected("unused-suppression", select, ignore))


# error code families after which the graph does not say what the spec meant
_INCOMPLETE = ("E0", "E1", "E2")


def _downstream_of_errors(diagnostics: list[Diagnostic], facts) -> set:
    """Ids of the nodes an error was reported on, and of every node that reads from them."""
    stack = [d.node for d in diagnostics if d.severity == "error" and d.node]
    tainted: set = set()
    while stack:
        node_id = stack.pop()
        if node_id in tainted:
            continue
        tainted.add(node_id)
        stack += [n.id for n, _ in facts.consumers.get(node_id, [])]
    return tainted


def _selected(name: str, select, ignore) -> bool:
    """Whether findings of this rule are reported. Those torch would reject always are."""
    r = find_rule(name)
    return r is None or not r.can_disable or (matches(r, select) and not matches(r, ignore))


def _apply_suppressions(suppressions: dict, diagnostics: list[Diagnostic],
                        report_unused: bool = True) -> list[Diagnostic]:
    if not suppressions:
        return diagnostics
    used: set = set()
    kept = []
    for d in diagnostics:
        line = (d.loc.file, d.loc.line)
        entry = suppressions.get(line)
        r = find_rule(d.rule) if entry is not None and d.rule is not None else None
        if entry is not None and r is not None and r.can_disable and (
                not entry[0] or d.rule in entry[0] or d.code in entry[0]):
            used.add((line, d.rule))
            used.add((line, d.code))
            continue
        kept.append(d)
    meta = codes.UNUSED_SUPPRESSION
    for line, (names, loc) in suppressions.items() if report_unused else ():
        for name in sorted(names) or ["*"]:
            if name == "*" and not any(u[0] == line for u in used):
                kept.append(Diagnostic(meta.code, "this `specc: ignore` suppresses nothing",
                                       meta.severity, loc, rule=meta.name, hint=meta.hint))
            elif name != "*" and (line, name) not in used:
                known = find_rule(name)
                why = "suppresses nothing" if known else "names no rule"
                kept.append(Diagnostic(meta.code, f"`specc: ignore[{name}]` {why}", meta.severity,
                                       loc, rule=meta.name,
                                       hint="remove it" if known else "see `specc rules`"))
    return kept


class _Facts:
    """Derived facts that several rules use, computed once per graph."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self.consumers = graph.consumers()

    def users(self, node: Node) -> list[Node]:
        return [n for n, _ in self.consumers.get(node.id, [])]


def _load_rules() -> None:
    from specc.lint import rules  # noqa: F401  (registers every rule)

