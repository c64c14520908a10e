"""Stage 2 — validate: the JSON Schema, generated from the op registry, and its errors.

``schemas/specc.schema.json`` is this module's :func:`build_schema` output, checked in
for editors (yaml-language-server) and check-jsonschema. Node parameters are selected by
the ``op`` value with ``if``/``then``, so an error names the op and the parameter instead
of "is not valid under any of the given schemas".
"""
from __future__ import annotations

from functools import lru_cache

from specc.errors import Diagnostic
from specc.tensor import DTYPES
from specc.loader import key_loc_at, loc_at

SCHEMA_ID = "https://raw.githubusercontent.com/specc-dev/specc/main/schemas/specc.schema.json"
LOSSES = ("cross_entropy", "nll", "bce", "bce_with_logits", "mse", "l1", "smooth_l1", "huber",
          "kl_div", "ctc", "cosine_embedding", "margin_ranking", "none")
TASKS = ("classification", "multilabel", "regression", "segmentation", "generation", "embedding")
_EXPR = {"type": "string", "pattern": "\\$", "description": "an expression: $name or ${...}"}
_NUMBER = {"anyOf": [{"type": "number"}, _EXPR]}  # an init option: a number or expression
# A module name (specc.expand.names.module_name_problem says why one is refused; the
# pattern is the part an editor can check: not empty, no '.', no '$' unless an expression)
_NAME = {"type": "string", "pattern": "^([^.$]+|.*\\$.*)$"}
# inputs, vars, blocks, symbols: Python-style names (specc.expand.names.identifier_problem)
_IDENTIFIER = {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
# `outputs:` of the model, of a block, of a nested sequence: names of what it returns, a
# list (read by position or by name) or a mapping {output name: node}
_OUTPUTS = {"anyOf": [
    {"type": "array", "items": {"type": "string"}, "minItems": 1},
    {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}}]}
_COMMON = {
    "name": {**_NAME, "description": "module attribute name (default: the index)"},
    "from": {"description": "input(s): node names, input names, node.output, or the "
                            "index of an unnamed node",
             "anyOf": [{"type": ["string", "integer"]},
                       {"type": "array", "items": {"type": ["string", "integer"]},
                        "minItems": 1}]},
    "if": {"description": "when false the node passes its input through",
           "anyOf": [{"type": "boolean"}, _EXPR]},
    "repeat": {"description": "stack N copies as a sequence 0..N-1 (index `i`)",
               "anyOf": [{"type": "integer", "minimum": 1}, _EXPR]},
    "repeat_name": {"type": "string", "description": "names of repeated copies, e.g. "
                                                     "'layer_${i}'"},
    "init": {"$ref": "#/$defs/init"},
    "tie": {"description": "share the weight of the module at this path (an LM head tied to "
                           "the token embedding: model.embed_tokens); null: no tie",
            "anyOf": [{"type": "string"}, {"type": "null"}]},
    "inline": {"type": "boolean", "description": "splice a block's layers into this sequence "
                                                 "(no module of its own)"},
    "training_only": {"description": "built (its parameters are in the state_dict) but run "
                                     "only in training, as a side branch: the next item reads "
                                     "what this one read; an output that names it is returned "
                                     "in training only (Inception's aux heads)",
                      "anyOf": [{"type": "boolean"}, _EXPR]},
}


def _param_schema(param) -> dict:
    from specc.ops.ptypes import schema_for

    schema = {"anyOf": [_items_may_be_expressions(schema_for(param.type, param.choices)), _EXPR]}
    if param.doc:
        schema["description"] = param.doc
    return schema


def _items_may_be_expressions(schema: dict) -> dict:
    """List entries can be expressions too: [1, $hidden, -1]."""
    out = dict(schema)
    if "items" in out:
        out["items"] = {"anyOf": [out["items"], _EXPR]}
    if "anyOf" in out:
        out["anyOf"] = [_items_may_be_expressions(s) for s in out["anyOf"]]
    return out


def _op_schema(op) -> dict:
    properties = dict(_COMMON)
    properties["op"] = {"const": op.name}
    for param in op.params:
        properties[param.name] = _param_schema(param)
    schema = {"type": "object", "description": op.doc, "properties": properties,
              "additionalProperties": False}
    required = [p.name for p in op.params if p.required]
    if required:
        schema["required"] = required
    return schema


