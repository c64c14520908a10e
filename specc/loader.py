"""Stage 1 — load: YAML text → plain Python values that remember where they came from.

The document is built from PyYAML's *event* stream with an explicit stack, never from
its constructor: no tag can construct anything, nesting depth is checked before any
recursion could happen, and aliases are counted by the size of what they expand to
(so a billion-laughs document is refused, not expanded).

Scalars are resolved with the YAML 1.2 core schema: ``1e-3`` is a float, ``no`` is the
string "no", ``010`` is the integer 10. Mappings become :class:`LDict` and sequences
:class:`LList`; both carry the positions of their entries.
"""
from __future__ import annotations

import math
import re

import yaml

from specc.errors import NOWHERE, Diagnostic, Limits, Loc, SpecError, error

try:  # libyaml's parser is ~10x faster; the pure-Python one behaves the same
    _Parser = yaml.CSafeLoader  # type: ignore[attr-defined]
except AttributeError:  # pragma: no cover
    _Parser = yaml.SafeLoader


class LDict(dict):
    """A mapping with the position of itself, of each key and of each value."""

    __slots__ = ("loc", "key_locs", "value_locs")

    def __init__(self, loc: Loc = NOWHERE):
        super().__init__()
        self.loc = loc
        self.key_locs: dict = {}
        self.value_locs: dict = {}

    def loc_of(self, key) -> Loc:
        return self.value_locs.get(key, self.loc)


class LList(list):
    """A sequence with the position of itself and of each item."""

    __slots__ = ("loc", "item_locs")

    def __init__(self, loc: Loc = NOWHERE):
        super().__init__()
        self.loc = loc
        self.item_locs: list[Loc] = []

    def loc_of(self, index: int) -> Loc:
        return self.item_locs[index] if 0 <= index < len(self.item_locs) else self.loc


def loc_at(document, path) -> Loc:
    """Position of the value at ``path`` (keys / indices), or the nearest enclosing one."""
    best = getattr(document, "loc", Loc(1, 1))
    node = document
    for part in path:
        if isinstance(node, LDict) and part in node:
            best = node.loc_of(part)
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            best = node.loc_of(part)
            node = node[part]
        else:
            break
    return best


def key_loc_at(document, path) -> Loc:
    """Position of the *key* that ends ``path`` (for 'unknown key' errors)."""
    parent = document
    for part in path[:-1]:
        try:
            parent = parent[part]
        except (KeyError, IndexError, TypeError):
            return loc_at(document, path)
    if isinstance(parent, LDict) and path and path[-1] in parent.key_locs:
        return parent.key_locs[path[-1]]
    return loc_at(document, path)


# --- YAML 1.2 core schema scalar resolution -------------------------------------------
_NULL = re.compile(r"(?:~|null|Null|NULL|)")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(?:inf|Inf|INF)")
_NAN = re.compile(r"\.(?:nan|NaN|NAN)")
_ALLOWED_TAGS = {
    None, "!",
    "tag:yaml.org,2002:str", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq",
}
_MAX_INT_DIGITS = 30  # larger literals are refused before int() can be slow


def resolve_scalar(text: str, plain: bool, loc: Loc):
    """Resolve a plain scalar per the YAML 1.2 core schema; quoted scalars stay strings."""
    if not plain:
        return text
    if _NULL.fullmatch(text):
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT10.fullmatch(text) or _INT8.fullmatch(text) or _INT16.fullmatch(text):
        if len(text) > _MAX_INT_DIGITS:
            raise error("E004", f"integer literal with {len(text)} digits is too large", loc)
        if _INT10.fullmatch(text):
            return int(text, 10)
        return int(text[2:], 8 if text[1] == "o" else 16)
    if _FLOAT.fullmatch(text):
        value = float(text)
        if math.isinf(value):
            raise error("E004", f"number {text} overflows a float", loc)
        return value
    if _INF.fullmatch(text) or _NAN.fullmatch(text):
        raise error("E004", f"{text} is not a usable number in a model spec", loc)
    return text


