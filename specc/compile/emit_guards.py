"""The checks the ``--emit-python`` file's ``build_model(**vars)`` makes of its arguments:
it refuses the values of the spec's vars that ``specc check --var`` refuses, in check's
words and naming the var (``build_model: hidden=1: fc2: Linear.out_features must be a
positive integer, got 0 (hidden // 2)``), instead of building a model check would not
(``Linear(out_features=0)``) or failing inside torch without naming it.

The checks are derived from the spec, not written per spec: every value of the model an
expression of the vars computes and check tests is one guard in build_model —

- an op's argument (``out_features: ${hidden // 2}``): the test of its parameter's type
  (:data:`specc.ops.ptypes.PTYPES`, ``nhead`` a positive integer, which ``True`` is not)
  or its choices, exactly as expansion tests it (``check_value``);
- a named repeat's count (``repeat: $layers``): a positive integer;
- a var computed from others (``head_dim: ${hidden_size // num_attention_heads}``): that
  it can be computed at all (``num_attention_heads=0`` divides by zero).

Each is written in the vars build_model takes: a block's params are replaced by what its
caller gives them (an expression of the caller's names, or a literal), a derived var by
its expression. A value that no such expression computes exactly (one that reads a
repeat's ``i``, a block param whose default is an expression, a list var) gets no guard.
A value under an ``if:`` is checked under that condition. What only shape inference
finds (``nhead`` must divide ``d_model``; a kernel larger than its input) is no guard:
torch refuses some of it while build_model builds (``embed_dim must be divisible by
num_heads``), and build_model then re-raises torch's error naming the vars given other
values than their defaults; what torch only refuses when the model runs is not caught.

A var whose name the module cannot use as a Python name (``class``, ``nn``, ``model``,
``int``) is a parameter under another name inside the file (:func:`python_names`) and comes
by keyword: ``build_model(**{"class": 3})``, ``build_model(nn=4)``.

Nothing a spec writes reaches the code but as a repr'd literal or an expression re-written
from its parsed tree (names checked to be the vars). This module does not import torch.
"""
from __future__ import annotations

import ast
import builtins
import keyword
import re
from dataclasses import dataclass, field

from specc.compile.readable import _ALLOWED as _CODE_NODES
from specc.compile.readable import (_FUNCTIONS, _INDENT, _WIDTH, _call, _Math, _packed,
                                    _signature)
from specc.compile.scopes import op_of
from specc.expr import expression_text
from specc.ir import Graph, Scope

_INTS = "isinstance(value, list) and len(value) >= 1 and all({} for x in value)"
_SYMBOL = "isinstance(x, str) and x.isidentifier() and x.isascii()"

