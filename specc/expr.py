"""Expressions in specs: ``$name``, ``${a * 2 if i == 0 else 1}`` and ``"layer_${i}"``.

Parsed with :mod:`ast` and evaluated by walking a whitelist of node types: no ``eval``,
no attribute access, no subscripts, no calls except ``min max abs round int``.
Integers are bounded so ``${10 ** 10 ** 10}`` is an error, not a hang.
"""
from __future__ import annotations

import ast
import operator
import re

_WHOLE_VAR = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")  # .fullmatch
_WHOLE_EXPR = re.compile(r"\$\{(.*)\}", re.S)  # .fullmatch
_EMBEDDED = re.compile(r"\$\{([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
MAX_INT = 2 ** 63 - 1
MAX_LEN = 500

_BINOPS = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
    ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_CMPOPS = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
}
_FUNCS = {"min": min, "max": max, "abs": abs, "round": round, "int": int}


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

    return _EMBEDDED.sub(interpolate, value)


def evaluate_text(text: str, env: dict):
    """Evaluate an expression; an ExprError's offset is relative to ``text``."""
    lead = len(text) - len(text.lstrip())
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        where = lead + max((exc.offset or 1) - 1, 0)
        raise ExprError(f"syntax error in expression {text!r}: {exc.msg}", where) from None
    except (RecursionError, MemoryError, ValueError):
        raise ExprError(f"expression {text!r} is too deeply nested", 0) from None
    try:
        return _Evaluator(env).visit(tree.body)
    except ExprError as exc:
        raise exc.shifted(lead) from None
    except RecursionError:
        raise ExprError(f"expression {text!r} is too deeply nested", 0) from None


def _lookup(name: str, env: dict):
    if name not in env:
        known = ", ".join(sorted(env)) or "none"
        raise ExprError(f"unknown variable '{name}' (known here: {known})")
    return env[name]


def _check_int(value):
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and abs(value) > MAX_INT:
        raise ExprError("integer overflow: result exceeds 2**63")
    if isinstance(value, float) and value != value:
        raise ExprError("result is not a number (nan)")
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise ExprError("float overflow: result is infinite")
    return value


class _Evaluator(ast.NodeVisitor):
    def __init__(self, env: dict):
        self.env = env

    def visit(self, node):
        try:
            return super().visit(node)
        except ExprError as exc:
            if exc.offset is None:  # the innermost node that failed says where
                exc.offset = getattr(node, "col_offset", None)
            raise

    def generic_visit(self, node):
        raise ExprError(f"'{type(node).__name__}' is not allowed in spec expressions "
                        "(only arithmetic, comparisons, and/or/not, if-else and "
                        "min max abs round int)")

    def visit_Constant(self, node):
        if isinstance(node.value, (int, float, str, bool)) or node.value is None:
            return _check_int(node.value)
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
        if isinstance(left, str) or isinstance(right, str):
            if isinstance(node.op, ast.Add) and isinstance(left, str) and isinstance(right, str):
                return left + right
            raise ExprError("arithmetic on text is not allowed")
        try:
            return _check_int(op(left, right))
        except ZeroDivisionError:
            raise ExprError("division by zero") from None
        except (TypeError, OverflowError) as exc:
            raise ExprError(f"cannot compute: {exc}") from None

    def visit_UnaryOp(self, node):
        value = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not value
        if isinstance(value, str):
            raise ExprError("arithmetic on text is not allowed")
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
            raise ExprError("only min, max, abs, round and int may be called in expressions")
        if node.keywords:
            raise ExprError("keyword arguments are not allowed in expressions")
        args = [self.visit(arg) for arg in node.args]
        try:
            return _check_int(_FUNCS[node.func.id](*args))
        except (TypeError, ValueError, OverflowError) as exc:
            raise ExprError(f"{node.func.id}(): {exc}") from None

    def visit_List(self, node):
        return [self.visit(e) for e in node.elts]

    visit_Tuple = visit_List


def _check_pow(base, exponent) -> None:
    if not isinstance(base, (int, float)) or not isinstance(exponent, (int, float)):
        raise ExprError("'**' needs numbers")
    if isinstance(exponent, (int, float)) and abs(exponent) > 1 and abs(base) > 1:
        # log2(|base|) * exponent bounds the size of the result before computing it
        bits = (abs(int(base)).bit_length() if isinstance(base, int) else 1024) * exponent
        if bits > 64:
            raise ExprError("integer overflow: result exceeds 2**63")