class _OpSchemas(dict):
    """``$defs/ops`` for validating: an op's schema is made the first time a node names the
    op. A spec uses a few of the ~150 ops; making every one was ~1 ms of each check."""

    def __init__(self, ops: dict):
        super().__init__()
        self.ops = ops

    def __missing__(self, name: str) -> dict:
        schema = self[name] = _op_schema(self.ops[name])
        return schema


def build_schema(lazy_ops: bool = False) -> dict:
    """The JSON Schema of specs; ``lazy_ops``: ``$defs/ops`` makes each op's schema when
    it is first looked up (for the validator; the printed schema has them all)."""
    from specc.ops.base import all_ops

    ops = all_ops()
    op_names = sorted(ops)
    from specc import initializers as init

    methods = [*init.METHODS, init.DEFAULT]
    # if/then/else rather than anyOf: a misspelt method is "'x' is not one of [...]"
    init_method = {
        "if": {"type": "string"}, "then": {"enum": methods},
        "else": {"type": "object", "minProperties": 1, "properties": {
            **{tensor: {"$ref": "#/$defs/init"} for tensor in init.TENSORS},
            "method": {"enum": methods},
            **{option: _NUMBER for option in init.NUMBER_OPTIONS},
            "mode": {"enum": list(init.MODES)},
            "nonlinearity": {"enum": list(init.NONLINEARITIES)}},
            "additionalProperties": False}}
    node = {
        "type": "object",
        "properties": {**_COMMON, "op": {"enum": op_names}, "block": {"type": "string"},
                       "layers": {"$ref": "#/$defs/sequence"},
                       "checkpoint": {"type": "boolean", "description":
                                      "on a block use: run the instance under "
                                      "torch.utils.checkpoint (keeps only its inputs for "
                                      "backward and recomputes the rest)"}},
        "oneOf": [{"required": ["op"]}, {"required": ["block"]}, {"required": ["layers"]}],
        "allOf": [{"if": {"required": ["op"], "properties": {"op": {"const": name}}},
                   "then": {"$ref": f"#/$defs/ops/{name}"}} for name in op_names] + [
            {"if": {"required": ["layers"]},
             "then": {"properties": {**_COMMON, "layers": True, "outputs": _OUTPUTS},
                      "additionalProperties": False}}],
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "specc model spec",
        "description": "A neural network described as data; see docs/spec-language.md.",
        "type": "object",
        "required": ["inputs", "layers"],
        "additionalProperties": False,
        "patternProperties": {"^x-": {"description": "free for YAML anchors and tools; "
                                                    "specc ignores it"}},
        "properties": {
            "specc": {"const": 1, "description": "spec format version"},
            "name": {"type": "string"},
            "description": {"type": "string"},
            "inputs": {"type": "object", "minProperties": 1,
                       "propertyNames": _IDENTIFIER,
                       "additionalProperties": {"$ref": "#/$defs/input"}},
            "vars": {"type": "object", "propertyNames": _IDENTIFIER},
            "batch": {"type": "string", "description": "the batch symbol (default: the first "
                                                       "symbolic dim of each input)"},
            "loss": {"anyOf": [{"enum": list(LOSSES)}, {"type": "object",
                                                        "additionalProperties":
                                                            {"enum": list(LOSSES)}}]},
            "task": {"enum": list(TASKS)},
            "init": {"type": "object", "propertyNames": {"enum": op_names},
                     "additionalProperties": {"$ref": "#/$defs/init"}},
            "include": {"description": "files whose `blocks:` join this spec's: paths "
                                       "relative to this file's folder, below it",
                        "anyOf": [{"type": "string"},
                                  {"type": "array", "items": {"type": "string"}, "minItems": 1}]},
            "blocks": {"type": "object",
                       "propertyNames": _IDENTIFIER,
                       "additionalProperties": {"$ref": "#/$defs/block"}},
            "layers": {"$ref": "#/$defs/sequence"},
            "outputs": _OUTPUTS,
        },
        "$defs": {
            "expr": _EXPR,
            "init": init_method,
            "input": {"type": "object", "required": ["shape"], "additionalProperties": False,
                      "properties": {
                          "shape": {"type": "array", "items": {"anyOf": [
                              {"type": "integer", "minimum": 1},
                              {"type": "string", "description": "a symbol (N) or a multiple "
                               "of symbols (8*h)",
                               "pattern": "^([0-9]+\\*)*[A-Za-z_][A-Za-z0-9_]*"
                                          "(\\*([0-9]+|[A-Za-z_][A-Za-z0-9_]*))*$"},
                              _EXPR]}},
                          "dtype": {"enum": list(DTYPES)},
                          "description": {"type": "string"}}},
            "block": {"type": "object", "required": ["layers"], "additionalProperties": False,
                      "properties": {
                          "description": {"type": "string"},
                          "params": {"type": "object"},
                          "inputs": {"type": "array", "minItems": 1, "items": {
                              "type": "string", **_IDENTIFIER}},
                          "layers": {"$ref": "#/$defs/sequence"},
                          "output": {"type": "string"},
                          "module_order": {
                              "type": "array", "items": {"type": "string"},
                              "description": "the order the block registers these layers "
                              "in (the state_dict order) where it differs from the order "
                              "they run in"},
                          "outputs": {**_OUTPUTS, "description": "several outputs: the first "
                                      "is what the next item reads; `use.name` or `use.1` "
                                      "reads another"}}},
            "sequence": {"type": "array", "items": {"anyOf": [
                {"enum": op_names}, {"$ref": "#/$defs/node"}]}},
            "node": node,
            "ops": _OpSchemas(ops) if lazy_ops else {name: _op_schema(ops[name])
                                                     for name in op_names},
        },
    }


