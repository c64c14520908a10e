"""A small JSON Schema (2020-12) validator for the keywords specc's own schema uses.

Why not python-jsonschema on the fast path: importing it (with referencing, rpds, attrs)
costs ~90 ms and validating a ResNet-50 spec with its 110 per-op ``if``/``then`` branches
another ~150 ms — most of `specc check`'s budget. This validator covers exactly the keywords
in ``schemas/specc.schema.json`` and reports errors with the fields specc.schema reads
(validator, validator_value, instance, schema, path, context). The tests check it against
python-jsonschema on every bundled spec, the hostile corpus and random documents.
"""
from __future__ import annotations

import re
from collections import deque
from functools import lru_cache

_IGNORED = {"$schema", "$id", "$defs", "title", "description", "default", "examples", "then",
            "else"}


class ValidationError:
    __slots__ = ("message", "validator", "validator_value", "instance", "schema", "path",
                 "schema_path", "context", "parent")

    def __init__(self, message, validator, validator_value, instance, schema, path,
                 schema_path=(), context=None):
        self.message, self.validator, self.validator_value = message, validator, validator_value
        self.instance, self.schema = instance, schema
        self.path = deque(path)
        self.schema_path = deque(schema_path)
        self.context = context or []
        self.parent = None

    @property
    def absolute_path(self):
        return self.path

    def __repr__(self):
        return f"<ValidationError {self.validator} at {list(self.path)}: {self.message}>"


@lru_cache(maxsize=256)
def _regex(pattern: str):
    r"""A JSON Schema pattern (ECMA-262 semantics) as a Python regex. ECMA's `$` matches only
    at the very end, Python's also before a final newline, so `$` becomes `\Z`: a name
    "fc\n" must not match ^[A-Za-z_][A-Za-z0-9_]*$."""
    out, i, in_class = [], 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":  # an escape: copy it and the escaped character
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[":
            in_class = True
        elif ch == "]":
            in_class = False
        out.append("\\Z" if ch == "$" and not in_class else ch)
        i += 1
    return re.compile("".join(out))


_PY_TYPES = {"string": str, "boolean": bool, "array": list, "object": dict, "null": type(None)}


def _is_type(value, kind: str) -> bool:
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _PY_TYPES[kind])