# ptype (specc.ops.ptypes.PTYPES) -> (its check as an expression of `value`, the types of
# the values it takes at all: a value of another type is a TypeError, else a ValueError).
# The expressions may call _int and _number (_NUMBERS). tests/test_emit_guards.py checks
# that each agrees with PTYPES' check on many values.
PREDICATES = {
    "int": ("_int(value)", "int"),
    "posint": ("_int(value) and value >= 1", "int"),
    "nonneg": ("_int(value) and value >= 0", "int"),
    "float": ("_number(value)", "int, float"),
    "posfloat": ("_number(value) and value > 0", "int, float"),
    "nonnegfloat": ("_number(value) and value >= 0", "int, float"),
    "prob": ("_number(value) and 0 <= value <= 1", "int, float"),
    "bool": ("isinstance(value, bool)", "bool"),
    "str": ("isinstance(value, str)", "str"),
    "posints": ("_int(value) and value >= 1 or " + _INTS.format("_int(x) and x >= 1"),
                "int, list"),
    "optposints": ("value is None or _int(value) and value >= 1 or " +
                   _INTS.format("_int(x) and x >= 1"), "int, list"),
    "nonnegints": ("_int(value) and value >= 0 or " + _INTS.format("_int(x) and x >= 0"),
                   "int, list"),
    "padding": ("_int(value) and value >= 0 or " + _INTS.format("_int(x) and x >= 0") +
                " or value in ('same', 'valid')", "int, list, str"),
    "dims": ("_int(value) or " + _INTS.format("_int(x)"), "int, list"),
    "ints": (_INTS.format("_int(x)"), "list"),
    "optint": ("value is None or _int(value)", "int"),
    "optpos": ("value is None or _int(value) and value >= 1", "int"),
    "optfloat": ("value is None or _number(value)", "int, float"),
    "optbool": ("value is None or isinstance(value, bool)", "bool"),
    "optname": ("value is None or isinstance(value, str) and value.isidentifier()", "str"),
    "optintsym": ("value is None or _int(value) or isinstance(value, str) and "
                  "value.isidentifier()", "int, str"),
    "optdims": ("value is None or _int(value) or " + _INTS.format("_int(x)"), "int, list"),
    "shape": (f"isinstance(value, list) and all(_int(x) or {_SYMBOL} for x in value)",
              "list"),
    "outsize": ("_int(value) and value >= 1 or isinstance(value, list) and len(value) >= 1 "
                "and all(x is None or _int(x) and x >= 1 for x in value)", "int, list"),
    "names": (f"isinstance(value, list) and all({_SYMBOL} for x in value) and "
              "len(set(value)) == len(value)", "list"),
    "scale": ("_number(value) and value > 0 or isinstance(value, list) and len(value) >= 1 "
              "and all(_number(x) and x > 0 for x in value)", "int, float, list"),
    "fill": ("_number(value) or value in ('-inf', 'inf', 'nan', 'min', 'max')",
             "int, float, str"),
}
# the functions the expressions call, as the file defines them
_NUMBERS = {
    "_int": 'def _int(value):\n'
            '    """An integer, which True and False are not (as specc reads values)."""\n'
            '    return isinstance(value, int) and not isinstance(value, bool)',
    "_number": 'def _number(value):\n'
               '    """A number, which True and False are not (as specc reads values)."""\n'
               '    return isinstance(value, (int, float)) and not isinstance(value, bool)',
}

# the ptype whose check is more than an expression (a nested list of numbers): no guard;
# check's own error is all there is for it
UNGUARDED = {"values"}

_ALLOWED = _CODE_NODES + (ast.List,)  # the readable code's, and lists of them
_PLAIN = (bool, int, float, str, type(None))


@dataclass(frozen=True)
class Guard:
    """One test build_model makes: ``code`` (the value, in build_model's names) passes
    ``check`` (a PREDICATES key, ``choices``, or "" for: it can be computed), when
    ``when`` (code; "" for always) holds. ``what`` is where check reports it."""

    code: str
    names: tuple  # the vars it reads (build_model's names), in the order they appear
    check: str
    choices: tuple | None
    expected: str  # check's words for what the value must be
    what: str
    when: str = ""
    # the names of block params each copy of a repeat has its own value of (`block_id`),
    # and their values, one tuple a copy: the check is made for each
    loop: tuple = ()
    copies: list = field(default_factory=list)


# ---------------------------------------------------------------- names the file can use

def python_names(declared, unusable) -> dict:
    """spec name -> the Python name build_model's code gives a var whose own name it
    cannot use (a keyword, a builtin, a name the module defines or imports, one starting
    with "_"): ``class`` -> ``class_``, ``nn`` -> ``nn_``. Every other var keeps its name."""
    taken = set(declared)
    out = {}
    for name in declared:
        if _usable(name, unusable):
            continue
        base = name.lstrip("_") or "var"
        candidate = f"{base}_"
        while candidate in taken or not _usable(candidate, unusable):
            candidate += "_"
        taken.add(candidate)
        out[name] = candidate
    return out


def _usable(name: str, unusable) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("_") \
        and name not in unusable and not hasattr(builtins, name)


_WHOLE_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")


def renamed_expression(raw, renames: dict):
    """A spec value with the vars of ``renames`` called by their new names: ``$class``,
    ``${nn * 2}`` (a name read as a variable, not a function called: ``int(x)``). Values
    that are no expressions come back as they are."""
    if isinstance(raw, list):
        return [renamed_expression(item, renames) for item in raw]
    if not isinstance(raw, str) or "$" not in raw:
        return raw
    match = _WHOLE_VAR.fullmatch(raw)
    if match is not None:
        return f"${renames.get(match.group(1), match.group(1))}"
    text = expression_text(raw)
    if text is None:  # text with values interpolated: ``layer_$i``
        return _WHOLE_VAR.sub(lambda m: f"${renames.get(m.group(1), m.group(1))}", raw)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError:
        return raw
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and id(node) not in called and node.id in renames:
            node.id = renames[node.id]
    return "${" + ast.unparse(tree) + "}"


