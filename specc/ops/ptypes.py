"""Parameter types: each one is a JSON Schema fragment plus the same check in Python.

The schema fragment goes into ``schemas/specc.schema.json`` (for editors and the first
validation pass); the Python check runs again after expressions are evaluated, since
``${...}`` can compute a value of any type.
"""
from __future__ import annotations

import re
from collections.abc import Callable

from specc.values import Value

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (see ops/base.py)
if TYPE_CHECKING:
    from typing import Any

SYMBOL_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
_SYMBOL = re.compile(SYMBOL_PATTERN)


def _is_symbol(v) -> bool:
    """An ASCII identifier, as the schema says: Python folds other identifiers by NFKC
    ('ｐ' is 'p'), so two names that differ here could be one variable in generated code."""
    return isinstance(v, str) and _SYMBOL.fullmatch(v) is not None


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _numbers(v, depth: int = 0) -> bool:
    """A number or a nested list of them (a tensor literal); bounded depth."""
    if isinstance(v, list):
        return depth < 8 and all(_numbers(x, depth + 1) for x in v)
    return _is_num(v)


def _int_list(v, n_min=1) -> bool:
    return isinstance(v, list) and len(v) >= n_min and all(_is_int(x) for x in v)


class PType(Value):
    """A parameter type: its schema and its check."""

    __slots__ = ("title", "schema", "check")
    title: str  # used in messages: "expected <title>"
    schema: dict
    check: Callable[[Any], bool]

    def __init__(self, title: str, schema: dict, check: Callable[[Any], bool]):
        self._set_fields(title, schema, check)


_INT = {"type": "integer"}
_POS = {"type": "integer", "minimum": 1}
_NONNEG = {"type": "integer", "minimum": 0}
_INTS = {"type": "array", "items": {"type": "integer"}, "minItems": 1}
_POS_INTS = {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1}
_NONNEG_INTS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1}
_SHAPE_ITEM = {"anyOf": [{"type": "integer"}, {"type": "string", "pattern": SYMBOL_PATTERN}]}