def _equal(a, b) -> bool:
    """JSON equality: True is not 1, 1 == 1.0."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b


class Validator:
    def __init__(self, schema: dict):
        self.root = schema

    def resolve(self, ref: str) -> dict:
        if not ref.startswith("#/"):
            raise ValueError(f"unsupported $ref {ref}")
        node = self.root
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
        return node

    def is_valid(self, instance, schema=None) -> bool:
        return next(self.iter_errors(instance, schema), None) is None

    def iter_errors(self, instance, schema=None, path=()):
        schema = self.root if schema is None else schema
        if schema is True:
            return
        if schema is False:
            yield ValidationError("False schema does not allow it", "false", False, instance,
                                  schema, path)
            return
        for keyword, value in schema.items():
            if keyword in _IGNORED:
                continue
            check = _KEYWORDS.get(keyword)
            if check is None:
                raise ValueError(f"schema keyword {keyword!r} is not supported")
            for error in check(self, value, instance, schema, path):
                error.schema_path.appendleft(keyword)
                yield error


def _err(message, keyword, value, instance, schema, path, context=None):
    return ValidationError(message, keyword, value, instance, schema, path, (), context)


def _ref(v, ref, instance, schema, path):
    yield from v.iter_errors(instance, v.resolve(ref), path)


def _type(v, kinds, instance, schema, path):
    kinds_list = kinds if isinstance(kinds, list) else [kinds]
    if not any(_is_type(instance, k) for k in kinds_list):
        yield _err(f"{instance!r} is not of type {', '.join(map(repr, kinds_list))}", "type",
                   kinds, instance, schema, path)


_STRING_OPTIONS: dict = {}


def _enum(v, options, instance, schema, path):
    key = id(options)  # the common case (op names): a set lookup, not a scan
    if key not in _STRING_OPTIONS:
        strings = frozenset(o for o in options if isinstance(o, str))
        _STRING_OPTIONS[key] = (options, strings, len(strings) == len(options))
    _, strings, only_strings = _STRING_OPTIONS[key]
    if isinstance(instance, str) and instance in strings:
        return
    if (only_strings and not isinstance(instance, str)) or not any(
            _equal(instance, o) for o in options):
        yield _err(f"{instance!r} is not one of {options!r}", "enum", options, instance,
                   schema, path)


def _const(v, const, instance, schema, path):
    if not _equal(instance, const):
        yield _err(f"{const!r} was expected", "const", const, instance, schema, path)


def _numeric(keyword, ok):
    def check(v, bound, instance, schema, path):
        if _is_type(instance, "number") and not ok(instance, bound):
            yield _err(f"{instance!r} fails {keyword} {bound!r}", keyword, bound, instance,
                       schema, path)
    return check


def _pattern(v, pattern, instance, schema, path):
    if isinstance(instance, str) and not _regex(pattern).search(instance):
        yield _err(f"{instance!r} does not match {pattern!r}", "pattern", pattern, instance,
                   schema, path)


def _min_items(v, n, instance, schema, path):
    if isinstance(instance, list) and len(instance) < n:
        yield _err(f"{instance!r} should be non-empty" if n == 1 else
                   f"{instance!r} is too short", "minItems", n, instance, schema, path)


def _min_properties(v, n, instance, schema, path):
    if isinstance(instance, dict) and len(instance) < n:
        yield _err(f"{instance!r} should be non-empty", "minProperties", n, instance, schema,
                   path)


def _items(v, item_schema, instance, schema, path):
    if isinstance(instance, list):
        for index, item in enumerate(instance):
            yield from v.iter_errors(item, item_schema, (*path, index))


def _properties(v, props, instance, schema, path):
    if isinstance(instance, dict):
        for key, sub in props.items():
            if key in instance:
                yield from v.iter_errors(instance[key], sub, (*path, key))


def _extra_keys(instance, schema):
    props = schema.get("properties", {})
    patterns = [_regex(p) for p in schema.get("patternProperties", {})]
    return [k for k in instance if k not in props
            and not any(isinstance(k, str) and p.search(k) for p in patterns)]


def _additional(v, extra_schema, instance, schema, path):
    if not isinstance(instance, dict):
        return
    extra = _extra_keys(instance, schema)
    if extra_schema is False and extra:
        listed = ", ".join(repr(k) for k in extra)
        yield _err(f"Additional properties are not allowed ({listed} "
                   f"{'was' if len(extra) == 1 else 'were'} unexpected)",
                   "additionalProperties", False, instance, schema, path)
    elif isinstance(extra_schema, dict):
        for key in extra:
            yield from v.iter_errors(instance[key], extra_schema, (*path, key))


def _pattern_properties(v, patterns, instance, schema, path):
    if isinstance(instance, dict):
        for pattern, sub in patterns.items():
            for key, value in instance.items():
                if isinstance(key, str) and _regex(pattern).search(key):
                    yield from v.iter_errors(value, sub, (*path, key))


def _property_names(v, names_schema, instance, schema, path):
    if isinstance(instance, dict):
        for key in instance:
            yield from v.iter_errors(key, names_schema, path)


def _required(v, names, instance, schema, path):
    if isinstance(instance, dict):
        for name in names:
            if name not in instance:
                yield _err(f"{name!r} is a required property", "required", names, instance,
                           schema, path)


def _branches(v, subschemas, instance, path):
    """Errors of every branch, each tagged with its branch index (as jsonschema does)."""
    results = []
    for index, sub in enumerate(subschemas):
        errors = list(v.iter_errors(instance, sub, path))
        for e in errors:
            e.schema_path.appendleft(index)
        results.append(errors)
    return results


def _any_of(v, subschemas, instance, schema, path):
    if any(v.is_valid(instance, sub) for sub in subschemas):  # short-circuits
        return
    results = _branches(v, subschemas, instance, path)
    if all(results):
        context = [e for errs in results for e in errs]
        yield _err(f"{instance!r} is not valid under any of the given schemas", "anyOf",
                   subschemas, instance, schema, path, context)


def _one_of(v, subschemas, instance, schema, path):
    passing = [i for i, sub in enumerate(subschemas) if v.is_valid(instance, sub)]
    if len(passing) == 1:
        return
    if not passing:
        results = _branches(v, subschemas, instance, path)
        context = [e for errs in results for e in errs]
        yield _err(f"{instance!r} is not valid under any of the given schemas", "oneOf",
                   subschemas, instance, schema, path, context)
    elif len(passing) > 1:
        yield _err(f"{instance!r} is valid under each of {len(passing)} schemas", "oneOf",
                   subschemas, instance, schema, path)


def _all_of(v, subschemas, instance, schema, path):
    for index, sub in _relevant(subschemas, instance):
        for e in v.iter_errors(instance, sub, path):
            e.schema_path.appendleft(index)
            yield e


_DISPATCH: dict = {}


def _const_condition(sub):
    """'X' for {"if": {"required": [k], "properties": {k: {"const": X}}}, ...} (key k)."""
    cond = sub.get("if") if isinstance(sub, dict) else None
    if not isinstance(cond, dict) or set(cond) != {"required", "properties"}:
        return None
    props = cond["properties"]
    if len(props) != 1 or cond["required"] != list(props):
        return None
    (key, value), = props.items()
    if set(value) != {"const"} or not isinstance(value["const"], str):
        return None
    return key, value["const"]


def _relevant(subschemas, instance):
    """allOf branches that can apply: of many `if op == X then …` branches (one per op),
    only the one whose X matches can fail, so the others are skipped without evaluating
    their conditions (same result, ~100× fewer checks per node)."""
    key = id(subschemas)
    if key not in _DISPATCH:
        by_value, others, field = {}, [], None
        for index, sub in enumerate(subschemas):
            condition = _const_condition(sub)
            if condition is not None and field in (None, condition[0]):
                field = condition[0]
                by_value.setdefault(condition[1], []).append((index, sub))
            else:
                others.append((index, sub))
        _DISPATCH[key] = (subschemas, field, by_value, others)
    _, field, by_value, others = _DISPATCH[key]
    if field is None or not isinstance(instance, dict):
        return list(enumerate(subschemas))
    value = instance.get(field)
    matching = by_value.get(value, []) if isinstance(value, str) else []
    return sorted(matching + others)


def _if(v, condition, instance, schema, path):
    if v.is_valid(instance, condition):
        if "then" in schema:
            for e in v.iter_errors(instance, schema["then"], path):
                e.schema_path.appendleft("then")
                yield e
    elif "else" in schema:
        yield from v.iter_errors(instance, schema["else"], path)


_KEYWORDS = {
    "$ref": _ref, "type": _type, "enum": _enum, "const": _const,
    "minimum": _numeric("minimum", lambda x, b: x >= b),
    "maximum": _numeric("maximum", lambda x, b: x <= b),
    "exclusiveMinimum": _numeric("exclusiveMinimum", lambda x, b: x > b),
    "pattern": _pattern, "minItems": _min_items, "minProperties": _min_properties,
    "items": _items, "properties": _properties, "additionalProperties": _additional,
    "patternProperties": _pattern_properties, "propertyNames": _property_names,
    "required": _required, "anyOf": _any_of, "oneOf": _one_of, "allOf": _all_of, "if": _if,
}
