"""Stage 3 — expand: a validated spec document → the graph IR.

Resolves ``vars``, expressions, ``blocks`` (with their params), ``repeat`` (index ``i``),
``if``, nested ``layers`` and ``from`` references, and names every node the way
``nn.Sequential`` would (named nodes by name, unnamed ones by their index).
Errors are collected per node, so one bad node does not hide the next.
"""
from __future__ import annotations

import keyword
import re

from specc.dims import Sym, parse_dim, substitute
from specc.errors import Diagnostic, Limits, Loc, SpecError
from specc.expr import ExprError, evaluate
from specc.ir import Graph, Node, Ref, Scope
from specc.loader import LDict, LList
from specc.ops.base import REQUIRED, get_op
from specc.ops.ptypes import check_value
from specc.tensor import DTYPES, TensorType

NODE_KEYS = ("name", "op", "block", "layers", "from", "if", "repeat", "repeat_name", "init",
             "inline", "checkpoint")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Attributes of torch.nn.Module: a submodule with one of these names would shadow them.
# tests/test_names.py checks this list against dir(torch.nn.Module).
MODULE_ATTRS = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children
named_modules named_parameters parameters register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory smooth_l1_loss state_dict to to_empty train
training type xpu zero_grad
""".split())


class _Namespace:
    """Names visible at a point in a sequence; lookups fall back to the enclosing one."""

    def __init__(self, parent: "_Namespace | None" = None):
        self.parent = parent
        self.entries: dict[str, object] = {}  # name -> Node | Scope | Ref

    def lookup(self, name: str):
        ns = self
        while ns is not None:
            if name in ns.entries:
                return ns.entries[name]
            ns = ns.parent
        return None

    def visible(self) -> list[str]:
        names, ns = [], self
        while ns is not None:
            names += list(ns.entries)
            ns = ns.parent
        return names


class _NodeError(Exception):
    def __init__(self, code: str, message: str, loc: Loc, hint: str | None = None):
        self.code, self.loc, self.hint = code, loc, hint
        super().__init__(message)


def suggest(word: str, options) -> str | None:
    import difflib  # only on the error path

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


class Expander:
    def __init__(self, doc: LDict, dims: dict | None = None, limits: Limits | None = None):
        self.doc = doc
        self.dims = dict(dims or {})
        self.limits = limits or Limits()
        self.diagnostics: list[Diagnostic] = []
        self.nodes: list[Node] = []
        self.block_stack: list[str] = []
        self.vars: dict = {}
        self.scope_namespaces: dict[int, _Namespace] = {}
        self.next_index: dict[int, int] = {}  # id(scope) -> index of its next unnamed item
        self.paths: set[str] = set()  # module paths taken so far

    # -- entry point ----------------------------------------------------------------
    def run(self) -> Graph:
        doc = self.doc
        self.vars = self._eval_vars(doc.get("vars") or LDict())
        inputs = self._inputs(doc)
        root = Scope("", "model", doc.loc, named=True)
        top = _Namespace()
        for node in inputs:
            top.entries[node.id] = node
        first = inputs[0].ref if inputs else None
        root.input = first
        root.output = self._sequence(doc.get("layers") or LList(), root, top, first, self.vars)
        outputs, as_dict = self._outputs(doc, self.scope_namespaces.get(id(root), top), root)
        graph = Graph(name=str(doc.get("name", "model")), inputs=inputs, nodes=self.nodes,
                      root=root, outputs=outputs, outputs_as_dict=as_dict,
                      diagnostics=self.diagnostics)
        graph.loss = self._loss(doc.get("loss"), outputs)
        graph.task = doc.get("task")
        batch = doc.get("batch")
        if batch:
            graph.batch_symbols = {batch}
        else:
            graph.batch_symbols = {str(n.out_types[0].shape[0]) for n in inputs
                                   if n.out_types and n.out_types[0].shape
                                   and isinstance(n.out_types[0].shape[0], Sym)}
        graph.init = dict(doc.get("init") or {})
        return graph

    def _report(self, code: str, message: str, loc: Loc, node: str | None = None,
                hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(code, message, "error", loc, node, hint))

    def _eval_vars(self, raw: LDict) -> dict:
        env: dict = {}
        for key, value in raw.items():
            try:
                env[key] = evaluate(value, env)
            except ExprError as exc:
                self._report("E207", f"in vars.{key}: {exc}", raw.loc_of(key))
        return env

    # -- inputs and outputs -------------------------------------------------------------
    def _inputs(self, doc: LDict) -> list[Node]:
        nodes = []
        raw = doc.get("inputs") or LDict()
        for name, spec in raw.items():
            loc = raw.loc_of(name)
            entries = spec.get("shape", [])
            shape = [self._input_dim(name, i, entry,
                                     entries.loc_of(i) if isinstance(entries, LList) else loc)
                     for i, entry in enumerate(entries)]
            dtype = spec.get("dtype", "float32")
            try:
                self._check_name(name, loc, "input")
            except _NodeError as exc:
                self._report(exc.code, str(exc), exc.loc, hint=exc.hint)
            node = Node(name, "input", {"dtype": dtype}, [], loc, named=True, attr_name=name)
            node.out_types = [TensorType(tuple(shape), dtype if dtype in DTYPES else "float32")]
            nodes.append(node)
        if not nodes:
            self._report("E105", "the spec declares no inputs", doc.loc,
                         hint="add e.g.  inputs: {x: {shape: [N, 3, 224, 224]}}")
        return nodes

    def _input_dim(self, name: str, i: int, entry, loc: Loc):
        """One declared input size: an int, a symbol, a multiple like 8*h, or an expression.
        A bad one is reported and replaced by 1, so the rest of the model is still checked."""
        try:
            value = evaluate(entry, self.vars)
        except ExprError as exc:
            self._report("E207", f"input {name}: {exc}", loc)
            return 1
        if isinstance(value, str):
            parsed = parse_dim(value)
            value = value if parsed is None else substitute(parsed, self.dims)
        if isinstance(value, bool) or not isinstance(value, (int, Sym)):
            self._report("E104", f"input {name}: dim {i} must be an integer or a symbol name, "
                         f"got {value!r}", loc)
            return 1
        if isinstance(value, int) and not 0 <= value <= self.limits.max_dim:
            self._report("E004" if value > 0 else "E303", f"input {name}: dim {i} = {value} is "
                         + ("negative" if value < 0 else "over the limit max_dim"), loc)
            return 1
        return value

    def _outputs(self, doc: LDict, ns: _Namespace, root: Scope):
        raw = doc.get("outputs")
        if raw is None:
            if root.output is None:
                return [], False
            # the model's output is its last node; it is called by that node's name
            last = root.items[-1] if root.items else None
            name = last.attr_name if last is not None and last.named else "out"
            return [(name, root.output)], False
        as_dict = isinstance(raw, dict)
        items = list(raw.items()) if as_dict else [(r, r) for r in raw]
        outputs = []
        for index, (key, target) in enumerate(items):
            loc = raw.loc_of(key if as_dict else index)
            try:
                ref = self._resolve(str(target), ns, loc)
            except _NodeError as exc:
                self._report(exc.code, f"outputs: {exc}", exc.loc, hint=exc.hint)
                continue
            outputs.append((str(key), ref))
        return outputs, as_dict

    def _loss(self, raw, outputs) -> dict:
        if raw is None:
            return {}
        if isinstance(raw, str):
            return {name: raw for name, _ in outputs[:1]}
        names = {name for name, _ in outputs}
        result = {}
        for key, value in raw.items():
            if key not in names:
                self._report("E201", f"loss: '{key}' is not an output of the model "
                             f"(outputs: {', '.join(sorted(names))})", raw.loc_of(key))
            result[key] = value
        return result

    # -- sequences ---------------------------------------------------------------
    def _sequence(self, items: LList, scope: Scope, outer: _Namespace, prev: Ref | None,
                  env: dict) -> Ref | None:
        ns = _Namespace(outer)
        self.scope_namespaces.setdefault(id(scope), ns)
        all_names = {item.get("name") for item in items
                     if isinstance(item, dict) and isinstance(item.get("name"), str)}
        for position, raw in enumerate(items):
            loc = items.loc_of(position)
            item = _normalise(raw, loc)
            index = self.next_index.get(id(scope), 0)
            try:
                if "repeat" in item and "name" not in item:
                    prev = self._splice_repeat(item, scope, ns, prev, env, loc, all_names)
                    continue
                if item.get("inline") and "block" in item:
                    prev = self._inline(item, scope, ns, prev, env, loc, all_names)
                    continue
                prev = self._item(item, index, scope, ns, prev, env, loc, all_names)
            except _NodeError as exc:
                path = _join(scope.path, str(item.get("name", index)))
                self._report(exc.code, str(exc), exc.loc, path, exc.hint)
                prev = self._broken(scope, path, str(item.get("name", index)), loc, prev, ns,
                                    item)
            if len(self.nodes) > self.limits.max_graph_nodes:
                raise SpecError(Diagnostic("E004", f"the model expands to more than "
                                           f"{self.limits.max_graph_nodes} nodes "
                                           "(max_graph_nodes)", "error", loc))
        return prev

    def _broken(self, scope, path, name, loc, prev, ns, item) -> Ref:
        node = Node(path, str(item.get("op", "?")), {}, [prev] if prev else [], loc,
                    scope=scope, attr_name=name, broken=True)
        self.nodes.append(node)
        scope.items.append(node)
        if "name" in item:
            ns.entries[str(item["name"])] = node
        return node.ref

    def _item(self, item: LDict, index: int, scope: Scope, ns: _Namespace, prev: Ref | None,
              env: dict, loc: Loc, later_names: set) -> Ref:
        name, named = self._node_name(item, index, env, loc)
        path = _join(scope.path, name)
        if named and name in ns.entries:
            raise _NodeError("E202", f"duplicate name '{name}' in this sequence",
                             item.loc_of("name"))
        if "if" in item:
            enabled = self._eval(item["if"], env, item.loc_of("if"), "if")
            if not enabled:
                sources = self._sources(item, ns, prev, later_names)
                passthrough = sources[0] if sources else prev
                if named:
                    ns.entries[name] = passthrough
                return passthrough
        sources = self._sources(item, ns, prev, later_names)
        self.next_index[id(scope)] = index + 1  # a disabled item takes no index (nn.Sequential)
        if "repeat" in item:
            result = self._repeat(item, name, path, named, scope, ns, sources, env, loc)
        elif "block" in item:
            result = self._block(item, name, path, named, scope, sources, env, loc)
        elif "layers" in item:
            result = self._nested(item, name, path, named, scope, ns, sources, env, loc)
        else:
            result = self._op_node(item, name, path, named, scope, sources, env, loc)
        ns.entries[name] = result  # unnamed nodes are reachable by index, as in nn.Sequential
        return result.output if isinstance(result, Scope) else result.ref

    def _node_name(self, item: LDict, index: int, env: dict, loc: Loc) -> tuple[str, bool]:
        if "name" not in item:
            return str(index), False
        name = self._eval(item["name"], env, item.loc_of("name"), "name")
        self._check_name(name, item.loc_of("name"), "node")
        return name, True

    def _check_name(self, name, loc: Loc, what: str) -> None:
        if not isinstance(name, str) or not _IDENT.match(name):
            raise _NodeError("E203", f"{what} name {name!r} is not a valid identifier "
                             "(letters, digits and _, not starting with a digit)", loc)
        if keyword.iskeyword(name) or name.startswith("__") or name in MODULE_ATTRS \
                or name in ("self", "torch", "nn"):
            raise _NodeError("E203", f"{what} name '{name}' is reserved (a Python keyword or "
                             "an nn.Module attribute)", loc,
                             hint=f"rename it, e.g. '{name}_'")

    def _sources(self, item: LDict, ns: _Namespace, prev: Ref | None, later: set) -> list[Ref]:
        if "from" not in item:
            if prev is None:
                raise _NodeError("E201", "this node has no input: the model declares no "
                                 "inputs and it says no `from`", item.loc)
            return [prev]
        raw = item["from"]
        targets = raw if isinstance(raw, list) else [raw]
        refs = []
        for i, target in enumerate(targets):
            loc = raw.loc_of(i) if isinstance(raw, LList) else item.loc_of("from")
            if isinstance(target, int) and not isinstance(target, bool):
                target = str(target)  # an unnamed node, by its index
            if not isinstance(target, str):
                raise _NodeError("E104", f"`from` entries are node names, got {target!r}", loc)
            refs.append(self._resolve(target, ns, loc, later))
        return refs

    def _resolve(self, target: str, ns: _Namespace, loc: Loc, later: set = frozenset()) -> Ref:
        parts = target.split(".")
        entry = ns.lookup(parts[0])
        if entry is None:
            if parts[0] in later:
                raise _NodeError("E201", f"'{parts[0]}' is defined later in this sequence: "
                                 "`from` can only name earlier nodes (no cycles)", loc)
            raise _NodeError("E201", f"unknown name '{parts[0]}' in `from`", loc,
                             suggest(parts[0], ns.visible()))
        for depth, part in enumerate(parts[1:], start=1):
            entry = self._descend(entry, part, ".".join(parts[:depth]), loc)
        if isinstance(entry, Scope):
            return entry.output
        if isinstance(entry, Node):
            return entry.ref
        return entry

    def _descend(self, entry, part: str, prefix: str, loc: Loc):
        if isinstance(entry, Scope):
            ns = self.scope_namespaces.get(id(entry))
            if ns is not None and part in ns.entries:
                return ns.entries[part]
            children = [i.attr_name for i in entry.items]
            for item in entry.items:
                if item.attr_name == part:
                    return item
            raise _NodeError("E201", f"'{prefix}' has no part named '{part}'", loc,
                             suggest(part, children))
        if isinstance(entry, Node):
            if part in entry.output_names:
                return Ref(entry, entry.output_names.index(part))
            raise _NodeError("E209", f"'{prefix}' ({entry.op}) has no output '{part}' "
                             f"(outputs: {', '.join(entry.output_names)})", loc,
                             suggest(part, entry.output_names))
        raise _NodeError("E201", f"'{prefix}' is a pass-through (its `if` is false) and has "
                         f"no part '{part}'", loc)

    # -- the four kinds of node ---------------------------------------------------------
    def _claim(self, path: str, loc: Loc) -> None:
        if path in self.paths:
            raise _NodeError("E202", f"two modules would be called '{path}' (an inline block "
                             "with named layers, used twice?)", loc)
        self.paths.add(path)

    def _new_scope(self, kind, name, path, named, scope, loc, block=None) -> Scope:
        self._claim(path, loc)
        child = Scope(path, kind, loc, attr_name=name, parent=scope, block=block, named=named)
        scope.items.append(child)
        return child

    def _repeat_count(self, item, env) -> int:
        count = self._eval(item["repeat"], env, item.loc_of("repeat"), "repeat")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise _NodeError("E104", f"repeat must be a positive integer, got {count!r}",
                             item.loc_of("repeat"))
        if count > self.limits.max_repeat:
            raise _NodeError("E004", f"repeat: {count} is over the limit of "
                             f"{self.limits.max_repeat} (max_repeat)", item.loc_of("repeat"))
        return count

    def _splice_repeat(self, item, scope, ns, prev, env, loc, later) -> Ref | None:
        """An unnamed `repeat`: the copies become items of this sequence, one index each."""
        count = self._repeat_count(item, env)
        first, rest = _without(item, ("repeat",)), _without(item, ("repeat", "from"))
        for i in range(count):
            body, child_env = (first if i == 0 else rest), dict(env, i=i)
            if body.get("inline") and "block" in body:
                prev = self._inline(body, scope, ns, prev, child_env, loc, later)
            else:
                index = self.next_index.get(id(scope), 0)
                prev = self._item(body, index, scope, ns, prev, child_env, loc, later)
        return prev

    def _repeat(self, item, name, path, named, scope, ns, sources, env, loc) -> Scope:
        """A named `repeat`: a sub-sequence whose copies are named 0..n-1 (or repeat_name)."""
        count = self._repeat_count(item, env)
        container = self._new_scope("repeat", name, path, named, scope, loc)
        container.input = sources[0]
        body = _without(item, ("name", "repeat", "repeat_name", "from", "if", "inline"))
        inner = _Namespace(ns)
        self.scope_namespaces[id(container)] = inner
        prev = sources[0]
        for i in range(count):
            child_env = dict(env, i=i)
            child_name = str(i)
            if "repeat_name" in item:
                child_name = self._eval(item["repeat_name"], child_env,
                                        item.loc_of("repeat_name"), "repeat_name")
                self._check_name(child_name, item.loc_of("repeat_name"), "repeat_name")
            child_path = _join(path, child_name)
            child_sources = [prev] + sources[1:]
            if "block" in body:
                result = self._block(body, child_name, child_path, False, container,
                                     child_sources, child_env, loc)
            elif "layers" in body:
                result = self._nested(body, child_name, child_path, False, container, inner,
                                      child_sources, child_env, loc)
            else:
                result = self._op_node(body, child_name, child_path, False, container,
                                       child_sources, child_env, loc)
            inner.entries[child_name] = result
            prev = result.output if isinstance(result, Scope) else result.ref
        container.output = prev
        return container

    def _inline(self, item, scope, ns, prev, env, loc, later) -> Ref | None:
        """`inline: true`: splice the block's layers (× repeat) into this sequence."""
        if "if" in item and not self._eval(item["if"], env, item.loc_of("if"), "if"):
            return prev
        if "name" in item:
            raise _NodeError("E207", "an inline block has no name of its own: its layers join "
                             "this sequence", item.loc_of("name"))
        if item.get("checkpoint"):
            raise _NodeError("E207", "an inline block has no module of its own to checkpoint",
                             item.loc_of("checkpoint"), "drop inline: or checkpoint:")
        sources = self._sources(item, ns, prev, later)
        definition, params, block_ns = self._enter_block(item, sources, env)
        try:
            return self._sequence(definition.get("layers") or LList(), scope, block_ns,
                                  sources[0], dict(self.vars, **params)) or sources[0]
        finally:
            self.block_stack.pop()

    def _enter_block(self, item, sources, env):
        """Check a block use; push it on the recursion stack; return (definition, params, ns)."""
        block_name = item["block"]
        blocks = self.doc.get("blocks") or LDict()
        if block_name not in blocks:
            raise _NodeError("E204", f"unknown block '{block_name}'", item.loc_of("block"),
                             suggest(block_name, blocks) or
                             f"blocks defined: {', '.join(blocks) or 'none'}")
        if block_name in self.block_stack:
            chain = " → ".join(self.block_stack + [block_name])
            raise _NodeError("E206", f"block '{block_name}' uses itself ({chain})",
                             item.loc_of("block"))
        definition = blocks[block_name]
        params = self._block_params(item, block_name, definition, env)
        input_names = list(definition.get("inputs") or ["x"])
        if len(sources) != len(input_names):
            raise _NodeError("E207", f"block '{block_name}' takes {len(input_names)} input(s) "
                             f"({', '.join(input_names)}), got {len(sources)}",
                             item.loc_of("from") if "from" in item else item.loc)
        ns = _Namespace()  # blocks are closed: they see only their own inputs
        for input_name, ref in zip(input_names, sources):
            ns.entries[input_name] = ref
        self.block_stack.append(block_name)
        return definition, params, ns

    def _nested(self, item, name, path, named, scope, ns, sources, env, loc) -> Scope:
        container = self._new_scope("sequence", name, path, named, scope, loc)
        container.input = sources[0]
        layers = item["layers"]
        container.output = self._sequence(layers, container, ns, sources[0], env) or sources[0]
        return container

    def _block(self, item, name, path, named, scope, sources, env, loc) -> Scope:
        definition, params, ns = self._enter_block(item, sources, env)
        container = self._new_scope("block", name, path, named, scope, loc,
                                    block=item["block"])
        container.checkpoint = item.get("checkpoint") is True
        container.input = sources[0]
        try:
            out = self._sequence(definition.get("layers") or LList(), container, ns, sources[0],
                                 dict(self.vars, **params))
        finally:
            self.block_stack.pop()
        output = definition.get("output")
        if output is not None:
            out = self._resolve(str(output), self.scope_namespaces[id(container)],
                                definition.loc_of("output"))
        container.output = out or sources[0]
        return container

    def _block_params(self, item: LDict, block_name: str, definition: LDict, env: dict) -> dict:
        declared = definition.get("params") or LDict()
        values = {}
        for key, value in item.items():
            if key in NODE_KEYS:
                continue
            if key not in declared:
                raise _NodeError("E205", f"block '{block_name}' has no parameter '{key}'",
                                 item.key_locs.get(key, item.loc),
                                 suggest(key, declared) or
                                 f"its parameters: {', '.join(declared) or 'none'}")
            values[key] = self._eval(value, env, item.loc_of(key), key)
        for key, default in declared.items():
            if key not in values:
                if default is None:
                    raise _NodeError("E205", f"block '{block_name}' needs parameter '{key}'",
                                     item.loc)
                values[key] = self._eval(default, dict(self.vars, **values),
                                         declared.loc_of(key), key)
        return values

    def _op_node(self, item, name, path, named, scope, sources, env, loc) -> Node:
        op_name = item.get("op")
        op = get_op(op_name) if isinstance(op_name, str) else None
        if op is None:
            raise _NodeError("E102", f"unknown op {op_name!r}", item.loc_of("op"),
                             suggest(op_name, _all_op_names()))
        attrs, given, attr_locs = self._op_attrs(op, item, env)
        low, high = op.n_inputs
        if not (low <= len(sources) and (high is None or len(sources) <= high)):
            if low == 0:
                sources = []  # a source op (`parameter`) ignores the previous node
            else:
                want = f"{low}" if low == high else f"{low} to {high or 'any number of'}"
                raise _NodeError("E307", f"{op.name} takes {want} input(s), got {len(sources)}",
                                 item.loc_of("from") if "from" in item else loc)
        self._claim(path, loc)
        node = Node(path, op.name, attrs, list(sources), loc, scope=scope, attr_name=name,
                    named=named, given=given, attr_locs=attr_locs, init=item.get("init"),
                    output_names=op.output_names(attrs))
        self.nodes.append(node)
        scope.items.append(node)
        return node

    def _op_attrs(self, op, item: LDict, env: dict):
        """(attributes with defaults filled in, names the spec gave, their locations)."""
        attrs, given, attr_locs = {}, set(), {}
        for key, value in item.items():
            if key in NODE_KEYS:
                continue
            param = op.param(key)
            vloc = item.loc_of(key)
            if param is None:
                raise _NodeError("E103", f"{op.name} has no parameter '{key}'",
                                 item.key_locs.get(key, vloc),
                                 suggest(key, op.param_map) or
                                 f"its parameters: {', '.join(op.param_map) or 'none'}")
            value = self._eval(value, env, vloc, key)
            if param.type == "shape" and isinstance(value, list):  # --dim binds symbols here too
                value = [self.dims.get(v, v) if isinstance(v, str) else v for v in value]
            expected = check_value(param.type, param.choices, value)
            if expected is not None:
                raise _NodeError("E104", f"{op.name}.{key} must be {expected}, got {value!r}",
                                 vloc)
            attrs[key], attr_locs[key] = value, vloc
            given.add(key)
        for param in op.params:
            if param.name not in attrs:
                if param.default is REQUIRED and not param.inferred:
                    raise _NodeError("E105", f"{op.name} needs parameter '{param.name}'",
                                     item.loc)
                attrs[param.name] = None if param.default is REQUIRED else param.default
        return attrs, given, attr_locs

    def _eval(self, value, env: dict, loc: Loc, what: str):
        try:
            if isinstance(value, list):
                return [self._eval(v, env, loc, what) for v in value]
            return evaluate(value, env)
        except ExprError as exc:
            if exc.offset is not None and loc.line:  # point into the expression itself
                loc = Loc(loc.line, loc.col + exc.offset)
            raise _NodeError("E207", f"in {what}: {exc}", loc) from None


def _normalise(raw, loc: Loc) -> LDict:
    """`- ReLU` is shorthand for `- {op: ReLU}`."""
    if isinstance(raw, str):
        item = LDict(loc)
        item["op"] = raw
        item.value_locs["op"] = loc
        item.key_locs["op"] = loc
        return item
    if isinstance(raw, LDict):
        return raw
    item = LDict(loc)
    item["op"] = raw
    return item


def _without(item: LDict, keys) -> LDict:
    """A copy of a node mapping without some keys (positions kept)."""
    body = LDict(item.loc)
    for key, value in item.items():
        if key not in keys:
            body[key] = value
            body.value_locs[key] = item.loc_of(key)
            body.key_locs[key] = item.key_locs.get(key, item.loc)
    return body


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _all_op_names():
    from specc.ops.base import all_ops

    return all_ops().keys()


def expand(doc: LDict, dims: dict | None = None, limits: Limits | None = None) -> Graph:
    return Expander(doc, dims, limits).run()
