"""Expressions in specs: ``$name``, ``${a * 2 if i == 0 else 1}`` and ``"layer_${i}"``.

Parsed with :mod:`ast` and evaluated by walking a whitelist of node types: no ``eval``,
no attribute access, no slices, no calls except ``min max abs round int range log``.
List comprehensions over lists (``[i * 2 for i in range(n)]``) compute constant tables
such as Swin's relative position index; they run at most ``MAX_ITEMS`` iterations in all.
Every value the evaluator produces is bounded (see :func:`_bounded`): integers to 2**63,
text to ``MAX_TEXT`` characters, lists to ``MAX_ITEMS`` elements in all. Operations whose
result could blow past a bound (``**``, ``round`` with many digits, list ``*`` and ``+``)
are checked *before* they compute, so ``${10 ** 10 ** 10}`` or a chain of vars that
doubles a list is an error, not a hang or an out-of-memory.
"""
from __future__ import annotations

import ast
import functools
import math
import operator
import re

_WHOLE_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")  # .fullmatch
_WHOLE_EXPR = re.compile(r"\$\{(.*)\}", re.S)  # .fullmatch
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
MAX_INT = 2 ** 63 - 1
MAX_LEN = 500  # characters of one expression as written
MAX_TEXT = 10_000  # characters of any text value an expression produces
MAX_ITEMS = 10_000  # elements (counted through nesting) of any list value
MAX_ROUND_DIGITS = 400  # round(x, n): |n| beyond this means nothing for an int or a float

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}


def _range(*args) -> list:
    """range(...) as a list, refused before it is built when it would pass MAX_ITEMS."""
    if any(isinstance(a, bool) or not isinstance(a, int) for a in args):
        raise ExprError("range() takes integers")
    numbers = range(*args)
    if len(numbers) > MAX_ITEMS:
        raise ExprError(f"a list of more than {MAX_ITEMS} elements is over the limit")
    return list(numbers)


def _log(*args) -> float:
    """math.log (natural, or to a base): T5's bucket scale is log(max_distance / max_exact)."""
    if any(isinstance(a, bool) or not isinstance(a, (int, float)) for a in args):
        raise ExprError("log() takes numbers")
    return math.log(*args)


_FUNCS = {"min": min, "max": max, "abs": abs, "round": round, "int": int, "range": _range,
          "log": _log}


class ExprError(Exception):
    """An expression could not be evaluated; ``offset`` is where in the value (0-based)."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.offset = offset

    def shifted(self, by: int) -> "ExprError":
        self.offset = (self.offset or 0) + by
        return self


def evaluate(value, env: dict):
    """Evaluate a spec value: expressions are computed, everything else returned as is.

    ``$x`` and ``${...}`` standing alone give the value's own type; ``$`` inside a longer
    string interpolates (``"layer_${i}"`` → ``"layer_3"``).
    """
    if not isinstance(value, str) or "$" not in value:
        return value
    if len(value) > MAX_LEN:
        raise ExprError(f"expression is longer than {MAX_LEN} characters")
    whole = _WHOLE_VAR.fullmatch(value)
    if whole:
        try:
            return _lookup(whole.group(1), env)
        except ExprError as exc:
            raise exc.shifted(1) from None
    whole = _WHOLE_EXPR.fullmatch(value)
    if whole and "${" not in whole.group(1):
        try:
            return evaluate_text(whole.group(1), env)
        except ExprError as exc:
            raise exc.shifted(2) from None

    def interpolate(match):
        group = 1 if match.group(1) is not None else 2
        try:
            return str(evaluate_text(match.group(group), env))
        except ExprError as exc:
            raise exc.shifted(match.start(group)) from None

    return _bounded(_EMBEDDED.sub(interpolate, value))


def expression_text(value) -> str | None:
    """The expression a whole value is (``$x`` → ``x``, ``${a * 2}`` → ``a * 2``), or None
    for anything else (text with values interpolated, a plain value)."""
    if not isinstance(value, str):
        return None
    whole = _WHOLE_VAR.fullmatch(value)
    if whole:
        return whole.group(1)
    whole = _WHOLE_EXPR.fullmatch(value)
    if whole and "${" not in whole.group(1):
        return whole.group(1).strip()
    return None


def evaluate_text(text: str, env: dict):
    """Evaluate an expression; an ExprError's offset is relative to ``text``."""
    lead = len(text) - len(text.lstrip())
    tree = _parse(text)
    free = _comprehension_inputs(text)
    key = None
    if free is not None:  # a table: computed once per value of the names it reads
        key = (text, tuple((name, _frozen(env.get(name))) for name in free))
        if key in _TABLES:
            return _copied(_TABLES[key])
    try:
        value = _Evaluator(env).visit(tree.body)
        if key is not None:
            if len(_TABLES) >= _MAX_TABLES:
                _TABLES.clear()
            _TABLES[key] = _copied(value)
        return value
    except ExprError as exc:
        raise exc.shifted(lead) from None
    except RecursionError:
        raise ExprError(f"expression {text!r} is too deeply nested", 0) from None


