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
    plugins: list = field(default_factory=list)  # modules declaring ops (docs/plugins.md)
    entry_points: bool = False  # also load installed packages' `specc.ops` entry points


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


def resolve_config(spec_path: str, explicit: str | None = None, select: str | None = None,
                   ignore: str | None = None) -> Config:
    if explicit:
        source, table = explicit, _read(explicit) or {}
    else:
        source, table = _find(os.path.dirname(os.path.abspath(spec_path)))
    config = Config(source=source)
    config.select = _split(select) or _split(table.get("select")) or ["ALL"]
    config.ignore = _split(ignore) + _split(table.get("ignore"))
    config.fail_on = table.get("fail-on", table.get("fail_on", "error"))
    if config.fail_on not in ("error", "warning", "info"):
        config.fail_on = "error"
    config.plugins = _split(table.get("plugins"))
    config.entry_points = table.get("entry-points", table.get("entry_points")) is True
    limits = table.get("limits", {})
    for key, value in limits.items():
        key = key.replace("-", "_")
        if hasattr(config.limits, key) and isinstance(value, int):
            setattr(config.limits, key, value)
    return config