def schema_text() -> str:
    import json  # not on `check`'s path

    return json.dumps(build_schema(), indent=1, ensure_ascii=False) + "\n"


def _validator():
    from specc.ops.base import ACTIVE_PLUGIN_OPS

    # plugin ops change the schema (generated from the registry and the active plugins)
    return _validator_for(tuple((name, id(op)) for name, op in ACTIVE_PLUGIN_OPS.items()))


@lru_cache(maxsize=4)
def _validator_for(_plugin_ops: tuple):  # the cache key: which plugin ops are active
    """The validator of the schema generated from this package's op registry — never a file
    found relative to the source tree, so a wheel and a checkout validate identically."""
    from specc.schema_validator import Validator

    return Validator(build_schema(lazy_ops=True))


def validate(doc) -> list[Diagnostic]:
    """Schema errors as located diagnostics, most specific first, one per location."""
    if not isinstance(doc, dict):
        kind = ("empty" if doc is None else "a list" if isinstance(doc, list) else
                "true or false" if isinstance(doc, bool) else "a number"
                if isinstance(doc, (int, float)) else "text")  # not the loader's class names
        return [Diagnostic("E101", "a spec is a mapping with at least `inputs` and `layers`, "
                           f"not {kind}", loc=loc_at(doc, ()))]
    out, seen = [], set()
    errors = list(_leaf_errors(_validator().iter_errors(doc)))
    misspelt = _misspellings(errors)
    for err in errors:
        for diagnostic in _describe_folding(err, doc, misspelt):
            key = (diagnostic.loc, diagnostic.code)
            if key not in seen:
                seen.add(key)
                out.append(diagnostic)
    return sorted(out, key=lambda d: (d.loc.line, d.loc.col))


def _misspellings(errors) -> dict:
    """{(path of a mapping, required key it lacks): the unknown key of that mapping that
    misspells it}: `{op: Linear, out_featurs: 4}` fails both `additionalProperties` and
    `required`, two reports of one typo. Both checks still run; this is how their errors
    are presented (as jsonschema's best_match ranks errors without changing them)."""
    from specc.expand.names import misspelt_required

    missing: dict = {}
    for err in errors:
        if err.validator == "required":
            missing.setdefault(tuple(err.absolute_path), set()).add(_missing_key(err))
    found: dict = {}
    for err in errors:
        path = tuple(err.absolute_path)
        if err.validator == "additionalProperties" and path in missing:
            for key in _unknown_keys(err):
                wanted = misspelt_required(key, err.schema.get("properties", {}), missing[path])
                if wanted is not None:
                    found.setdefault((path, wanted), key)
    return found


