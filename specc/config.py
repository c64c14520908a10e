"""Configuration: `[tool.specc]` in pyproject.toml or a specc.toml, found by walking up
from the spec; command-line options win."""
from __future__ import annotations

from dataclasses import dataclass, field
import os
from functools import lru_cache

from specc.errors import Limits


@dataclass
class Config:
    select: list = field(default_factory=lambda: ["ALL"])
    ignore: list = field(default_factory=list)
    fail_on: str = "error"
    limits: Limits = field(default_factory=Limits)
    source: str | None = None


def _split(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return [str(v) for v in value]


@lru_cache(maxsize=64)
def _find(directory: str) -> tuple[str | None, dict]:
    """The nearest specc.toml / pyproject.toml with a specc table, walking up."""
    while True:
        for name in ("specc.toml", "pyproject.toml"):
            candidate = os.path.join(directory, name)
            if os.path.isfile(candidate):
                table = _read(candidate)
                if table is not None:
                    return candidate, table
        parent = os.path.dirname(directory)
        if parent == directory:
            return None, {}
        directory = parent


def _read(path: str) -> dict | None:
    try:
        import tomllib  # only when there is a file to read: keeps `specc check` fast
    except ImportError:  # Python 3.10: the same parser, as the tomli backport
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, ValueError):
        return None
    if os.path.basename(path) == "pyproject.toml":
        return data.get("tool", {}).get("specc")
    return data.get("tool", {}).get("specc", data)


class ConfigError(ValueError):
    """A configuration that cannot mean what its author intended (exit 2, with a suggestion):
    silently ignoring `ignore = ["bias-befor-norm"]` would hide nothing while looking as if
    it did."""


_KEYS = ("select", "ignore", "fail-on", "fail_on", "limits")


def resolve_config(spec_path: str, explicit: str | None = None, select: str | None = None,
                   ignore: str | None = None) -> Config:
    if explicit:
        source, table = explicit, _read(explicit) or {}
    else:
        source, table = _find(os.path.dirname(os.path.abspath(spec_path)))
    where = f"[tool.specc] in {source}" if source else "[tool.specc]"
    for key in table:
        if key not in _KEYS:
            raise ConfigError(f"unknown key '{key}' in {where}{_suggestion(key, _KEYS)}")
    config = Config(source=source)
    config.select = _selectors(_split(select), "--select") \
        or _selectors(_split(table.get("select")), f"select in {where}") or ["ALL"]
    config.ignore = _selectors(_split(ignore), "--ignore") \
        + _selectors(_split(table.get("ignore")), f"ignore in {where}")
    config.fail_on = table.get("fail-on", table.get("fail_on", "error"))
    if config.fail_on not in ("error", "warning", "info"):
        raise ConfigError(f"fail-on in {where} must be error, warning or info, "
                          f"got {config.fail_on!r}")
    limits = table.get("limits", {})
    for key, value in limits.items():
        key = key.replace("-", "_")
        if not hasattr(config.limits, key):
            raise ConfigError(f"unknown limit '{key}' in {where}"
                              f"{_suggestion(key, vars(config.limits))}")
        if isinstance(value, int):
            setattr(config.limits, key, value)
    return config


def _selectors(values: list, where: str) -> list:
    """Rule selectors that select something: a code, a code prefix, a rule name or ALL."""
    from specc.lint.registry import RULES, find_rule

    find_rule("")  # loads the registry
    for value in values:
        if value.upper() == "ALL" or any(r.code.startswith(value.upper()) for r in RULES.values()) \
                or find_rule(value):
            continue
        options = [r.name for r in RULES.values()] + list(RULES)
        raise ConfigError(f"{where}: '{value}' names no rule{_suggestion(value, options)} "
                          "(see `specc rules`)")
    return values


def _suggestion(word: str, options) -> str:
    from specc.expand.names import suggest

    hint = suggest(word, options)
    return f"; {hint}" if hint else ""