def rename_graph_vars(graph: Graph, renames: dict) -> Graph:
    """The graph with its vars called by ``renames``' names, in place: ``graph.vars`` and
    every expression that reads them (a node's arguments, a block's arguments, a repeat's
    count, an ``if:``), but not inside a block whose own param has the var's name."""
    if not renames:
        return graph
    graph.vars = {renames.get(name, name): value for name, value in graph.vars.items()}

    def rename(exprs: dict, block: Scope | None) -> dict:
        shadowed = set(block.params) if block is not None else set()
        mine = {name: new for name, new in renames.items() if name not in shadowed}
        return {key: renamed_expression(raw, mine) for key, raw in exprs.items()}

    for node in graph.nodes:
        node.exprs = rename(node.exprs, _block_of(node.scope))
    for scope in _scopes(graph.root):
        scope.exprs = rename(scope.exprs, _block_of(scope.parent))
    return graph


# ---------------------------------------------------------------- the guards of a graph

def _block_of(scope: Scope | None) -> Scope | None:
    """The innermost block instance at or around ``scope``: its params are the names its
    layers' expressions read besides the vars (None: the vars only)."""
    while scope is not None and scope.kind != "block":
        scope = scope.parent
    return scope


def _scopes(scope: Scope):
    yield scope
    for item in scope.items:
        if isinstance(item, Scope):
            yield from _scopes(item)


class _Writer:
    """The spec's expressions as code in build_model's names: the vars it takes and
    derived vars' expressions; a block's params as their caller gives them."""

    def __init__(self, params: set, derived: dict, definitions: dict):
        self.params = params  # the vars build_model takes (by their names in the code)
        self.derived = derived  # var -> its expression, for vars computed from others
        self.definitions = definitions  # block -> {param: its default as written}

    def code(self, raw, block: Scope | None, depth: int = 0) -> ast.expr | None:
        """The expression of a value in build_model's names, where it computes the value
        for every value of the vars; else None."""
        if depth > 16:
            return None
        if isinstance(raw, list):
            items = [tree for item in raw if (tree := self.code(item, block, depth)) is not None]
            return ast.List(elts=items, ctx=ast.Load()) if len(items) == len(raw) else None
        if not isinstance(raw, str) or "$" not in raw:
            return ast.Constant(raw) if isinstance(raw, _PLAIN) else None
        text = expression_text(raw)
        if text is None:
            return None  # text with values interpolated
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            return None
        called = set()
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED):
                return None
            if isinstance(node, ast.Call):
                if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS \
                        or node.keywords:
                    return None
                called.add(id(node.func))
        writer = self

        class Names(ast.NodeTransformer):
            failed = False

            def visit_Name(self, node):  # noqa: N802
                if id(node) in called:
                    return node
                found = writer.name(node.id, block, depth)
                if found is None:
                    self.failed = True
                    return node
                return found

        names = Names()
        tree = _Decided().visit(names.visit(tree))
        return None if names.failed else tree

    def name(self, name: str, block: Scope | None, depth: int) -> ast.expr | None:
        if block is not None and name in block.params:
            if name in block.exprs:  # given as an expression of the caller's names
                caller = _block_of(block.parent)
                found = self.code(block.exprs[name], caller, depth + 1)
                if found is None and self._per_copy(block, name, caller):
                    found = ast.Name(name, ast.Load())
                    found.per_copy = block.params[name]  # type: ignore[attr-defined]
                return found
            definition = self.definitions.get(block.block)
            default = definition.get(name) if definition is not None else "$"
            value = block.params[name]
            # given as a literal, or a plain default: a constant; an expression default
            # may have computed it from the vars (or a literal given): no code is sure
            if isinstance(default, str) and "$" in default or isinstance(default, list):
                return None
            if isinstance(value, _PLAIN):
                return ast.Constant(value)
            return None
        if name in self.params:
            return ast.Name(name, ast.Load())
        if name in self.derived:
            return self.code(self.derived[name], None, depth + 1)
        return None

    def _per_copy(self, block: Scope, name: str, caller: Scope | None) -> bool:
        """A block param that each copy of a repeat computes from its index alone
        (``block_id: ${6 + i}``), a plain value: the same whatever the vars, so a check
        reading it is made for each copy's value. Not under a repeat whose count is an
        expression (a var may change which copies there are)."""
        if not isinstance(block.params[name], _PLAIN) or isinstance(block.params[name], str):
            return False
        text = expression_text(block.exprs[name])
        try:
            tree = ast.parse(text, mode="eval") if text is not None else None
        except SyntaxError:
            return False
        outer = set(caller.params) if caller is not None else set()
        if tree is None or any(isinstance(node, ast.Name) and (
                node.id in self.params or node.id in self.derived or node.id in outer)
                for node in ast.walk(tree)):
            return False
        scope: Scope | None = block
        while scope is not None:
            if "repeat" in scope.exprs:
                return False
            scope = scope.parent
        return True


