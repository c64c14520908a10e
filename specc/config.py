"""Configuration: `[tool.specc]` in pyproject.toml or a specc.toml, found by walking up
from the spec; command-line options win.

The table is validated when it is read: a wrong type, an unknown key or limit, or a
selector that names no rule is a :class:`ConfigError` (exit code 2) that says which file
and line, never a setting silently ignored or a crash later on.
"""
from __future__ import annotations

import os
import re
from functools import lru_cache

from specc.errors import Limits
from specc.values import Record, Value

KEYS = ("select", "ignore", "fail-on", "limits", "plugins", "entry-points")
SEVERITY_NAMES = ("error", "warning", "info")
_MAX_CONFIG_BYTES = 1_000_000


class ConfigError(ValueError):
    """A configuration that cannot mean what its author intended (`specc check` exits 2):
    silently ignoring `ignore = ["bias-befor-norm"]` would hide nothing while looking as if
    it did. The message starts with ``file:line:`` when it comes from a file."""


class Config(Record):
    """The `[tool.specc]` / `.specc.toml` settings in effect."""

    __slots__ = ("select", "ignore", "fail_on", "limits", "source", "plugins", "entry_points")

    def __init__(self, select: list | None = None, ignore: list | None = None,
                 fail_on: str = "error", limits: Limits | None = None,
                 source: str | None = None, plugins: list | None = None,
                 entry_points: bool = False):
        self.select: list = ["ALL"] if select is None else select
        self.ignore: list = [] if ignore is None else ignore
        self.fail_on = fail_on
        self.limits = Limits() if limits is None else limits
        self.source = source
        # modules declaring ops (docs/plugins.md)
        self.plugins: list = [] if plugins is None else plugins
        self.entry_points = entry_points  # also load installed packages' `specc.ops` entry points


class _Table(Value):
    """A [tool.specc] table with the text it came from (to say on which line a key is)."""

    __slots__ = ("path", "values", "text", "prefix")
    path: str
    values: dict
    text: str
    prefix: str  # "tool.specc." in pyproject.toml, "" in a specc.toml without a tool table

    def __init__(self, path: str, values: dict, text: str, prefix: str):
        self._set_fields(path, values, text, prefix)

    def fail(self, key: str, message: str) -> ConfigError:
        leaf = key.split(".")[-1]
        line = 1
        for number, text in enumerate(self.text.splitlines(), start=1):
            if re.match(rf"\s*[\"']?{re.escape(leaf)}[\"']?\s*=", text):
                line = number
                break
        return ConfigError(f"{self.path}:{line}: [{self.prefix}{key}] {message}")


@lru_cache(maxsize=64)
def _find(directory: str) -> _Table | None:
    """The nearest specc.toml / pyproject.toml with a specc table, walking up."""
    while True:
        for name in ("specc.toml", "pyproject.toml"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                table = _read(candidate)
                if table is not None:
                    return table
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent


# Where a pyproject.toml can hold a specc table: a [tool.specc…] header, a dotted
# tool.specc… key, or a [tool] table / inline `tool =` that may hold one. A pyproject
# with none of these is not parsed at all (importing tomllib is ~2 ms of `specc check`).
_MAYBE_SPECC_TABLE = re.compile(r'^[ \t]*(\[[ \t]*"?tool"?[ \t]*(\]|\.[ \t]*"?specc)'
                                r'|"?tool"?[ \t]*(=|\.[ \t]*"?specc))', re.MULTILINE)


def _read(path: str) -> _Table | None:
    from specc.files import read_bounded

    try:
        text = read_bounded(path, _MAX_CONFIG_BYTES).decode("utf-8")
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    if os.path.basename(path) == "pyproject.toml" and not _MAYBE_SPECC_TABLE.search(text):
        return None
    try:
        import tomllib  # only when there is a file to read: keeps `specc check` fast
    except ImportError:  # Python 3.10: the same parser, as the tomli backport
        import tomli as tomllib
    try:
        data = tomllib.loads(text)
    except ValueError as exc:  # tomllib's message says where (line, column)
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    tool = data.get("tool", {})
    if os.path.basename(path) == "pyproject.toml":
        values, prefix = (tool.get("specc") if isinstance(tool, dict) else None), "tool.specc"
    elif isinstance(tool, dict) and "specc" in tool:
        values, prefix = tool["specc"], "tool.specc"
    else:
        values, prefix = data, ""
    if values is None:
        return None
    table = _Table(path, values, text, prefix + "." if prefix else "")
    if not isinstance(values, dict):
        raise table.fail("", "must be a table")
    return table


def _selectors(value, key: str, table: _Table | None) -> list:
    """A comma-separated string or a list of strings → selectors, each naming a rule."""
    if value is None:
        return []
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",") if v.strip()]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value if v.strip()]
    else:
        message = f"must be a string or a list of strings, got {value!r}"
        if table is None:
            raise ConfigError(f"--{key}: {message}")
        raise table.fail(key, message)
    from specc.lint.registry import RULES, _load_rules, matches

    _load_rules()
    for item in items:
        if item.upper() != "ALL" and not any(matches(r, [item]) for r in RULES.values()):
            options = [r.name for r in RULES.values()] + list(RULES)
            message = f"{item!r} names no rule{_suggestion(item, options)} (codes, code " \
                      "prefixes such as L1, or rule names; see `specc rules`)"
            if table is None:
                raise ConfigError(f"--{key}: {message}")
            raise table.fail(key, message)
    return items