def _mark(mark, file: str | None = None) -> Loc:
    return Loc(mark.line + 1, mark.column + 1, file) if mark is not None else Loc(1, 1, file)


class _Frame:
    __slots__ = ("container", "key", "key_loc", "anchor", "size")

    def __init__(self, container, anchor):
        self.container = container
        self.key = _NO_KEY
        self.key_loc = None
        self.anchor = anchor
        self.size = 1


_NO_KEY = object()


def _decode(data: bytes | str, limits: Limits) -> str:
    if isinstance(data, str):
        text = data
    else:
        if len(data) > limits.max_file_bytes:
            raise error("E004", f"file is {len(data)} bytes, over the limit of "
                        f"{limits.max_file_bytes} (max_file_bytes)", Loc(1, 1))
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            try:
                text = data.decode("utf-16")
            except UnicodeDecodeError as exc:
                raise error("E005", f"file is not valid UTF-16: {exc.reason}", Loc(1, 1)) from None
        else:
            try:
                # "utf-8", not "utf-8-sig": the byte-order mark goes with the lstrip below,
                # the error's offset counts from the file's first byte (utf-8-sig's counts
                # from after a mark), and it needs no codec import (~0.3 ms of a check)
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = data[: exc.start].count(b"\n") + 1
                raise error("E005", f"file is not UTF-8 text (byte 0x{data[exc.start]:02x} "
                            f"at offset {exc.start})", Loc(line, 1),
                            hint="save the spec as UTF-8") from None
    if len(text) > limits.max_file_bytes:
        raise error("E004", f"spec text is over the limit of {limits.max_file_bytes} characters",
                    Loc(1, 1))
    text = text.lstrip("\ufeff")
    bad = re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        raise error("E005", f"control character U+{ord(bad.group()):04X} in the file "
                    "(binary data?)", Loc(line, 1))
    return text


def load_yaml(data: bytes | str, limits: Limits | None = None):
    """Parse one YAML document into LDict/LList/scalars, or raise SpecError."""
    return load_yaml_counted(data, limits)[0]


def load_yaml_counted(data: bytes | str, limits: Limits | None = None,
                      file: str | None = None):
    """(the document, the YAML nodes it expands to). Positions in it carry ``file`` (an
    included file's path; None for the spec itself)."""
    limits = limits or Limits()
    text = _decode(data, limits)
    builder = _Builder(limits, file)
    try:
        for event in yaml.parse(text, Loader=_Parser):
            builder.feed(event)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "maximum nesting depth" in problem:
            # libyaml >= 0.2.6 (PyYAML 6.0.4) has a nesting limit of its own, lower than
            # ours; hitting it is the same resource limit, not a syntax error.
            raise error("E004", f"nesting is deeper than the YAML parser allows ({problem})",
                        _mark(mark, file)) from None
        tab = mark is not None and 0 <= mark.index < len(text) and text[mark.index] == "\t"
        raise error("E001", f"invalid YAML: {problem}", _mark(mark, file),
                    hint="YAML indents with spaces, never tabs" if tab else None) from None
    except yaml.YAMLError as exc:
        raise error("E001", f"invalid YAML: {exc}", Loc(1, 1)) from None
    if builder.documents == 0:
        raise error("E006", "the file is empty: a spec needs at least 'layers'", Loc(1, 1))
    return builder.root, builder.total