def _describe_folding(err, doc, misspelt: dict) -> list[Diagnostic]:
    """_describe's diagnostic, with the misspellings of required keys folded: one E103 at
    the misspelt key that says both, and no E105 for the key it misspells."""
    path = tuple(err.absolute_path)
    if err.validator == "required":
        return [] if (path, _missing_key(err)) in misspelt else [_describe(err, doc)]
    if err.validator != "additionalProperties":
        return [_describe(err, doc)]
    typos = {key: wanted for (where, wanted), key in misspelt.items() if where == path}
    out = [_unknown_key(err, doc, key, typos.get(key)) for key in typos]
    others = [key for key in _unknown_keys(err) if key not in typos]
    return out + ([_unknown_key(err, doc, others[0])] if others else [])


def _unknown_keys(err) -> list:
    return sorted(set(err.instance) - set(err.schema.get("properties", {})), key=str)


def _missing_key(err) -> str:
    return err.message.split("'")[1] if "'" in err.message else err.message


def _unknown_key(err, doc, key, misspells: str | None = None) -> Diagnostic:
    """E103 for ``key`` of the mapping that fails ``additionalProperties``; ``misspells``:
    the missing required key it is a typo of, said in the same message."""
    from specc.expand.names import suggest, unknown_misspelling

    path = list(err.absolute_path)
    owner = err.instance.get("op") if isinstance(err.instance, dict) else None
    known = list(err.schema.get("properties", {}))
    what = f"{owner} has no parameter" if isinstance(owner, str) else "unknown key"
    if misspells is not None:
        return Diagnostic("E103", unknown_misspelling(what, key, misspells),
                          loc=key_loc_at(doc, path + [key]))
    return Diagnostic("E103", f"{what} '{key}'", loc=key_loc_at(doc, path + [key]),
                      hint=suggest(key, known) or f"allowed: {', '.join(known)}")


def _matching_alternative(err):
    """The errors of the one anyOf/oneOf branch whose kind (mapping, list, …) fits."""
    branches: dict = {}
    for e in err.context:
        branches.setdefault(e.schema_path[0], []).append(e)
    plausible = [errs for errs in branches.values()
                 if not any(e.validator in ("type", "enum", "const")
                            and list(e.absolute_path) == list(err.absolute_path) for e in errs)]
    return plausible[0] if len(plausible) == 1 else None


def _leaf_errors(errors):
    """Descend into anyOf/oneOf so the message is about the deepest real mistake."""
    for err in errors:
        if err.validator in ("anyOf", "oneOf") and err.context and not _is_value_choice(err):
            branch = _matching_alternative(err)
            if branch is not None:
                yield from _leaf_errors(branch)
                continue
            deepest = max(len(e.absolute_path) for e in err.context)
            if deepest > len(err.absolute_path):
                yield from _leaf_errors(e for e in err.context
                                        if len(e.absolute_path) == deepest)
                continue
        yield err


def _is_value_choice(err) -> bool:
    """anyOf between a value type and an expression: report it as one type error."""
    return err.validator == "anyOf" and any(s == _EXPR or s.get("pattern") == "\\$"
                                            for s in err.validator_value if isinstance(s, dict))


def _describe(err, doc) -> Diagnostic:
    path = list(err.absolute_path)
    parent = _at(doc, path[:-1]) if path else None
    op = parent.get("op") if isinstance(parent, dict) else None
    node_desc = f"{op}" if isinstance(op, str) else "node"
    if err.validator == "additionalProperties":
        return _unknown_key(err, doc, (_unknown_keys(err) or ["?"])[0])
    if err.validator == "required":
        missing = _missing_key(err)
        owner = err.instance.get("op") if isinstance(err.instance, dict) else None
        what = f"{owner} needs parameter" if isinstance(owner, str) else "missing required key"
        return Diagnostic("E105", f"{what} '{missing}'", loc=loc_at(doc, path))
    if _is_unknown_op(err, path):
        from specc.expand import suggest
        from specc.ops.base import all_ops

        return Diagnostic("E102", f"unknown op {err.instance!r}", loc=loc_at(doc, path),
                          hint=suggest(err.instance, all_ops()))
    name_problem = _name_problem(err, path)
    if name_problem is not None:
        return name_problem(doc)
    if err.validator == "oneOf" and isinstance(err.instance, dict):
        return Diagnostic("E101", "a node needs exactly one of `op`, `block` or `layers`",
                          loc=loc_at(doc, path))
    if _is_value_choice(err) or err.validator in ("type", "minimum", "maximum", "enum",
                                                  "exclusiveMinimum", "const", "pattern"):
        key = path[-1] if path else ""
        title = _expected(err)
        where = f"{node_desc}.{key}" if isinstance(key, str) and op else f"'{_dotted(path)}'"
        return Diagnostic("E104", f"{where} must be {title}, got {err.instance!r}",
                          loc=loc_at(doc, path))
    return Diagnostic("E101", f"at '{_dotted(path)}': {err.message}", loc=loc_at(doc, path))