class _Decided(ast.NodeTransformer):
    """``a if True else b`` as ``a``: a block param given as a literal decides it."""

    def visit_IfExp(self, node):  # noqa: N802
        self.generic_visit(node)
        if isinstance(node.test, ast.Constant):
            return node.body if node.test.value else node.orelse
        return node


def guards(graph: Graph, params: list, derived: dict, definitions: dict) -> list[Guard]:
    """The guards of the vars ``params`` (build_model's names) in the order the spec's
    values come, each once. ``derived``: var -> expression of the vars computed from
    others; ``definitions``: block -> {param: default as written}."""
    from specc.ops.ptypes import check_value

    writer = _Writer(set(params), derived, definitions)
    found: dict = {}

    def add(tree: ast.expr | None, when: list | None, check: str, choices, expected: str,
            what: str) -> None:
        if tree is None or when is None:
            return
        names = [node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
                 and node.id in writer.params]
        if not names:
            return  # a constant: check tested it
        when = [_Constants().visit(c) for c in when]  # a copy's own value decides its `if:`
        per_copy: dict[str, set] = {}  # loop variable -> this copy's value
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and hasattr(node, "per_copy"):
                node.id = _fresh(node.id, writer.params | set(_FILE_NAMES))
                per_copy.setdefault(node.id, set()).add(node.per_copy)
        if any(len(values) > 1 for values in per_copy.values()):
            tree, per_copy = _Constants().visit(tree), {}  # two params of one name
        code = ast.unparse(_Math().visit(tree))  # log(x): math.log(x)
        conditions = [ast.unparse(_Math().visit(c)) for c in when if _condition(c, writer)]
        condition = " and ".join(f"({c})" if len(conditions) > 1 else c for c in conditions)
        loop = tuple(per_copy)
        key = (code, condition, check, choices, loop)
        if key not in found:
            found[key] = Guard(code, tuple(dict.fromkeys(names)), check, choices, expected,
                               what, condition, loop)
        values = tuple(next(iter(per_copy[name])) for name in loop)
        if loop and values not in found[key].copies:
            found[key].copies.append(values)

    for name, raw in derived.items():
        add(writer.code(raw, None), [], "", None, "", f"vars.{name}")
    conditions: dict = {}  # id(scope) -> the codes of the `if:`s it is under, or None

    def under(scope: Scope | None) -> list | None:
        if scope is None:
            return []
        if id(scope) not in conditions:
            outer = under(scope.parent)
            if outer is not None and "if" in scope.exprs:
                tree = writer.code(scope.exprs["if"], _block_of(scope.parent))
                outer = None if tree is None else outer + _condition(tree, writer)
            conditions[id(scope)] = outer
        return conditions[id(scope)]

    for scope in _scopes(graph.root):
        raw = scope.exprs.get("repeat") if scope.kind == "repeat" else None
        if raw is not None:
            add(writer.code(raw, _block_of(scope.parent)), under(scope.parent), "posint",
                None, "a positive integer", f"{scope.path}: repeat")
    for node in graph.nodes:
        op = op_of(node)
        block = _block_of(node.scope)
        when = under(node.scope)
        if when is not None and "if" in node.exprs:
            tree = writer.code(node.exprs["if"], block)
            when = None if tree is None else when + _condition(tree, writer)
        for key, raw in node.exprs.items():
            param = op.param(key)
            if param is None or param.type in UNGUARDED and param.choices is None:
                continue
            expected = check_value(param.type, param.choices, _NOTHING)
            add(writer.code(raw, block), when, param.type if param.choices is None else "",
                param.choices, expected or "", f"{node.id}: {op.name}.{key}")
    always = {(g.code, g.check, g.choices, g.loop) for g in found.values() if not g.when}
    return [g for g in found.values()
            if not g.when or (g.code, g.check, g.choices, g.loop) not in always]