class _Builder:
    """Turns parser events into located values, enforcing the limits as it goes."""

    def __init__(self, limits: Limits, file: str | None = None):
        self.limits = limits
        self.file = file  # stamped on every position (an included file's path)
        self.stack: list[_Frame] = []
        self.anchors: dict[str, tuple[object, int]] = {}
        self.total = 0
        self.root = None
        self.documents = 0

    def feed(self, event) -> None:
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise error("E007", "the file holds more than one YAML document; a spec is one",
                            _mark(event.start_mark, self.file))
        elif isinstance(event, yaml.ScalarEvent):
            self._check_tag(event)
            loc = _mark(event.start_mark, self.file)
            if event.style in ("'", '"'):  # point at the text, not at its opening quote
                loc = loc.replace(col=loc.col + 1)
            value = resolve_scalar(event.value, event.implicit[0], loc)
            if event.tag == "tag:yaml.org,2002:str":
                value = event.value
            self._add(value, loc, 1, event.anchor)
        elif isinstance(event, yaml.AliasEvent):
            loc = _mark(event.start_mark, self.file)
            if event.anchor not in self.anchors:
                raise error("E001", f"alias *{event.anchor} is used before its anchor "
                            "(or refers to itself)", loc)
            value, size = self.anchors[event.anchor]
            self._add(value, loc, size, None)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            self._check_tag(event)
            if len(self.stack) >= self.limits.max_depth:
                raise error("E004", f"nesting is deeper than {self.limits.max_depth} levels "
                            "(max_depth)", _mark(event.start_mark, self.file))
            loc = _mark(event.start_mark, self.file)
            container = LDict(loc) if isinstance(event, yaml.MappingStartEvent) else LList(loc)
            self.stack.append(_Frame(container, event.anchor))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = self.stack.pop()
            if isinstance(frame.container, LDict) and "<<" in frame.container:
                _apply_merge(frame.container)
            self._add(frame.container, frame.container.loc, frame.size, frame.anchor,
                      counted=True)

    def _check_tag(self, event) -> None:
        if event.tag not in _ALLOWED_TAGS:
            raise error("E003", f"YAML tag {event.tag!r} is not allowed: a spec is plain data",
                        _mark(event.start_mark, self.file),
                        hint="remove the tag; specc never constructs objects from YAML")

    def _add(self, value, loc: Loc, size: int, anchor, counted: bool = False) -> None:
        self.total += size if not counted else 0
        if not counted and self.total > self.limits.max_yaml_nodes:
            raise error("E004", f"the document expands to more than {self.limits.max_yaml_nodes}"
                        " YAML nodes (max_yaml_nodes; alias bomb?)", loc)
        if anchor is not None:
            self.anchors[anchor] = (value, size)
        if not self.stack:
            self.root = value
            return
        frame = self.stack[-1]
        frame.size += size
        parent = frame.container
        if isinstance(parent, LList):
            parent.append(value)
            parent.item_locs.append(loc)
        elif frame.key is _NO_KEY:
            if isinstance(value, (LDict, LList)):
                raise error("E001", "a mapping key must be a plain value, not a "
                            "mapping or sequence", loc)
            if not isinstance(value, str):
                raise error("E104", f"mapping keys in a spec are names, got {value!r}", loc,
                            hint=f"quote it if it is meant as a name: '{value}'")
            if value in parent:
                first = parent.key_locs[value]
                raise error("E002", f"duplicate key {value!r}: first defined on line "
                            f"{first.line}, again on line {loc.line}", loc,
                            hint="YAML keeps only the last one; remove or rename one of them")
            frame.key, frame.key_loc = value, loc
        else:
            parent[frame.key] = value
            parent.key_locs[frame.key] = frame.key_loc
            parent.value_locs[frame.key] = loc
            frame.key = _NO_KEY


def _apply_merge(mapping: LDict) -> None:
    """YAML's merge key: `<<: *defaults` (or a list of them) fills keys not given here."""
    loc = mapping.loc_of("<<")
    sources = mapping.pop("<<")
    mapping.value_locs.pop("<<", None)
    mapping.key_locs.pop("<<", None)
    for source in sources if isinstance(sources, list) else [sources]:
        if not isinstance(source, LDict):
            raise error("E001", "a merge key `<<` needs a mapping (or a list of mappings)", loc)
        for key, value in source.items():
            if key not in mapping:
                mapping[key] = value
                mapping.key_locs[key] = source.key_locs.get(key, loc)
                mapping.value_locs[key] = source.value_locs.get(key, loc)


def unwrap(value):
    """LDict/LList → plain dict/list (for JSON output and tests)."""
    if isinstance(value, dict):
        return {k: unwrap(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap(v) for v in value]
    return value


__all__ = ["LDict", "LList", "load_yaml", "loc_at", "key_loc_at", "unwrap", "Diagnostic",
           "SpecError"]
