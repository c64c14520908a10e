"""The model-level parts of a spec: `vars`, `inputs`, `layers`, `outputs`, `loss`."""
from __future__ import annotations

from specc.dims import EMPTY_SIZE_REFUSED, Sym, parse_dim, substitute
from specc.errors import Diagnostic, Limits, Loc
from specc.expand.expander import Expander
from specc.expand.names import NodeError, check_name
from specc.expand.place import Frame, Namespace
from specc.expr import ExprError, evaluate
from specc.ir import Graph, Node, Scope
from specc.loader import LDict, LList
from specc.tensor import DTYPES, TensorType


def expand(doc: LDict, dims: dict | None = None,
           limits: Limits | None = None) -> tuple[Graph, list[Diagnostic]]:
    """A validated spec document → (the graph IR, the errors found on the way). A node that
    could not be expanded is in the graph as a `broken` stand-in, so later ones are checked."""
    ex = Expander(doc, dims, limits)
    ex.vars = _eval_vars(ex, doc.get("vars") or LDict())
    ex.init_by_op = _model_init(ex, doc)
    inputs = _inputs(ex, doc)
    root = Frame(Scope("", "model", doc.loc, named=True))
    top = Namespace()
    for node in inputs:
        top.entries[node.id] = node
    first = inputs[0].ref if inputs else None
    root.scope.input = first
    root.scope.output = ex.sequence(doc.get("layers") or LList(), root, top, first, ex.vars)
    outputs, as_dict = _outputs(ex, doc, root.names or top, root.scope)
    graph = Graph(name=str(doc.get("name", "model")), inputs=inputs, nodes=ex.nodes,
                  root=root.scope, outputs=outputs, outputs_as_dict=as_dict)
    graph.loss = _loss(ex, doc.get("loss"), outputs)
    graph.task = doc.get("task")
    graph.symbols = set(ex.symbols)
    batch = doc.get("batch")
    if batch:
        graph.batch_symbols = {batch}
    else:
        graph.batch_symbols = {str(n.out_types[0].shape[0]) for n in inputs
                               if n.out_types and n.out_types[0].shape
                               and isinstance(n.out_types[0].shape[0], Sym)}
    graph.vars = dict(ex.vars)
    return graph, ex.diagnostics


def _eval_vars(ex: Expander, raw: LDict) -> dict:
    env: dict = {}
    for key, value in raw.items():
        try:
            env[key] = evaluate(value, env)
        except ExprError as exc:
            ex.report("E207", f"in vars.{key}: {exc}", raw.loc_of(key))
    return env


def _inputs(ex: Expander, doc: LDict) -> list[Node]:
    nodes = []
    raw = doc.get("inputs") or LDict()
    for name, spec in raw.items():
        loc = raw.loc_of(name)
        entries = spec.get("shape", [])
        shape = [_input_dim(ex, name, i, entry,
                            entries.loc_of(i) if isinstance(entries, LList) else loc)
                 for i, entry in enumerate(entries)]
        dtype = spec.get("dtype", "float32")
        try:
            check_name(name, loc, "input")
        except NodeError as exc:
            ex.report(exc.code, str(exc), exc.loc, hint=exc.hint)
        node = Node(name, "input", {"dtype": dtype}, [], loc, named=True, attr_name=name)
        node.out_types = [TensorType(tuple(shape), dtype if dtype in DTYPES else "float32")]
        nodes.append(node)
    if not nodes:
        ex.report("E105", "the spec declares no inputs", doc.loc,
                  hint="add e.g.  inputs: {x: {shape: [N, 3, 224, 224]}}")
    return nodes


def _input_dim(ex: Expander, name: str, i: int, entry, loc: Loc):
    """One declared input size: an int, a symbol, a multiple like 8*h, or an expression.
    A bad one is reported and replaced by 1, so the rest of the model is still checked."""
    try:
        value = evaluate(entry, ex.vars)
    except ExprError as exc:
        ex.report("E207", f"input {name}: {exc}", loc)
        return 1
    if isinstance(value, str):
        parsed = parse_dim(value)
        if parsed is not None and isinstance(parsed, Sym):
            ex.symbols |= parsed.symbols()  # what `--dim` may bind
        value = value if parsed is None else substitute(parsed, ex.dims)
    if isinstance(value, bool) or not isinstance(value, (int, Sym)):
        ex.report("E104", f"input {name}: dim {i} must be an integer or a symbol name, "
                  f"got {value!r}", loc)
        return 1
    if isinstance(value, int) and value > ex.limits.max_dim:
        ex.report("E004", f"input {name}: dim {i} = {value} is over the limit max_dim", loc)
        return 1
    if isinstance(value, int) and value < 1:
        if not isinstance(entry, int):  # the schema reports a literal size
            ex.report("E303", f"input {name}: dim {i} = {value}: a size must be at least 1; "
                      f"{EMPTY_SIZE_REFUSED}", loc)
        return 1
    return value


def _outputs(ex: Expander, doc: LDict, ns: Namespace, root: Scope):
    raw = doc.get("outputs")
    if raw is None:
        if root.output is None:
            return [], False
        # the model's output is its last node (training-only side branches aside); it is
        # called by that node's name
        last = next((item for item in reversed(root.items) if not item.training_only), None)
        name = last.attr_name if last is not None and last.named else "out"
        return [(name, root.output)], False
    as_dict = isinstance(raw, dict)
    items = list(raw.items()) if as_dict else [(r, r) for r in raw]
    outputs = []
    for index, (key, target) in enumerate(items):
        loc = raw.loc_of(key if as_dict else index)
        try:
            ref = ex.resolve(str(target), ns, loc)
        except NodeError as exc:
            ex.report(exc.code, f"outputs: {exc}", exc.loc, hint=exc.hint)
            continue
        outputs.append((str(key), ref))
    if outputs and all(ref.node.training_only for _, ref in outputs):
        ex.report("E210", "every output is computed in training only (`training_only: true`): "
                  "an eval forward would return nothing", raw.loc,
                  hint="list an output that eval computes too (the main head's logits)")
    return outputs, as_dict


def _loss(ex: Expander, raw, outputs) -> dict:
    if raw is None:
        return {}
    if isinstance(raw, str):
        return {name: raw for name, _ in outputs[:1]}
    names = {name for name, _ in outputs}
    result = {}
    for key, value in raw.items():
        if key not in names:
            ex.report("E201", f"loss: '{key}' is not an output of the model "
                      f"(outputs: {', '.join(sorted(names))})", raw.loc_of(key))
        result[key] = value
    return result


def _model_init(ex: Expander, doc: LDict) -> dict:
    """The spec's per-op-type `init:`: op name -> (entry with its expressions evaluated
    with `vars`, its locations); a refused entry is reported and left out."""
    raw = doc.get("init") or LDict()
    result = {}
    for op_name, entry in raw.items():
        where = raw.loc_of(op_name) if isinstance(raw, LDict) else doc.loc
        value, locs = ex.read_init(entry, ex.vars, where, f"init.{op_name}")
        if value is not None:
            result[op_name] = value, locs
    return result