_NOTHING = object()  # fits no ptype: check_value says what is expected


def _condition(tree: ast.expr, writer: _Writer) -> list:
    """An `if:`'s code as a condition of a guard; none where it reads no var (it holds:
    the value was built)."""
    return [tree] if any(isinstance(n, ast.Name) and n.id in writer.params
                         and not hasattr(n, "per_copy") for n in ast.walk(tree)) else []


class _Constants(ast.NodeTransformer):
    """A copy's own value of a per-copy block param (:meth:`_Writer._per_copy`) in place
    of its name."""

    def visit_Name(self, node):  # noqa: N802
        return ast.Constant(node.per_copy) if hasattr(node, "per_copy") else node


# names build_model and the module's functions use, which a loop variable must not take
_FILE_NAMES = ("model", "error", "unknown", "build_model", "init_weights", "math", "torch", "nn")


# ---------------------------------------------------------------- the code in the file

def guarded(text: str, graph: Graph, spec_vars: dict, derived: dict, source,
            renames: dict) -> str:
    """The emitted ``text`` whose build_model refuses the values check refuses, and takes
    the vars of ``renames`` by their spec names. ``spec_vars``: each var -> its default,
    by its spec name; ``derived``: var -> expression, for those computed from others (in
    the code's names); ``source``: the spec (its blocks' param defaults as written)."""
    tree = ast.parse(text)
    function = next((node for node in tree.body if isinstance(node, ast.FunctionDef)
                     and node.name == "build_model"), None)
    if function is None:
        return text
    lines = text.split("\n")
    python = {name: renames.get(name, name) for name in spec_vars}
    params = [arg.arg for arg in function.args.args]
    kept = [name for name in spec_vars if python[name] in params]
    found = guards(graph, [python[name] for name in kept], derived, _block_definitions(source))
    spec_name = {python[name]: name for name in kept}
    used = sorted({g.check for g in found if g.check})
    body = []
    keyword_vars = [name for name in kept if name in renames]
    extra = None
    if keyword_vars:
        extra = _fresh("spec_vars", set(python.values()) | set(spec_vars))
        shown = next((name for name in keyword_vars if keyword.iskeyword(name)), keyword_vars[0])
        example = f"build_model(**{{{shown!r}: ...}})"
        body.append(f"# the vars named as Python's own names come by keyword: {example}")
        for name in keyword_vars:
            body.append(f"{python[name]} = {extra}.pop({name!r}, "
                        f"{_default(function, python[name])})")
        body += [f"for unknown in {extra}:  # as Python says of any other keyword",
                 f"{_INDENT}raise TypeError(f'build_model() got an unexpected keyword argument "
                 "{unknown!r}')"]
    for index, guard in enumerate(found):
        given = _given(spec_name, guard.names)
        check = f"_one_of{guard.choices!r}" if guard.choices is not None else \
            f"_is_{guard.check}" if guard.check else "None"
        shown = _spec_code(guard.code, spec_name)  # the value's code where it is short
        what = guard.what + (f" ({shown})" if guard.code not in guard.names
                             and len(shown) <= 40 else "")
        if guard.when and (index == 0 or found[index - 1].when != guard.when):
            body.append(f"if {guard.when}:")  # the guards under one `if:` after it
        level = 1 if guard.when else 0  # in build_model's body
        checks = []
        if guard.loop:  # the check of each copy of a repeat, with its value of a param
            values = [repr(v[0]) if len(v) == 1 else repr(v) for v in guard.copies]
            if len(values) > 1:  # `features.1.0.stochastic_depth and 17 other copies: ...`
                what = what.replace(": ", f" and {len(values) - 1} other copies: ", 1)
            loop = f"{_INDENT * level}for {', '.join(guard.loop)} in "
            items = ", ".join(values) + ("," if len(values) == 1 else "")
            if len(_INDENT) + len(loop) + len(items) + 3 > _WIDTH:
                inner = _INDENT * (level + 2)
                items = f"\n{inner}{_packed(values, inner)},\n{_INDENT * (level + 1)}"
            checks.append(f"{loop}({items}):")
            level += 1
        indent = _INDENT * (level + 1)
        checks.append(_INDENT * level + _call(
            "_require", [check, f"lambda: {guard.code}", repr(what), repr(guard.expected),
                         *given], indent, len(indent)))
        body += checks
    construction = next((stmt for stmt in function.body if isinstance(stmt, ast.Assign)
                         and [getattr(t, "id", None) for t in stmt.targets] == ["model"]), None)
    # build_model's text: its new `def` line, its docstring, the checks, then its body
    # with the statement that builds the model under a `try`
    first = function.body[0]
    has_doc = isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
    doc_end = (first.end_lineno or first.lineno) if has_doc else first.lineno - 1
    signature = _signature("def build_model",
                           [f"{python[name]}={_default(function, python[name])}"
                            for name in kept if name not in renames] +
                           ([f"**{extra}"] if extra else []), "")
    new = [signature] + (lines[first.lineno - 1:doc_end] if has_doc else [])
    new += [f"{_INDENT}{line}" for line in body]
    rest = lines[doc_end:]
    if construction is not None:
        begin = construction.lineno - 1 - doc_end
        end = (construction.end_lineno or construction.lineno) - doc_end
        given = _given(spec_name, [python[name] for name in kept])
        rest = rest[:begin] + [f"{_INDENT}try:"] + \
            [f"{_INDENT}{line}" for line in rest[begin:end]] + [
                f"{_INDENT}except (AssertionError, ArithmeticError, RuntimeError, TypeError, "
                "ValueError) as error:",
                f"{_INDENT * 2}raise "
                f"{_call('_not_built', ['error', *given], _INDENT * 2, len('        raise  from error'))}"
                " from error"] + rest[end:]
    helpers = _helpers(used, any(g.choices is not None for g in found), bool(found),
                       construction is not None)
    head = lines[:function.lineno - 1]
    while head and not head[-1].strip():
        head.pop()
    if any("math." in g.code or "math." in g.when for g in found) and "import math" not in head:
        head.insert(0, "import math")  # (as readable does for a forward's log)
    return "\n".join(head + helpers + ["", ""] + new + rest)