@functools.lru_cache(maxsize=4096)
def _parse(text: str) -> ast.Expression:
    """The parsed expression, cached: a `repeat` evaluates the same text once per copy, and
    parsing is most of the cost (ExprError is raised afresh each time, not cached)."""
    lead = len(text) - len(text.lstrip())
    try:
        return ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = lead + max((exc.offset or 1) - 1, 0)
        raise ExprError(f"syntax error in expression {text!r}: {exc.msg}", where) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError(f"expression {text!r} is too deeply nested", 0) from None


# Comprehension results by (text, values of the names read): Swin's relative position
# index is the same 2,401-element table in each of its 12 blocks; computing it once keeps
# `check` fast. Only successful results are kept (errors are raised afresh).
_TABLES: dict = {}
_MAX_TABLES = 64


@functools.lru_cache(maxsize=1024)
def _comprehension_inputs(text: str) -> tuple | None:
    """The names an expression with a list comprehension reads from outside (sorted), or
    None when it has no comprehension (then its result is not kept)."""
    tree = _parse(text)
    if not any(isinstance(node, ast.ListComp) for node in ast.walk(tree)):
        return None
    bound = {gen.target.id for node in ast.walk(tree) if isinstance(node, ast.ListComp)
             for gen in node.generators if isinstance(gen.target, ast.Name)}
    return tuple(sorted({node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
                        - bound))


def _frozen(value):
    """A hashable stand-in for a spec value (lists become tuples; the type is kept so that
    1, 1.0 and True stay apart)."""
    if isinstance(value, list):
        return ("list", tuple(_frozen(v) for v in value))
    return (type(value).__name__, value)


def _copied(value):
    return [_copied(v) for v in value] if isinstance(value, list) else value


def _lookup(name: str, env: dict):
    if name not in env:
        known = ", ".join(sorted(env)) or "none"
        raise ExprError(f"unknown variable '{name}' (known here: {known})")
    return env[name]


def _bounded(value):
    """Every value an expression produces passes here: one bound per kind of value."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        if abs(value) > MAX_INT:
            raise ExprError("integer overflow: result exceeds 2**63")
    elif isinstance(value, float):
        if value != value:
            raise ExprError("result is not a number (nan)")
        if value in (float("inf"), float("-inf")):
            raise ExprError("float overflow: result is infinite")
    elif isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise ExprError(f"text of {len(value)} characters is over the limit of "
                            f"{MAX_TEXT}")
    elif isinstance(value, list):
        _size(value)
    else:  # complex from (-8) ** 0.5, or anything else no spec value can be
        raise ExprError(f"result {type(value).__name__} is not a spec value")
    return value


def _size(value) -> int:
    """Elements in a (nested) list; ExprError as soon as the count passes MAX_ITEMS."""
    if not isinstance(value, list):
        return 1
    total, stack = 0, [value]
    while stack:
        items = stack.pop()
        total += len(items)
        if total > MAX_ITEMS:
            raise ExprError(f"a list of more than {MAX_ITEMS} elements is over the limit")
        stack.extend(v for v in items if isinstance(v, list))
    return total



class _Evaluator(ast.NodeVisitor):
    def __init__(self, env: dict):
        self.env = env

    def visit(self, node):
        try:
            return _bounded(super().visit(node))
        except ExprError as exc:
            if exc.offset is None:  # the innermost node that failed says where
                exc.offset = getattr(node, "col_offset", None)
            raise

    def generic_visit(self, node):
        raise ExprError(f"'{type(node).__name__}' is not allowed in spec expressions "
                        "(only arithmetic, comparisons, and/or/not, if-else, "
                        "list[index], [... for x in ...] and min max abs round int range log)")

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return _bounded(node.value)
        raise ExprError(f"constant {node.value!r} is not allowed")

    def visit_Name(self, node):
        if node.id in ("True", "False", "None"):
            return {"True": True, "False": False, "None": None}[node.id]
        return _lookup(node.id, self.env)

    def visit_BinOp(self, node):
        op = _BINOPS.get(type(node.op))
        if op is None:
            raise ExprError(f"operator '{type(node.op).__name__}' is not allowed")
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Pow):
            _check_pow(left, right)
        if isinstance(left, list) or isinstance(right, list):
            return _list_arith(node.op, left, right)
        if isinstance(left, str) or isinstance(right, str):
            if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
                return left + right
            raise ExprError("arithmetic on text is not allowed")
        try:
            return _bounded(op(left, right))
        except ZeroDivisionError:
            raise ExprError("division by zero") from None
        except (TypeError, OverflowError) as exc:
            raise ExprError(f"cannot compute: {exc}") from None

    def visit_UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ExprError(f"'{'-' if isinstance(node.op, ast.USub) else '+'}' needs a "
                            f"number, got {_kind(value)}")
        if isinstance(node.op, ast.USub):
            return -value
        if isinstance(node.op, ast.UAdd):
            return +value
        raise ExprError("operator '~' is not allowed")

    def visit_BoolOp(self, node):
        if isinstance(node.op, ast.And):
            result = True
            for value in node.values:
                result = self.visit(value)
                if not result:
                    return result
            return result
        result = False
        for value in node.values:
            result = self.visit(value)
            if result:
                return result
        return result

    def visit_Compare(self, node):
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators):
            fn = _CMPOPS.get(type(op))
            if fn is None:
                raise ExprError(f"comparison '{type(op).__name__}' is not allowed")
            right = self.visit(comparator)
            try:
                if not fn(left, right):
                    return False
            except TypeError as exc:
                raise ExprError(f"cannot compare: {exc}") from None
            left = right
        return True

    def visit_IfExp(self, node):
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCS:
            raise ExprError("only min, max, abs, round, int, range and log may be called "
                            "in expressions")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed in expressions")
        args = [self.visit(arg) for arg in node.args]
        if node.func.id == "round" and len(args) == 2 and isinstance(args[1], int) \
                and abs(args[1]) > MAX_ROUND_DIGITS:
            # round(x, -n) computes 10**n first: bound n before Python does
            raise ExprError(f"round(): {args[1]} digits is beyond {MAX_ROUND_DIGITS}")
        try:
            return _bounded(_FUNCS[node.func.id](*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None

    def visit_List(self, node):
        return [self.visit(e) for e in node.elts]

    def visit_Subscript(self, node):
        """``hidden_dims[i]``: one element of a list var (an int index, negative from the end;
        no slices)."""
        if isinstance(node.slice, ast.Slice):
            raise ExprError("slices are not allowed in expressions; index one element: xs[i]")
        sequence, index = self.visit(node.value), self.visit(node.slice)
        if not isinstance(sequence, (list, tuple)):
            raise ExprError(f"only lists can be indexed, not {type(sequence).__name__}")
        if isinstance(index, bool) or not isinstance(index, int):
            raise ExprError(f"a list index must be an integer, not {index!r}")
        if not -len(sequence) <= index < len(sequence):
            raise ExprError(f"index {index} is out of range for a list of {len(sequence)}")
        return sequence[index]

    visit_Tuple = visit_List

    def visit_ListComp(self, node):
        """``[expr for a in xs for b in ys if cond]`` over lists (``range(n)`` or a list
        var); every pass through a ``for`` counts towards MAX_ITEMS, filtered or not, so a
        nested comprehension cannot run long before it is refused."""
        result: list = []
        budget = [MAX_ITEMS]
        outer = self.env

        def run(level: int, env: dict) -> None:
            if level == len(node.generators):
                self.env = env
                result.append(self.visit(node.elt))
                return
            generator = node.generators[level]
            if not isinstance(generator.target, ast.Name) or generator.is_async:
                raise ExprError("a comprehension's `for` binds one name")
            self.env = env
            items = self.visit(generator.iter)
            if not isinstance(items, list):
                raise ExprError(f"a comprehension iterates over a list, not {_kind(items)}")
            for item in items:
                budget[0] -= 1
                if budget[0] < 0:
                    raise ExprError(f"a comprehension of more than {MAX_ITEMS} iterations is "
                                    "over the limit")
                inner = {**env, generator.target.id: item}
                self.env = inner
                if all(self.visit(condition) for condition in generator.ifs):
                    run(level + 1, inner)

        try:
            run(0, outer)
        finally:
            self.env = outer
        return result


def _kind(value) -> str:
    return {list: "a list", str: "text", type(None): "None"}.get(type(value), repr(value))


def _list_arith(op, left, right):
    """list + list and list * int, with the result's size bounded before it is built."""
    if isinstance(op, ast.Add) and isinstance(left, list) and isinstance(right, list):
        if _size(left) + _size(right) > MAX_ITEMS:
            raise ExprError(f"a list of more than {MAX_ITEMS} elements is over the limit")
        return left + right
    if isinstance(op, ast.Mult):
        items, count = (left, right) if isinstance(left, list) else (right, left)
        if isinstance(items, list) and isinstance(count, int) and not isinstance(count, list):
            if _size(items) * max(int(count), 0) > MAX_ITEMS:
                raise ExprError(f"a list of more than {MAX_ITEMS} elements is over the limit")
            return items * count
    raise ExprError(f"'{type(op).__name__}' is not defined for {_kind(left)} and "
                    f"{_kind(right)}")


def _check_pow(base, exponent) -> None:
    """Refuse a power whose result would pass 2**63 before computing it: the exact bound,
    so ``${2**62}`` works like the literal 4611686018427387904 and ``${2**64}`` fails."""
    import math

    numbers = (int, float)
    if not isinstance(base, numbers) or not isinstance(exponent, numbers):
        raise ExprError("'**' needs numbers")
    if isinstance(base, float) or isinstance(exponent, float):
        return  # float arithmetic raises OverflowError quickly; visit_BinOp reports it
    if exponent > 1 and abs(base) > 1 and exponent * math.log2(abs(base)) > 64:
        raise ExprError("integer overflow: result exceeds 2**63")


def substitute(value, given: dict):
    """A whole expression (``$x``, ``${...}``, or a list holding some) with names replaced
    as ``given`` says: by another expression's text (``$groups`` in a block whose caller
    gives ``${w // g}``: ``${w // g}``) or by a plain value; the names a comprehension
    binds are left alone. None when the result reads no name (a constant) or a name is
    given something else (no value to write: the caller writes the value it has);
    ``value`` itself when it is no whole expression or does not parse. --emit-python
    writes an expression in the names of the code around it this way (an inline block's
    layers in their caller's names)."""
    if isinstance(value, list):
        return [substitute(item, given) for item in value]
    text = expression_text(value)
    if text is None:
        return value
    try:
        tree = ast.parse(text, mode="eval").body
    except (SyntaxError, RecursionError, ValueError):
        return value
    bound = {gen.target.id for node in ast.walk(tree) if isinstance(node, ast.ListComp)
             for gen in node.generators if isinstance(gen.target, ast.Name)}

    unknown = []

    class Given(ast.NodeTransformer):
        def visit_Name(self, node):  # noqa: N802
            if node.id in bound or node.id not in given:
                return node
            replacement = given[node.id]
            inner = expression_text(replacement)
            if inner is not None:
                try:
                    return ast.parse(inner, mode="eval").body
                except (SyntaxError, RecursionError, ValueError):
                    pass
            elif replacement is None or isinstance(replacement, (bool, int, float)) or \
                    isinstance(replacement, str) and "$" not in replacement:
                return ast.Constant(replacement)
            unknown.append(node.id)
            return node

    tree = Given().visit(tree)
    if unknown or not any(isinstance(node, ast.Name) for node in ast.walk(tree)):
        return None
    return "${" + ast.unparse(tree) + "}"