def _limits(raw, table: _Table) -> Limits:
    limits = Limits()
    if not isinstance(raw, dict):
        raise table.fail("limits", f"must be a table of limits, got {raw!r}")
    known = set(Limits.__slots__)
    for key, value in raw.items():
        name = key.replace("-", "_")
        if name not in known:
            raise table.fail(f"limits.{key}", f"unknown limit '{key}'"
                             f"{_suggestion(name, sorted(known))}; limits: "
                             f"{', '.join(sorted(known))}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise table.fail(f"limits.{key}", f"must be a positive integer, got {value!r}")
        setattr(limits, name, value)
    return limits


def resolve_config(spec_path: str, explicit: str | None = None, select: str | None = None,
                   ignore: str | None = None) -> Config:
    """The configuration for one spec; ConfigError when the file or an option is invalid."""
    found = _read(explicit) if explicit else _find(os.path.dirname(os.path.abspath(spec_path)))
    # no file: an empty table (its fail() is never reached: a key needs a file to be in)
    table = found if found is not None else _Table(explicit or "", {}, "", "")
    values = table.values
    config = Config(source=found.path if found is not None else explicit)
    for key in values:
        if key.replace("_", "-") not in KEYS:
            raise table.fail(key, f"unknown key '{key}'{_suggestion(key, KEYS)} (settings: "
                             f"{', '.join(KEYS)})")
    config.select = (_selectors(select, "select", None)
                     or _selectors(values.get("select"), "select", table) or ["ALL"])
    config.ignore = (_selectors(ignore, "ignore", None)
                     + _selectors(values.get("ignore"), "ignore", table))
    fail_key = "fail-on" if "fail-on" in values else "fail_on"
    config.fail_on = values.get(fail_key, "error")
    if config.fail_on not in SEVERITY_NAMES:
        raise table.fail(fail_key, f"must be one of {', '.join(SEVERITY_NAMES)}, "
                         f"got {config.fail_on!r}")
    if "limits" in values:
        config.limits = _limits(values["limits"], table)
    config.plugins = _plugin_list(values.get("plugins"), table)
    points_key = "entry-points" if "entry-points" in values else "entry_points"
    config.entry_points = values.get(points_key, False)
    if not isinstance(config.entry_points, bool):
        raise table.fail(points_key, f"must be true or false, got {config.entry_points!r}")
    return config


def _plugin_list(value, table) -> list:
    """`plugins`: module names (docs/plugins.md); a spec can never add to them."""
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(
            isinstance(v, str) and re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*", v)
            for v in value):
        raise table.fail("plugins", "must be a list of module names such as "
                         f"\"myproject.specc_ops\", got {value!r}")
    return list(value)


def _suggestion(word: str, options) -> str:
    from specc.expand.names import suggest

    hint = suggest(word, options)
    return f"; {hint}" if hint else ""