def _given(spec_name: dict, names) -> list:
    """The keyword arguments passing build_model's ``names`` by the vars' spec names: a
    dict for those that are no Python names (``**{'class': class_}``)."""
    plain = [f"{name}={name}" for name in names if spec_name[name] == name]
    other = [f"{spec_name[name]!r}: {name}" for name in names if spec_name[name] != name]
    together = "**{" + ", ".join(other) + "}"
    if len(together) > _WIDTH // 2:  # one a var, to wrap as the others
        return plain + ["**{" + item + "}" for item in other]
    return plain + ([together] if other else [])


def _spec_code(code: str, spec_name: dict) -> str:
    """Code of build_model's names as the spec writes it (``class_ + 1``: ``class + 1``),
    for messages."""
    if all(spec_name.get(name, name) == name for name in spec_name):
        return code
    return re.sub(r"\b[A-Za-z_]\w*\b", lambda m: spec_name.get(m.group(0), m.group(0)), code)


def _block_definitions(source) -> dict:
    """block -> {param: its default as written} of the spec (a path, YAML text or a dict);
    a block it includes from another file is not there (its guards are left out)."""
    from specc.analysis import is_spec_path
    from specc.loader import load_yaml

    try:
        doc = source if isinstance(source, dict) else load_yaml(
            open(source, "rb").read() if is_spec_path(source) else source)
    except Exception:  # noqa: BLE001 — analysed already; no definitions leave guards out
        return {}
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    return {name: dict(definition.get("params") or {})
            for name, definition in (blocks.items() if isinstance(blocks, dict) else ())
            if isinstance(definition, dict) and isinstance(definition.get("params") or {}, dict)}


