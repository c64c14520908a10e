"""Per-node and total numbers of an analysed graph, shared by the table and JSON output."""
from __future__ import annotations

from specc import __version__
from specc.dims import Sym, dim_json
from specc.infer import per_sample, totals
from specc.ir import Graph, Node, Scope
from specc.ops.base import get_op


def op_label(node: Node) -> str:
    op = get_op(node.op)
    if op is None or node.out_types is None:
        return node.op
    if op.key_args is None:
        if op.kind != "function" or not node.given:  # functional ops: show what was set
            return node.op
        shown = [f"{k}={_short(node.attrs[k])}" for k in op.param_map if k in node.given]
        return f"{node.op} {', '.join(shown)}"
    try:
        return f"{node.op} {op.key_args(node.attrs)}"
    except (KeyError, TypeError, ValueError):
        return node.op


def _short(value) -> str:
    if isinstance(value, list):
        return "[" + ",".join(str(v) for v in value) + "]"
    return str(value)


_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def count_text(value) -> str:
    """A count (parameters, MACs) the way the table and the HTML view print it, the one
    place they format one: ``1,814,073,344``; a symbolic count as a polynomial in the same
    style, ``7,504,658,432·T + 262,144·T²`` rather than ``7504658432*T+262144*T*T``.
    JSON and SARIF keep the exact machine form (:func:`specc.dims.dim_json`)."""
    if isinstance(value, int):
        return f"{value:,}"
    if not isinstance(value, Sym):
        return str(value)
    terms = []
    # Sym's own order (by monomial, the constant last): the same count reads the same
    for monomial, coefficient in sorted(value.terms, key=lambda t: (not t[0], t[0])):
        factors = []
        for name in dict.fromkeys(monomial):  # a monomial is sorted: equal factors adjoin
            power = monomial.count(name)
            # a floor-division atom `(H+1)//2` is not a name: parenthesised in a product
            wrap = not name.isidentifier() and (len(monomial) > 1 or abs(coefficient) != 1)
            text = f"({name})" if wrap else name
            factors.append(text + (str(power).translate(_SUPERSCRIPTS) if power > 1 else ""))
        magnitude = abs(coefficient)
        if not factors:
            terms.append((coefficient < 0, f"{magnitude:,}"))
        else:
            terms.append((coefficient < 0, "·".join(
                ([f"{magnitude:,}"] if magnitude != 1 else []) + factors)))
    text = ("-" if terms[0][0] else "") + terms[0][1]
    for negative, term in terms[1:]:
        text += (" - " if negative else " + ") + term
    return text


def scope_params(scope: Scope) -> int:
    return sum(n.params for n in scope.walk_nodes() if n.out_types is not None)


def scope_label(scope: Scope) -> str:
    if scope.kind == "block":
        return scope.block or "block"
    if scope.kind == "repeat":  # named by what repeats: BasicBlock ×2, TransformerEncoderLayer ×6
        kinds = {getattr(item, "block", None) or getattr(item, "op", None) for item in scope.items}
        name = kinds.pop() if len(kinds) == 1 and None not in kinds else "repeat"
        return f"{name} ×{len(scope.items)}"
    return "sequence"


def model_json(graph: Graph) -> dict:
    total = totals(graph)
    return {
        "name": graph.name,
        "inputs": {n.id: n.out_types[0].to_json() for n in graph.inputs if n.out_types},
        "outputs": {name: (ref.type.to_json() if ref.type else None)
                    for name, ref in graph.outputs},
        "params": total["params"],
        "trainable_params": total["trainable"],
        "macs": dim_json(total["macs"]),
        "training_only_macs": dim_json(total["training_only_macs"]),
        "training_only_outputs": [name for name, ref in graph.outputs
                                  if ref.node.training_only],
        "nodes": [node_json(graph, n) for n in graph.nodes],
    }


def node_json(graph: Graph, node: Node) -> dict:
    types = node.out_types or []
    entry = {
        "name": node.id,
        "op": node.op,
        "output_shape": [dim_json(d) for d in types[0].shape] if types else None,
        "dtype": types[0].dtype if types else None,
        "params": node.params,
        "macs": dim_json(per_sample(node.macs, graph)),
        "line": node.loc.line,
    }
    if node.training_only:
        entry["training_only"] = True
    if len(types) > 1:
        entry["outputs"] = {name: t.to_json() for name, t in zip(node.output_names, types)}
    return entry


def write(analyses, stream, style, quiet: bool = False) -> None:  # noqa: ARG001
    """`--format json`: one document for all files."""
    import json

    stream.write(json.dumps(document_json(analyses), indent=1) + "\n")


def document_json(analyses) -> dict:
    return {"specc_version": __version__, "files": [{
        "path": a.path,
        "ok": a.ok,
        # a diagnostic about another file (a plugin's, in the configuration) says which
        "diagnostics": [d.to_json() if d.file in (None, a.path) else
                        dict(d.to_json(), file=d.file) for d in a.diagnostics],
        "model": _with_fit(model_json(a.graph), a.fit)
        if a.graph is not None and a.ok else None,
    } for a in analyses]}


def _with_fit(model: dict, fit) -> dict:
    """`check --memory`: model.memory, and per node activation_bytes / receptive_field."""
    if fit is None:
        return model
    model["memory"] = fit.to_json()
    nodes = fit.report.nodes if fit.report is not None else {}
    for entry in model["nodes"]:
        if entry["name"] in nodes:
            entry["activation_bytes"] = nodes[entry["name"]].activation_bytes
        if entry["name"] in fit.fields:
            entry["receptive_field"] = fit.fields[entry["name"]].to_json()
    return model
