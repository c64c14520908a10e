"""Configuration: `[tool.specc]` in pyproject.toml or a specc.toml, found by walking up
from the spec; command-line options win."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

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
def _find(directory: Path) -> tuple[str | None, dict]:
    for folder in (directory, *directory.parents):
        for name in ("specc.toml", "pyproject.toml"):
            candidate = folder / name
            if candidate.is_file():
                table = _read(candidate)
                if table is not None:
                    return str(candidate), table
    return None, {}


def _read(path: Path) -> dict | None:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if path.name == "pyproject.toml":
        return data.get("tool", {}).get("specc")
    return data.get("tool", {}).get("specc", data)


def resolve_config(spec_path: str, explicit: str | None = None, select: str | None = None,
                   ignore: str | None = None) -> Config:
    if explicit:
        source, table = explicit, _read(Path(explicit)) or {}
    else:
        source, table = _find(Path(spec_path).resolve().parent)
    config = Config(source=source)
    config.select = _split(select) or _split(table.get("select")) or ["ALL"]
    config.ignore = _split(ignore) + _split(table.get("ignore"))
    config.fail_on = table.get("fail-on", table.get("fail_on", "error"))
    if config.fail_on not in ("error", "warning", "info"):
        config.fail_on = "error"
    limits = table.get("limits", {})
    for key, value in limits.items():
        key = key.replace("-", "_")
        if hasattr(config.limits, key) and isinstance(value, int):
            setattr(config.limits, key, value)
    return config
