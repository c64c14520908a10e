"""Variables from outside the spec: ``--var NAME=VALUE``, ``--vars config.json`` and
``specc.build(path, vars={...})`` replace the values of the spec's top-level ``vars``.

A spec whose vars are named as a Hugging Face config's fields (``hidden_size``,
``num_attention_heads`` …) therefore builds from that model's config.json directly: keys the
spec does not declare are ignored (and reported as ignored), while a single ``--var`` the spec
does not declare is a usage error — it is almost certainly a typo.
"""
from __future__ import annotations

from specc.loader import LDict


def declared_vars(doc) -> list[str]:
    raw = doc.get("vars") if isinstance(doc, dict) else None
    return list(raw) if isinstance(raw, dict) else []


def apply_vars(doc, values: dict) -> tuple[object, list[str]]:
    """A copy of ``doc`` whose declared vars take ``values``; also the names it ignored.

    A replaced var keeps its position in the spec, so an error in a value from outside
    points at the var it replaced. Later vars that derive from it (``head_dim:
    ${hidden_size // num_attention_heads}``) are computed from the new value, unless the
    outside gives them too."""
    if not values or not isinstance(doc, LDict):
        return doc, sorted(values or {})
    raw = doc.get("vars")
    declared = raw if isinstance(raw, LDict) else None
    if declared is None:
        return doc, sorted(values)
    new_vars = LDict(declared.loc)
    new_vars.key_locs.update(declared.key_locs)
    new_vars.value_locs.update(declared.value_locs)
    for key, value in declared.items():
        new_vars[key] = values.get(key, value)
    out = LDict(doc.loc)
    out.key_locs.update(doc.key_locs)
    out.value_locs.update(doc.value_locs)
    for key, value in doc.items():
        out[key] = new_vars if key == "vars" else value
    return out, sorted(k for k in values if k not in declared)


def parse_var(text: str) -> tuple[str, object]:
    """``NAME=VALUE`` from the command line; VALUE is read as a YAML scalar (256, 1e-5,
    true, silu). Raises ValueError with a message for the user."""
    name, sep, value = text.partition("=")
    if not sep or not name.isidentifier():
        raise ValueError(f"--var expects NAME=VALUE, got {text!r}")
    from specc.loader import load_yaml

    try:
        parsed = load_yaml(value) if value.strip() else ""
    except Exception:  # noqa: BLE001 — not YAML: keep the text
        parsed = value
    if isinstance(parsed, (dict, list)):
        raise ValueError(f"--var {name}: give a single value, got {value!r}")
    if isinstance(parsed, str) and not parsed.isascii() and _python_reads_a_number(parsed):
        # '١٢': YAML (and so the spec) reads text, where the user meant 12
        raise ValueError(f"--var {name}: {value!r} is not a number written with the digits "
                         "0-9 (a spec would read it as text)")
    return name, parsed


def _python_reads_a_number(text: str) -> bool:
    try:
        float(text)  # any script's digits
    except ValueError:
        return False
    return True


def read_vars_file(path: str) -> dict:
    """A JSON or YAML mapping (a HF config.json). Raises ValueError with a message."""
    import json

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except OSError as exc:
        raise ValueError(f"--vars: cannot read {path}: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except ValueError:
        from specc.loader import load_yaml

        try:
            data = load_yaml(text)
        except Exception:  # noqa: BLE001
            raise ValueError(f"--vars: {path} is neither JSON nor YAML") from None
    if not isinstance(data, dict):
        raise ValueError(f"--vars: {path} must hold a mapping of names to values")
    return dict(data)
