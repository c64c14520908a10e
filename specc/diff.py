"""`specc diff OLD NEW`: what changed in the architecture, and whether OLD's checkpoint loads.

Nodes are matched by their path (= their state_dict prefix). A removed node and an added
node with the same op, arguments and shapes are reported as a rename. Checkpoint
compatibility compares the state_dicts of both models built on the meta device (torch is
imported only for that part; without torch the rest of the report still works).
"""
from __future__ import annotations

from specc.dims import dim_json
from specc.infer import totals
from specc.ir import Graph, Node


def _signature(node: Node):
    types = tuple((tuple(map(str, t.shape)), t.dtype) for t in node.out_types or [])
    return node.op, tuple(sorted((k, repr(v)) for k, v in node.attrs.items())), types


def _arg_changes(old: Node, new: Node) -> dict:
    keys = sorted(set(old.attrs) | set(new.attrs))
    return {k: [old.attrs.get(k), new.attrs.get(k)] for k in keys
            if old.attrs.get(k) != new.attrs.get(k)}


def _shape(node: Node):
    return [[dim_json(d) for d in t.shape] for t in node.out_types or []]


def _state_dict_shapes(graph: Graph):
    try:
        import torch  # noqa: F401
    except ImportError:
        return None
    from specc.compile.build import build_module

    model = build_module(graph, device="meta", max_params=10**15)
    return {k: list(v.shape) for k, v in model.state_dict().items()}


def checkpoint_compat(old: Graph, new: Graph) -> dict | None:
    before, after = _state_dict_shapes(old), _state_dict_shapes(new)
    if before is None or after is None:
        return None
    missing = sorted(k for k in after if k not in before)  # NEW needs, OLD lacks
    unexpected = sorted(k for k in before if k not in after)
    mismatched = {k: [before[k], after[k]] for k in before if k in after and before[k] != after[k]}
    return {"loads": not (missing or unexpected or mismatched), "missing": missing,
            "unexpected": unexpected, "shape_mismatch": mismatched}


def diff_graphs(old: Graph, new: Graph) -> dict:
    a = {n.id: n for n in old.nodes}
    b = {n.id: n for n in new.nodes}
    added = [i for i in b if i not in a]
    removed = [i for i in a if i not in b]
    renamed = []
    for r in list(removed):
        for c in added:
            if _signature(a[r]) == _signature(b[c]):
                renamed.append([r, c])
                removed.remove(r)
                added.remove(c)
                break
    changed, shapes = {}, {}
    for i in a:
        if i in b:
            if a[i].op != b[i].op:
                changed[i] = {"op": [a[i].op, b[i].op]}
            elif _arg_changes(a[i], b[i]):
                changed[i] = _arg_changes(a[i], b[i])
            if _shape(a[i]) != _shape(b[i]):
                shapes[i] = [_shape(a[i]), _shape(b[i])]
    t_old, t_new = totals(old), totals(new)
    delta = lambda x, y: (y - x) if isinstance(x, int) and isinstance(y, int) else None  # noqa
    return {
        "added": [{"node": i, "op": b[i].op, "output_shape": _shape(b[i])} for i in added],
        "removed": [{"node": i, "op": a[i].op} for i in removed],
        "renamed": [{"from": x, "to": y} for x, y in renamed],
        "changed": [{"node": i, "changes": c} for i, c in changed.items()],
        "shape_changes": [{"node": i, "old": s[0], "new": s[1]} for i, s in shapes.items()],
        "outputs": {"old": {k: r.type.to_json() for k, r in old.outputs if r.type},
                    "new": {k: r.type.to_json() for k, r in new.outputs if r.type}},
        "params": {"old": t_old["params"], "new": t_new["params"],
                   "delta": t_new["params"] - t_old["params"]},
        "macs": {"old": dim_json(t_old["macs"]), "new": dim_json(t_new["macs"]),
                 "delta": delta(t_old["macs"], t_new["macs"])},
        "checkpoint": checkpoint_compat(old, new),
    }


def _signed(value) -> str:
    return "" if value is None else f" ({value:+,})"


def format_text(report: dict, old_path: str, new_path: str, limit: int = 25) -> str:
    p, m = report["params"], report["macs"]
    fmt = lambda v: f"{v:,}" if isinstance(v, int) else str(v)  # noqa: E731
    lines = [f"specc diff {old_path} → {new_path}",
             f"  params:      {fmt(p['old'])} → {fmt(p['new'])}{_signed(p['delta'])}",
             f"  MACs/sample: {fmt(m['old'])} → {fmt(m['new'])}{_signed(m['delta'])}"]
    outs_old, outs_new = report["outputs"]["old"], report["outputs"]["new"]
    if outs_old != outs_new:
        lines.append(f"  outputs:     {_outs(outs_old)} → {_outs(outs_new)}")
    sections = [
        ("Added", [f"{e['node']} ({e['op']})" for e in report["added"]]),
        ("Removed", [f"{e['node']} ({e['op']})" for e in report["removed"]]),
        ("Renamed", [f"{e['from']} → {e['to']}" for e in report["renamed"]]),
        ("Changed", [f"{e['node']}: " + ", ".join(f"{k} {v[0]!r} → {v[1]!r}"
                                                    for k, v in e["changes"].items())
                     for e in report["changed"]]),
        ("Output shape changed", [f"{e['node']}: {_shapes(e['old'])} → {_shapes(e['new'])}"
                                  for e in report["shape_changes"]]),
    ]
    for title, items in sections:
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines += [f"  {item}" for item in items[:limit]]
            if len(items) > limit:
                lines.append(f"  … and {len(items) - limit} more (--format json lists all)")
    if not any(items for _, items in sections):
        lines.append("No architectural changes.")
    lines += _checkpoint_lines(report["checkpoint"], limit)
    return "\n".join(lines)


def _checkpoint_lines(cp, limit: int) -> list[str]:
    if cp is None:
        return ["Checkpoint compatibility: unknown (install torch to compare state_dicts)"]
    if cp["loads"]:
        return ["Checkpoint: a state_dict of OLD loads into NEW with strict=True."]
    lines = ["Checkpoint: a state_dict of OLD does NOT load into NEW (strict=True):"]
    for title, keys in (("missing in OLD (NEW needs them)", cp["missing"]),
                        ("unexpected (OLD has, NEW lacks)", cp["unexpected"])):
        if keys:
            lines.append(f"  {len(keys)} {title}: " + ", ".join(keys[:limit])
                         + (" …" if len(keys) > limit else ""))
    if cp["shape_mismatch"]:
        items = list(cp["shape_mismatch"].items())
        lines.append(f"  {len(items)} shape mismatches: " + ", ".join(
            f"{k} {a}→{b}" for k, (a, b) in items[:limit]) + (" …" if len(items) > limit else ""))
    return lines


def _outs(outs: dict) -> str:
    return ", ".join(f"{k} {_shapes([v['shape']])}" for k, v in outs.items())


def _shapes(shapes) -> str:
    return ", ".join("[" + ", ".join(map(str, s)) + "]" for s in shapes)