# what the keys of these mappings name, for "input name 'x' is not allowed"
_KEY_KINDS = {"inputs": "input", "vars": "var", "blocks": "block"}


def _name_problem(err, path):
    """A refused module name, key of `inputs`/`vars`/`blocks` or shape symbol: a located
    diagnostic (made from ``doc``) that says what is wrong with the name, or None."""
    from specc.expand.names import identifier_problem, module_name_problem

    if err.validator != "pattern" and not (_is_value_choice(err) and isinstance(err.instance, str)):
        return None
    if "propertyNames" in err.schema_path:  # a key of the mapping at `path`
        kind = _KEY_KINDS.get(path[-1] if path else "", "key")
        message = f"{kind} name {err.instance!r} is not allowed: " \
                  f"{identifier_problem(err.instance)}"
        return lambda doc: Diagnostic("E203", message, loc=key_loc_at(doc, path + [err.instance]))
    if err.validator == "pattern" and err.validator_value == _NAME["pattern"]:
        message = f"node name {err.instance!r} is not allowed: " \
                  f"{module_name_problem(err.instance) or 'it is empty'}"
        return lambda doc: Diagnostic("E203", message, loc=loc_at(doc, path))
    symbol = [s for s in (err.validator_value if err.validator == "anyOf" else [])
              if isinstance(s, dict) and s.get("type") == "string" and "pattern" in s
              and "description" in s and s != _EXPR]  # text for a number is not a symbol
    if symbol:  # a string where a string of a form is one choice: a shape's symbol
        message = f"'{_dotted(path)}' must be {symbol[0]['description']}, got " \
                  f"{err.instance!r}: a symbol is a Python-style name (letters, digits and _, " \
                  "not starting with a digit)"
        return lambda doc: Diagnostic("E104", message, loc=loc_at(doc, path))
    return None


def _is_unknown_op(err, path) -> bool:
    """An `op:` value, or a bare string in a sequence, that names no registered op."""
    from specc.ops.base import all_ops

    if not isinstance(err.instance, str) or err.instance in all_ops():
        return False
    # a bare string in `layers:` (anyOf an op name or a node); a shape's entries are
    # another list whose anyOf also fails for a bad string
    in_sequence = err.validator == "anyOf" and path and isinstance(path[-1], int) and any(
        isinstance(s, dict) and s.get("$ref") == "#/$defs/node" for s in err.validator_value)
    return (err.validator == "enum" and bool(path) and path[-1] == "op") or bool(in_sequence)


def _expected(err) -> str:
    from specc.ops.ptypes import PTYPES

    schema = err.schema if not _is_value_choice(err) else err.validator_value[0]
    for ptype in PTYPES.values():
        if schema in (ptype.schema, _items_may_be_expressions(ptype.schema)):
            return ptype.title
    if "enum" in schema:
        return "one of " + ", ".join(repr(v) for v in schema["enum"][:12])
    if "const" in schema:
        return repr(schema["const"])
    kind = schema.get("type")
    return {"integer": "an integer", "string": "a string", "boolean": "true or false",
            "number": "a number", "array": "a list", "object": "a mapping"}.get(kind, str(kind))


def _at(doc, path):
    node = doc
    for part in path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _dotted(path) -> str:
    return ".".join(str(p) for p in path) or "(top)"