PTYPES: dict[str, PType] = {
    "int": PType("an integer", _INT, _is_int),
    "posint": PType("a positive integer", _POS, lambda v: _is_int(v) and v >= 1),
    "nonneg": PType("a non-negative integer", _NONNEG, lambda v: _is_int(v) and v >= 0),
    "float": PType("a number", {"type": "number"}, _is_num),
    "posfloat": PType("a positive number", {"type": "number", "exclusiveMinimum": 0},
                      lambda v: _is_num(v) and v > 0),
    "nonnegfloat": PType("a non-negative number", {"type": "number", "minimum": 0},
                         lambda v: _is_num(v) and v >= 0),
    "prob": PType("a probability in [0, 1]", {"type": "number", "minimum": 0, "maximum": 1},
                  lambda v: _is_num(v) and 0 <= v <= 1),
    "bool": PType("true or false", {"type": "boolean"}, lambda v: isinstance(v, bool)),
    "str": PType("a string", {"type": "string"}, lambda v: isinstance(v, str)),
    "posints": PType("a positive integer or a list of them", {"anyOf": [_POS, _POS_INTS]},
                     lambda v: (_is_int(v) and v >= 1) or (_int_list(v) and min(v) >= 1)),
    "optposints": PType("a positive integer, a list of them, or null",
                        {"anyOf": [_POS, _POS_INTS, {"type": "null"}]},
                        lambda v: v is None or (_is_int(v) and v >= 1)
                        or (_int_list(v) and min(v) >= 1)),
    "nonnegints": PType("a non-negative integer or a list of them",
                        {"anyOf": [_NONNEG, _NONNEG_INTS]},
                        lambda v: (_is_int(v) and v >= 0) or (_int_list(v) and min(v) >= 0)),
    "padding": PType("a non-negative integer, a list of them, 'same' or 'valid'",
                     {"anyOf": [_NONNEG, _NONNEG_INTS, {"enum": ["same", "valid"]}]},
                     lambda v: (_is_int(v) and v >= 0) or (_int_list(v) and min(v) >= 0)
                     or v in ("same", "valid")),
    "dims": PType("a dimension index or a list of them", {"anyOf": [_INT, _INTS]},
                  lambda v: _is_int(v) or _int_list(v)),
    "ints": PType("a list of integers", _INTS, lambda v: _int_list(v)),
    "shape": PType("a list of sizes (integers, -1 or symbol names)",
                   {"type": "array", "items": _SHAPE_ITEM},
                   lambda v: isinstance(v, list) and all(
                       _is_int(x) or _is_symbol(x) for x in v)),
    "outsize": PType("a positive integer or a list of positive integers / null",
                     {"anyOf": [_POS, {"type": "array", "minItems": 1, "items": {
                         "anyOf": [_POS, {"type": "null"}]}}]},
                     lambda v: (_is_int(v) and v >= 1) or (isinstance(v, list) and len(v) > 0 and all(
                         x is None or (_is_int(x) and x >= 1) for x in v))),
    "scale": PType("a positive number or a list of them",
                   {"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                              {"type": "array", "items": {"type": "number"}, "minItems": 1}]},
                   lambda v: (_is_num(v) and v > 0) or (isinstance(v, list) and len(v) > 0 and all(
                       _is_num(x) and x > 0 for x in v))),
    "names": PType("a list of distinct names (ASCII identifiers)", {
        "type": "array", "items": {"type": "string", "pattern": SYMBOL_PATTERN}},
        lambda v: isinstance(v, list) and all(_is_symbol(x) for x in v)
        and len(set(v)) == len(v)),
    "optint": PType("an integer or null", {"anyOf": [_INT, {"type": "null"}]},
                    lambda v: v is None or _is_int(v)),
    "optpos": PType("a positive integer or null", {"anyOf": [_POS, {"type": "null"}]},
                    lambda v: v is None or (_is_int(v) and v >= 1)),
    "values": PType("a number or a (nested) list of numbers",
                    {"anyOf": [{"type": "number"}, {"type": "array"}, {"type": "null"}]},
                    lambda v: v is None or _numbers(v)),
    "fill": PType("a number, -inf, inf, nan, min or max",
                  {"anyOf": [{"type": "number"}, {"enum": ["-inf", "inf", "nan", "min", "max"]}]},
                  lambda v: _is_num(v) or v in ("-inf", "inf", "nan", "min", "max")),
    "optdims": PType("a dimension index, a list of them, or null",
                     {"anyOf": [_INT, _INTS, {"type": "null"}]},
                     lambda v: v is None or _is_int(v) or _int_list(v)),
    "optintsym": PType("an integer, a symbol name (a size such as T) or null",
                       {"anyOf": [_INT, {"type": "string", "pattern": SYMBOL_PATTERN},
                                  {"type": "null"}]},
                       lambda v: v is None or _is_int(v) or (isinstance(v, str)
                                                             and v.isidentifier())),
    "optname": PType("a name (identifier) or null",
                     {"anyOf": [{"type": "string", "pattern": SYMBOL_PATTERN}, {"type": "null"}]},
                     lambda v: v is None or (isinstance(v, str) and v.isidentifier())),
    "optbool": PType("true, false or null", {"anyOf": [{"type": "boolean"}, {"type": "null"}]},
                     lambda v: v is None or isinstance(v, bool)),
    "optfloat": PType("a number or null", {"anyOf": [{"type": "number"}, {"type": "null"}]},
                      lambda v: v is None or _is_num(v)),
}


def check_value(ptype: str, choices, value) -> str | None:
    """None when ``value`` fits, else what was expected (for the error message)."""
    spec = PTYPES[ptype]
    if choices is not None:
        if value in choices and (value is not True or True in choices):
            return None
        return "one of " + ", ".join(repr(c) for c in choices)
    return None if spec.check(value) else spec.title


def schema_for(ptype: str, choices) -> dict:
    if choices is not None:
        return {"enum": list(choices)}
    return dict(PTYPES[ptype].schema)


def as_tuple(value, n: int) -> tuple:
    """torch's _ntuple: an int repeats, a list must have n entries (checked upstream)."""
    if isinstance(value, (list, tuple)):
        if len(value) == 1 and n > 1:
            return tuple(value) * n
        return tuple(value)
    return (value,) * n
