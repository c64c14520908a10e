"""`include:` — blocks shared between spec files.

A spec lists files whose `blocks:` join its own:

    include: [blocks/resnet.yaml]

An included file holds `blocks:` (and may `include:` others); it is read like a spec — bounded,
with the safe loader — and every position in it remembers its file, so a mistake inside an
included block is reported in that file. What a spec can reach is confined: a path is relative,
below the including file's folder (no absolute path, no `..`, no symbolic link that leads out),
names a regular `.yaml`/`.yml` file, and the files together stay within the limits of one spec
(`max_file_bytes`, `max_yaml_nodes`) plus `max_includes` entries and `max_include_depth` levels.
A file included twice (a diamond) is read once; a file that includes itself, directly or not,
is an error (E008) naming the chain.
"""
from __future__ import annotations

import os

from specc.errors import Diagnostic, Limits, Loc, SpecError
from specc.loader import LDict, LList

# top-level keys an included file may hold (a spec's other keys belong to the including spec)
INCLUDED_KEYS = ("specc", "description", "blocks", "include")
SUFFIXES = (".yaml", ".yml")


def _fail(code: str, message: str, loc: Loc, hint: str | None = None) -> SpecError:
    return SpecError(Diagnostic(code, message, "error", loc, hint=hint))


class _Includer:
    def __init__(self, limits: Limits, used_bytes: int, used_nodes: int):
        self.limits = limits
        self.bytes = used_bytes  # of every file read so far, the including spec's too
        self.nodes = used_nodes
        self.entries = 0  # include entries followed (a file listed twice counts twice)
        self.read: set[str] = set()  # real paths already included: a diamond reads once
        self.blocks = LDict()
        self.origin: dict[str, Loc] = {}  # block name -> where it is defined
        self.texts: dict[str, str] = {}  # path as shown -> text (for `specc: ignore`)

    def add_blocks(self, blocks, where: Loc) -> None:
        if not isinstance(blocks, LDict):
            return  # not a mapping: the schema reports it (it is validated with the spec)
        for name, definition in blocks.items():
            loc = blocks.key_locs.get(name, where)
            if name in self.blocks:
                first = self.origin[name]
                raise _fail("E008", f"block '{name}' is defined twice: first at "
                            f"{first.file or 'the spec'}:{first.line}", loc,
                            "rename one of them; included blocks share one namespace")
            self.blocks[name] = definition
            self.blocks.key_locs[name] = loc
            self.blocks.value_locs[name] = blocks.loc_of(name)
            self.origin[name] = loc

    def include(self, doc: LDict, folder: str, shown: str, chain: list[str], depth: int) -> None:
        """Follow `doc`'s `include:` entries: `folder` is the real folder of the file that
        holds it, `shown` the same folder as the user wrote it (for messages)."""
        raw = doc.get("include")
        if raw is None:
            return
        entries = raw if isinstance(raw, LList) else [raw]
        for index, entry in enumerate(entries):
            loc = raw.loc_of(index) if isinstance(raw, LList) else doc.loc_of("include")
            self.entries += 1
            if self.entries > self.limits.max_includes:
                raise _fail("E004", f"more than {self.limits.max_includes} include entries "
                            "(max_includes)", loc)
            if depth + 1 > self.limits.max_include_depth:
                raise _fail("E004", f"includes nest more than {self.limits.max_include_depth} "
                            "files deep (max_include_depth)", loc)
            real, display = self._locate(entry, folder, shown, loc)
            if real in chain:
                cycle = " → ".join(os.path.basename(p) for p in chain[chain.index(real):])
                raise _fail("E008", f"include cycle: {cycle} → {os.path.basename(real)}", loc,
                            "a file cannot include itself, directly or through others")
            if real in self.read:
                continue
            self.read.add(real)
            included = self._read(real, display, loc)
            self.add_blocks(included.get("blocks"), included.loc)
            self.include(included, os.path.dirname(real), os.path.dirname(display),
                         chain + [real], depth + 1)

    def _locate(self, entry, folder: str, shown: str, loc: Loc) -> tuple[str, str]:
        """(real path, path as shown) of one entry, or E008 if it may not be read."""
        if not isinstance(entry, str) or not entry:
            raise _fail("E008", f"an include entry is a relative file path, got {entry!r}", loc)
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in entry):  # a NUL would reach open()
            raise _fail("E008", f"include path {entry!r} holds a control character", loc)
        parts = entry.split("/")
        if entry.startswith("/") or "\\" in entry or (len(entry) > 1 and entry[1] == ":"):
            raise _fail("E008", f"include path '{entry}' is absolute: an included file is "
                        "named relative to the including file's folder", loc)
        if ".." in parts:
            raise _fail("E008", f"include path '{entry}' leaves the including file's folder "
                        "(`..`)", loc, "included files live in that folder or below it")
        if not entry.endswith(SUFFIXES):
            raise _fail("E008", f"include path '{entry}' is not a .yaml or .yml file", loc)
        real = os.path.realpath(os.path.join(folder, *parts))
        if os.path.commonpath([real, folder]) != folder:
            raise _fail("E008", f"include path '{entry}' leads outside the including file's "
                        f"folder (a symbolic link to {real})", loc)
        return real, os.path.normpath(os.path.join(shown, *parts))

    def _read(self, real: str, display: str, loc: Loc) -> LDict:
        from specc.files import FileTooLarge, read_bounded
        from specc.loader import load_yaml_counted

        left = self.limits.max_file_bytes - self.bytes
        try:
            data = read_bounded(real, max(left, 0))
        except FileTooLarge:
            raise _fail("E004", f"'{display}' takes the spec and its includes over "
                        f"{self.limits.max_file_bytes} bytes (max_file_bytes)", loc) from None
        except OSError as exc:
            raise _fail("E008", f"cannot include '{display}': {exc.strerror or exc}",
                        loc) from None
        self.bytes += len(data)
        self.texts[display] = data.decode("utf-8", "replace")
        budget = self.limits.replace(max_yaml_nodes=self.limits.max_yaml_nodes - self.nodes)
        try:
            doc, nodes = load_yaml_counted(data, budget, file=display)
        except SpecError as exc:  # located in the included file
            raise SpecError([d if d.loc.file else d.replace(loc=d.loc.replace(file=display))
                             for d in exc.diagnostics]) from None
        self.nodes += nodes
        if not isinstance(doc, LDict):
            raise _fail("E008", f"'{display}' is not a mapping with `blocks:`", loc)
        for key in doc:
            if key not in INCLUDED_KEYS and not key.startswith("x-"):
                raise _fail("E008", f"an included file holds `blocks:` (and `include:`), not "
                            f"`{key}:`", doc.key_locs.get(key, doc.loc),
                            "the model itself (inputs, layers, vars, …) belongs in the "
                            "including spec")
        return doc