def _default(function: ast.FunctionDef, name: str) -> str:
    args = function.args.args
    defaults = dict(zip([a.arg for a in args][len(args) - len(function.args.defaults):],
                        function.args.defaults))
    return ast.unparse(defaults[name]) if name in defaults else "None"


def _fresh(base: str, taken: set) -> str:
    while base in taken:
        base += "_"
    return base


def _helpers(checks: list, choices: bool, guards_: bool, wrapped: bool) -> list:
    """The module's functions build_model's checks call (only those it calls)."""
    from specc.ops.ptypes import PTYPES

    out: list = []
    if guards_:
        out += ["", "", *_REQUIRE.split("\n")]
    predicates = [PREDICATES[ptype][0] for ptype in checks]
    for name, code in _NUMBERS.items():
        if any(f"{name}(" in predicate for predicate in predicates):
            out += ["", "", *code.split("\n")]
    for ptype in checks:
        predicate, kinds = PREDICATES[ptype]
        test = f"{_INDENT}if {predicate}:"
        if len(test) > _WIDTH:  # broken before its top-level `or`s, in parentheses
            inner = _INDENT * 3
            test = f"{_INDENT}if (\n{inner}" + f"\n{inner}or ".join(predicate.split(" or ")) + \
                f"\n{_INDENT}):"
        types = kinds.split(", ")
        of_type = f"type(value) is {types[0]}" if len(types) == 1 else \
            f"type(value) in ({kinds})"
        out += ["", "", f"def _is_{ptype}(value):",
                f"{_INDENT}\"\"\"None when ``value`` is {PTYPES[ptype].title},",
                f"{_INDENT}as `specc check` reads values; else the error to raise.\"\"\"", test,
                f"{_INDENT * 2}return None",
                f"{_INDENT}return ValueError if {of_type} else TypeError"]
    if choices:
        out += ["", "", *_ONE_OF.split("\n")]
    if wrapped:
        out += ["", "", *_NOT_BUILT.split("\n")]
    return out


_REQUIRE = '''def _require(check, compute, what, expected, **given):
    """Refuse the vars ``given`` as `specc check` refuses them: the value ``compute()``
    makes of them (the spec's ``what``) must pass ``check``, which returns the error to
    raise when it does not (None: only that it can be computed)."""
    names = ", ".join(f"{{name}}={{value!r}}" for name, value in given.items())
    try:
        value = compute()
    except (ArithmeticError, TypeError, ValueError) as error:
        raise (TypeError if isinstance(error, TypeError) else ValueError)(
            f"build_model: {{names}}: {{what}}: {{error}}") from None
    error = check(value) if check is not None else None
    if error is not None:
        raise error(f"build_model: {{names}}: {{what}} must be {{expected}}, got {{value!r}}")'''.format()

_ONE_OF = '''def _one_of(*choices):
    """The check of a value that must be one of ``choices`` (True is not 1 there)."""
    def check(value):
        if value in choices and (value is not True or True in choices):
            return None
        return ValueError if type(value) in {{type(c) for c in choices}} else TypeError
    return check'''.format()

_NOT_BUILT = '''def _not_built(error, **given):
    """torch refused to build the model: an error naming the vars given other values than
    build_model's defaults (`specc check --var` says which and why)."""
    import inspect

    defaults = {{name: p.default for name, p in inspect.signature(build_model).parameters.items()}}
    changed = ", ".join(f"{{name}}={{value!r}}" for name, value in given.items()
                        if name not in defaults or value != defaults[name]
                        or type(value) is not type(defaults[name]))
    return ValueError(f"build_model: {{changed or 'the defaults'}}: torch cannot build the model "
                      f"with these values: {{error}}")'''.format()