def resolve_includes(doc, origin: str | None, limits: Limits, used_bytes: int = 0,
                     used_nodes: int = 0) -> tuple[list[Diagnostic], dict[str, str]]:
    """Merge the blocks of the files `doc` includes into `doc["blocks"]` (in place).
    ``origin`` is the spec's path (its folder is where includes are found); the used
    amounts are what the spec itself took of the byte and YAML-node limits. Returns the
    problems found (none when all is well) and the included files' texts by path."""
    if not isinstance(doc, LDict) or "include" not in doc:
        return [], {}
    if origin is None:
        return [Diagnostic("E008", "`include:` needs the spec's file (included files are "
                           "found next to it): check or build it by its path", "error",
                           doc.key_locs.get("include", doc.loc))], {}
    folder = os.path.dirname(os.path.realpath(origin))
    includer = _Includer(limits, used_bytes, used_nodes)
    try:
        includer.add_blocks(doc.get("blocks") or LDict(), doc.loc)
        includer.include(doc, folder, os.path.dirname(origin), [os.path.realpath(origin)], 0)
    except SpecError as exc:
        return exc.diagnostics, {}
    blocks = includer.blocks
    if "blocks" in doc:
        blocks.loc = getattr(doc["blocks"], "loc", doc.loc)
    doc["blocks"] = blocks
    doc.value_locs.setdefault("blocks", blocks.loc)
    return [], includer.texts
