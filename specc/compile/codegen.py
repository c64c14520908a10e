"""Stage 6a — compile: graph IR → the Python source of a PyTorch model.

Every scope (the model, a block instance, a nested sequence) becomes a module. A scope
that is a plain chain of modules becomes ``nn.Sequential`` (as torchvision writes them);
any other scope becomes a generated ``_Scope`` subclass whose ``forward`` is straight-line
code — no loop over a graph at call time. Scopes with the same forward share one class.

The source imports only torch, so ``--emit-python`` writes exactly what ``build`` runs.
This module does not import torch.
"""
from __future__ import annotations

import keyword
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from specc.dims import Sym
from specc.expand.names import plain_attribute
from specc.ir import Graph, Node, Ref, Scope
from specc.ops.base import EmitCtx
from specc.tensor import TensorType
from specc.compile.init import init_code
from specc.compile.scopes import (ScopeState, externals, find_exports, is_chain, op_of,
                                   returns, runs_in_training_only)

_PRELUDE = '''\
import torch
from torch import nn


class _Buffer:
    """A tensor to register as a buffer (persistent: saved in the state_dict)."""

    def __init__(self, tensor, persistent=True):
        self.tensor, self.persistent = tensor, persistent


class _Scope(nn.Module):
    """A container whose children are given as a name -> module/parameter/buffer mapping."""

    def __init__(self, children):
        super().__init__()
        for name, child in children.items():
            if isinstance(child, nn.Parameter):
                self.register_parameter(name, child)
            elif isinstance(child, _Buffer):
                self.register_buffer(name, child.tensor, persistent=child.persistent)
            else:
                self.add_module(name, child)
'''


class CodegenError(Exception):
    pass


@dataclass
class Source:
    text: str  # defines the classes and build_model(), which returns the model
    # line number in text -> the attribute (node or child scope) whose code that line is;
    # the attributes along a call stack of generated frames spell the node's path
    line_owner: dict = field(default_factory=dict)


@dataclass
class CodegenState(ScopeState):
    """What generating one model's code has found so far (the scope analysis's answers in
    the fields of :class:`specc.compile.scopes.ScopeState`)."""

    classes: dict = field(default_factory=dict)  # forward text -> class name
    class_order: list = field(default_factory=list)  # (name, text)
    class_owners: dict = field(default_factory=dict)  # class name -> owner of each body line
    build_lines: list = field(default_factory=list)
    used_names: set = field(default_factory=set)
    runtime_classes: dict = field(default_factory=dict)  # name -> source (runtime.py)
    trace: bool = False  # record every node's outputs (for tests and debugging)
    float_dtype: str = "float32"  # `build --dtype`: floats the graph creates get this dtype
    plugin_classes: dict = field(default_factory=dict)  # "pkg.mod:Class" -> local name
    # id(node) -> the attribute name the code gives it instead of its spec name (the
    # readable --emit-python names stateless unnamed modules; see specc/compile/readable.py)
    renamed: dict = field(default_factory=dict)
    short_names: bool = False  # forward parameters named by their node, not their path
    # The copies of a repeat (Scope.twin) are built by builder functions, one per distinct
    # code: ids of the scopes copies were copied from; id(that scope) -> [(a scope, the
    # name of the builder that builds it)]; the builders' definitions
    templates: set = field(default_factory=set)
    builders: dict = field(default_factory=dict)
    builder_defs: list = field(default_factory=list)
    # (id(a built copy), id(a scope in it)) -> that scope's _interface, see _same_code
    interfaces: dict = field(default_factory=dict)


def python_name(text: str, taken: set, prefix: str = "v") -> str:
    """A fresh, safe identifier derived from ``text``."""
    # NFKC first: Python reads identifiers in that form, so "ﬁ" and "fi" are one name
    base = "".join(c if ("_" + c).isidentifier() else "_"
                   for c in unicodedata.normalize("NFKC", text)) or prefix
    if base[0].isdigit():
        base = f"{prefix}{base}"
    if keyword.iskeyword(base) or base in ("self", "torch", "nn"):
        base += "_"
    name, n = base, 1
    while name in taken:
        n += 1
        name = f"{base}_{n}"
    taken.add(name)
    return name


def generate(graph: Graph, trace: bool = False, float_dtype: str | None = None) -> Source:
    """Python source for the model. With ``trace``, every node's outputs are passed to a
    ``_specc_record(node_id, outputs)`` function that the caller puts in the namespace.
    ``float_dtype`` is the dtype the model will be built in: floats made inside forward
    (an integer mask times 1.0, constants) follow it instead of torch's default float32."""
    if not graph.complete:
        raise CodegenError("the spec has errors; fix them before building")
    state = CodegenState(graph, trace=trace, float_dtype=float_dtype or "float32")
    state.exports = find_exports(state)
    if not trace:  # a traced forward records node ids: no two copies share code
        state.templates = {id(s.twin) for s in graph.root.walk_scopes() if s.twin is not None}
    model_class = pascal_case(graph.name) or "Model"
    root_var = _emit_scope(state, graph.root, class_hint=model_class)
    parts = [_PRELUDE] + support_code(state)
    line_owner = {}
    line = "".join(parts).count("\n")
    for name, text in state.class_order:
        parts.append(f"\nclass {name}(_Scope):\n{text}")
        line += 3  # the blank line, `class …:` and `def forward(…):`
        for owner in state.class_owners[name]:
            line += 1
            if owner is not None:
                line_owner[line] = owner
    parts += state.builder_defs
    parts += weights_code(graph, root_var, state.build_lines)
    body = "\n".join("    " + line for line in state.build_lines)
    parts.append(f"\n\ndef build_model():\n    \"\"\"Construct {doc_text(graph.name)}.\"\"\"\n{body}\n"
                 f"    return {root_var}\n")
    text = "".join(parts)
    return Source(text, line_owner)


def support_code(state: CodegenState) -> list[str]:
    """What the generated classes use besides torch: the classes torch.nn lacks, from
    specc/compile/runtime.py (before their users), plugin imports."""
    parts = [f"\n\n{text}\n" for text in state.runtime_classes.values()]
    if state.plugin_classes:
        parts.append("\n# plugin ops' modules (enabled by the configuration, docs/plugins.md)\n"
                     + "".join(_plugin_import(path, alias)
                               for path, alias in state.plugin_classes.items()))
    return parts


def weights_code(graph: Graph, root_var: str, build_lines: list, ties: bool = True,
                 skip_init: frozenset = frozenset()) -> list[str]:
    """The spec's `init:` entries (but those of the nodes ``skip_init`` holds the ids of)
    as an init_weights(model) function (returned) and the lines of build_model() that
    call it and (``ties``) tie weights (appended to ``build_lines``)."""
    parts = []
    init_lines = init_code(graph, skip_init)
    if init_lines:
        parts.append("\n\ndef init_weights(model):\n    \"\"\"The spec's `init:` entries.\"\"\"\n"
                     + "\n".join("    " + line for line in init_lines) + "\n")
        build_lines.append(f"init_weights({root_var})")
    for node in graph.nodes if ties else ():  # after init: the tied weight is the target's
        if node.tie is not None:
            build_lines.append(f"{root_var}.get_submodule({node.id!r}).weight = "
                               f"{root_var}.get_submodule({node.tie!r}).weight")
    return parts


def _emit_scope(state: CodegenState, scope: Scope, class_hint: str) -> str:
    """Emit construction lines for a scope (children first); return its variable.

    The copies of a repeat are constructed by one builder function (written for the copy
    the others were copied from) when their code is the same: 80 decoder layers cost one
    layer's code generation and one line each."""
    family = None if state.trace else scope.twin or (
        scope if id(scope) in state.templates else None)
    if family is None:
        return _emit_construction(state, scope, class_hint)
    builders = state.builders.setdefault(id(family), [])
    for known, name in builders[-_BUILDERS_TRIED:]:
        if _same_code(state, scope, known):
            var = python_name(scope.path.replace(".", "_"), state.used_names, "m")
            state.build_lines.append(f"{var} = {name}()")
            return var
    outer, state.build_lines = state.build_lines, []
    var = _emit_construction(state, scope, class_hint)
    name = python_name(f"_make_{class_hint}", state.used_names | _module_names(state), "m")
    state.used_names.add(name)
    builders.append((scope, name))
    body = "".join(f"    {line}\n" for line in state.build_lines)
    state.builder_defs.append(f"\n\ndef {name}():\n    \"\"\"{doc_text(scope.path)} and the copies "
                              f"of it that compile alike.\"\"\"\n{body}    return {var}\n")
    state.build_lines = outer
    outer.append(f"{var} = {name}()")
    return var


# builders of one family a copy is compared with (the latest): copy 0 and a copy 1 whose
# input is narrower are two builders, 80 copies that each differ are never quadratic
_BUILDERS_TRIED = 4


def _module_names(state: CodegenState) -> set:
    """Names module-level definitions of the generated source may not take."""
    return {n for n, _ in state.class_order} | reserved_names() | runtime_class_names() \
        | {name for builders in state.builders.values() for _, name in builders}


def _same_code(state: CodegenState, scope: Scope, known: Scope) -> bool:
    """True when ``scope``, a copy of a repeat, compiles to the very code ``known`` (another
    copy of the same family, see Scope.twin) does: the same structure (they are copies), and
    the same inferred facts — attributes and output types of every node, the names and
    types their forwards read from outside, the values they return. A copy whose input has
    another shape, or whose inner value something outside reads (an extra return), does not."""
    pairs: dict = {}  # id(node of the copy) -> the node of `known` in its place
    scopes: list = []

    def walk(a: Scope, b: Scope) -> bool:
        if len(a.items) != len(b.items) or a.module_order != b.module_order \
                or a.checkpoint != b.checkpoint or a.training_only != b.training_only:
            return False
        scopes.append((a, b))
        for x, y in zip(a.items, b.items):
            if isinstance(x, Scope) and isinstance(y, Scope):
                if x.attr_name != y.attr_name or not walk(x, y):
                    return False
            elif isinstance(x, Node) and isinstance(y, Node):
                if x.op != y.op or x.attr_name != y.attr_name or x.attrs != y.attrs \
                        or x.out_types != y.out_types or x.given != y.given \
                        or x.training_only != y.training_only:
                    return False
                pairs[id(x)] = y
            else:
                return False
        return True

    if not walk(scope, known):
        return False
    inside = None
    for a, b in scopes:
        theirs = state.interfaces.get((id(known), id(b)))
        if theirs is None:  # once per built copy, not once per copy compared with it
            inside = inside or {id(node) for node in pairs.values()}
            theirs = state.interfaces[id(known), id(b)] = _interface(state, b, inside)
        if _interface(state, a, pairs) != theirs:
            return False
    return True


def _interface(state: CodegenState, scope: Scope, inside: dict | set) -> tuple:
    """What a scope's forward reads and returns, in terms another copy's can be compared
    with: values from outside by the parameter names they get and their types; values
    computed inside by the other copy's node (``inside`` maps this copy's nodes to the other
    copy's, or, for the other copy itself, is the set of its own nodes)."""
    def value(ref: Ref) -> tuple:
        if isinstance(inside, dict):
            node = inside.get(id(ref.node))
        else:
            node = ref.node if id(ref.node) in inside else None
        if node is None:
            return _param_hint(state, ref, scope), ref.type
        return id(node), ref.index

    return [value(r) for r in externals(state, scope)], [value(r) for r in returns(state, scope)]


def _emit_construction(state: CodegenState, scope: Scope, class_hint: str) -> str:
    """The construction lines of a scope and of everything in it; returns its variable."""
    children = []
    for item in scope.registration_order():
        if isinstance(item, Scope):
            hint = item.block or pascal_case(item.attr_name) or "Seq"
            children.append((item.attr_name, _emit_scope(state, item, hint)))
        else:
            var = _emit_leaf(state, item)
            if var is not None:
                children.append((item.attr_name, var))
    var = python_name(scope.path.replace(".", "_") or "model", state.used_names, "m")
    if not state.trace and is_chain(state, scope):
        if [name for name, _ in children] == [str(i) for i in range(len(children))]:
            args = ", ".join(v for _, v in children)
            state.build_lines.append(f"{var} = nn.Sequential({args})")
        else:  # named children: an empty Sequential filled in order (no OrderedDict import)
            state.build_lines.append(f"{var} = nn.Sequential()")
            state.build_lines += [f"{var}.add_module({name!r}, {v})" for name, v in children]
        return var
    text, owners = forward_text(state, scope)
    if text not in state.classes:
        # nor a local of build_model (a node named `Mlp` in a spec named mlp): `Mlp({...})`
        # would call that node's module; and no later local takes the class's name
        name = python_name(class_hint, _module_names(state) | state.used_names, "Block")
        state.used_names.add(name)
        state.classes[text] = name
        state.class_order.append((name, text))
        state.class_owners[name] = owners
    mapping = ", ".join(f"{name!r}: {v}" for name, v in children)
    state.build_lines.append(f"{var} = {state.classes[text]}({{{mapping}}})")
    return var


_RESERVED = {"_Scope", "_Buffer", "build_model", "torch", "nn"}


def reserved_names() -> set:
    """Names a generated scope class may not take (besides runtime.py's classes)."""
    return _RESERVED


def _emit_leaf(state: CodegenState, node: Node) -> str | None:
    op = op_of(node)
    if op.kind == "function":
        return None
    var = python_name(node.id.replace(".", "_"), state.used_names, "m")
    if op.kind == "parameter":
        shape = ", ".join(str(d) for d in node.attrs["shape"])
        state.build_lines.append(f"{var} = nn.Parameter(torch.zeros({shape}))")  # init: later
        return var
    if op.kind == "buffer":
        state.build_lines.append(f"{var} = _Buffer({buffer_value_code(node, state.float_dtype)}, "
                                 f"persistent={node.attrs['persistent']!r})")
        return var
    state.build_lines.append(f"{var} = {constructor(state, node)}({constructor_args(node)})")
    return var


def constructor(state: CodegenState, node: Node) -> str:
    """The class a module node is built from, as the generated code names it; the code
    that defines or imports it is recorded in ``state``."""
    op = op_of(node)
    if op.runtime_class is not None:  # a class of specc/compile/runtime.py (and its helpers)
        _need_runtime_class(state, op.runtime_class)
        return op.runtime_class
    if op.module is not None:  # a plugin's class, imported at the top of the source
        return state.plugin_classes.setdefault(op.module, f"_plugin_{len(state.plugin_classes)}")
    return f"nn.{op.torch_class}"


def _need_runtime_class(state: CodegenState, name: str) -> None:
    """Copy a class of specc/compile/runtime.py (and the classes of that file it uses) into
    the generated source, once."""
    if name in state.runtime_classes:
        return
    text = runtime_class_source(name)
    for used in sorted(set(re.findall(r"\w+", text)) & runtime_class_names() - {name}):
        _need_runtime_class(state, used)
    state.runtime_classes[name] = text


@lru_cache(maxsize=1)
def _runtime_text() -> str:
    import os

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "runtime.py")
    with open(path, encoding="utf-8") as f:
        return f.read()


def runtime_class_names() -> set:
    """Generated classes must not take these names (a model called specc_attention)."""
    return set(_runtime_classes())


@lru_cache(maxsize=1)
def _runtime_classes() -> frozenset:
    return frozenset(re.findall(r"^class (\w+)", _runtime_text(), re.MULTILINE))


@lru_cache(maxsize=None)
def runtime_class_source(name: str) -> str:
    """The source text of one class of specc/compile/runtime.py, read without importing it
    (importing it would import torch)."""
    import ast

    text = _runtime_text()
    for stmt in ast.parse(text).body:
        if isinstance(stmt, ast.ClassDef) and stmt.name == name:
            return ast.get_source_segment(text, stmt) or ""
    raise CodegenError(f"specc/compile/runtime.py has no class {name}")


def buffer_value_code(node: Node, float_dtype: str, values_code: str | None = None,
                      shape_code: str | None = None) -> str:
    """The initial value of a `buffer` node: its values, or its fill value, in its dtype —
    a float32 buffer in a bf16 build is made in bf16, so `min` is bf16's minimum.
    ``values_code``, ``shape_code``: code written in place of the values and the shape
    (--emit-python computes them from the vars)."""
    a = node.attrs
    dtype = a["dtype"]
    if dtype == "float32" and float_dtype != "float32":
        dtype = float_dtype
    shape = shape_code if shape_code is not None else ", ".join(str(d) for d in a["shape"])
    if a["values"] is not None:
        values = values_code if values_code is not None else repr(a["values"])
        return f"torch.tensor({values}, dtype=torch.{dtype}).reshape({shape},)"
    fill = a["fill"]
    if fill in ("min", "max"):
        value = f"torch.finfo(torch.{dtype}).{fill}"
    elif isinstance(fill, str):
        value = f"float({fill!r})"
    else:
        value = repr(fill)
    return f"torch.full(({shape},), {value}, dtype=torch.{dtype})"


def _plugin_import(path: str, alias: str) -> str:
    """Import a plugin op's class (``package.module:Class``, validated when loaded)."""
    module, _, attr = path.partition(":")
    first, *rest = attr.split(".")
    if not rest:
        return f"from {module} import {first} as {alias}\n"
    return f"from {module} import {first} as {alias}_\n{alias} = {alias}_.{'.'.join(rest)}\n"


def constructor_args(node: Node) -> str:
    """Keyword arguments for the torch constructor: inferred ones and non-defaults."""
    op = op_of(node)
    args = []
    for param in op.params:
        if not param.to_torch:
            continue
        value = node.attrs.get(param.name)
        if param.inferred or param.name in node.given or value != param.default:
            if isinstance(value, list):
                value = tuple(value)
            args.append(f"{param.name}={value!r}")
    return ", ".join(args)


# builtins generated forwards call: a node named `getattr` gets another local name, else
# `getattr = self.getattr(x)` breaks the `getattr(self, '2')` after it
_FORWARD_BUILTINS = {"getattr", "isinstance", "super", "list", "tuple", "range", "len", "int",
                     "float", "min", "max", "abs", "round", "sum", "zip", "ValueError"}


def forward_text(state: CodegenState, scope: Scope, comment=None) -> tuple[str, list]:
    """The forward method of a generated scope class (indented for the class body), and for
    each line of its body the attribute name of the item it computes. ``comment(item)``,
    when given, is what ends each item's last line (the model's shapes by default)."""
    taken: set = {"self", "torch", "nn"} | _FORWARD_BUILTINS
    names: dict = {}
    params = []
    for ref in externals(state, scope):
        names[ref] = python_name(_param_hint(state, ref, scope), taken)
        params.append(names[ref])
    sizes = _Sizes()
    for ref in externals(state, scope):
        sizes.add(names[ref], ref)
    lines: list = []
    owners: list = []
    for item in scope.items:
        owners += [None] * (len(lines) - len(owners))
        item_lines: list = []
        if isinstance(item, Scope):
            args = ", ".join(names[r] for r in externals(state, item))
            made = returns(state, item)
            for ref in made:
                hint = item.attr_name if ref == item.output else str(ref).replace(".", "_")
                names[ref] = python_name(hint, taken)
            outs = [names[ref] for ref in made]
            if item.checkpoint:  # `checkpoint: true`: recompute the block in backward
                item_lines.append(f"{', '.join(outs)} = torch.utils.checkpoint.checkpoint("
                                  f"{_member(attr_of(state, item))}, {args}, "
                                  "use_reentrant=False)")
            else:
                item_lines.append(f"{', '.join(outs)} = {_member(attr_of(state, item))}({args})")
        else:
            item_lines += _node_lines(state, item, names, taken, sizes)
            made = [Ref(item, index) for index in range(len(item.output_names))]
            outs = [names[ref] for ref in made]
        if runs_in_training_only(item, scope):
            # as torchvision's aux heads: None in eval (only training-only code and the
            # training-mode return read them); their sizes are not read by eval code
            lines += [f"{var} = None" for var in outs] + ["if self.training:"]
            lines += ["    " + line for line in item_lines]
        else:
            lines += item_lines
            for ref in made:  # readable by later nodes only
                if not runs_in_training_only(ref.node, scope):  # None in eval: no sizes
                    sizes.add(names[ref], ref)
        if comment is not None:
            lines[-1] += comment(item)
        elif scope.kind == "model" and not state.trace:
            # the model's own forward runs once, so its shapes can be written down (a block
            # class serves instances of several shapes: its lines stay shape-free)
            lines[-1] += _shape_comment(item)
        owners += [item.attr_name] * (len(lines) - len(owners))
    lines.append("return " + _return_expr(state, scope, names))
    owners.append(None)
    signature = ", ".join(["self"] + params)
    body = "\n".join("        " + line for line in lines)
    assert "\n" not in "".join(lines), "an emitted line holds a newline: owners would shift"
    return f"    def forward({signature}):\n{body}\n", owners


def _param_hint(state: CodegenState, ref: Ref, scope: Scope) -> str:
    """What a forward's parameter for a value from outside is called (before clashes are
    numbered): a model input by its name, the scope's input ``x``, others by _value_name."""
    if ref.node.op == "input":
        return ref.node.id
    return "x" if ref == scope.input else _value_name(state, ref, scope)


def _value_name(state: CodegenState, ref: Ref, scope: Scope) -> str:
    """The name a forward's parameter takes for a value from outside: its path, or — in the
    readable --emit-python, where one class serves every instance, so the name must not
    depend on the instance — the input of the enclosing block it is (``attention_input``),
    else its node's own name."""
    if not state.short_names:
        return str(ref).replace(".", "_")
    around = scope.parent
    while around is not None:
        if around.input == ref:
            return f"{around.attr_name or 'model'}_input"
        around = around.parent
    name = ref.node.attr_name
    return name if ref.index == 0 else f"{name}_{ref.node.output_names[ref.index]}"


def _shape_comment(item) -> str:
    types = [item.output.type] if isinstance(item, Scope) and item.output else \
        (item.out_types or []) if isinstance(item, Node) else []
    shapes = ", ".join("[" + ", ".join(map(str, t.shape)) + "]" for t in types if t is not None)
    return f"  # {shapes}" if shapes else ""


def _node_lines(state: CodegenState, node: Node, names: dict, taken: set,
                sizes: _Sizes) -> list[str]:
    op, trace = op_of(node), state.trace
    outs = []
    for index, out_name in enumerate(node.output_names):
        base = node.attr_name if node.named else f"{node.op.lower()}_{node.attr_name}"
        if len(node.output_names) > 1:
            base = f"{base}_{out_name}"
        var = python_name(base, taken)
        names[Ref(node, index)] = var
        outs.append(var)
    made = [Ref(node, index) for index in range(len(outs))]
    if op.kind in ("parameter", "buffer"):
        lines = [f"{outs[0]} = {_member(attr_of(state, node))}"]
        if trace:
            lines.append(f"_specc_record({node.id!r}, ({outs[0]},))")
        return lines
    ctx = EmitCtx(module=_member(attr_of(state, node)) if op.kind == "module" else None,
                  args=[names[r] for r in node.inputs], outs=outs, attrs=node.attrs,
                  in_types=_types(node.inputs), out_types=_types(made),
                  dim_expr=lambda d: sizes.expr(d, node), float_dtype=state.float_dtype)
    lines = op.emit(ctx)
    if op.kind == "function" and op.runtime_class is not None:  # code that calls its helpers
        _need_runtime_class(state, op.runtime_class)
    if op.kind == "function" and state.float_dtype != "float32" \
            and not any(t.is_float for t in ctx.in_types):
        # torch makes new floats float32 (an integer mask * 1.0, an int division): they must
        # meet the model's weights in the model's dtype
        lines += [f"{var} = {var}.to(torch.{state.float_dtype})"
                  for var, t in zip(outs, ctx.out_types) if t.is_float]
    if trace:
        lines.append(f"_specc_record({node.id!r}, ({', '.join(outs)},))")
    return lines


def _types(refs: list[Ref]) -> list[TensorType]:
    """The types of values of a complete graph (inference gave every value its type)."""
    types = []
    for ref in refs:
        value_type = ref.type
        assert value_type is not None, str(ref)
        types.append(value_type)
    return types


def attr_of(state: CodegenState, item: Node | Scope) -> str:
    """The attribute name of a node or scope in its parent module."""
    return state.renamed.get(id(item), item.attr_name)


def _member(attr: str) -> str:
    return f"self.{attr}" if plain_attribute(attr) else f"getattr(self, {attr!r})"


class _Sizes:
    """Where each symbolic size can be read at runtime: the first value (in program order)
    with that size on an axis → ``var.size(axis)``. Filled as values are computed, so a
    lookup is one dict access instead of a scan of every earlier value (which made code
    generation quadratic: 8,000 reshapes took 60 s)."""

    def __init__(self):
        self.where: dict = {}

    def add(self, var: str, ref: Ref) -> None:
        if ref.type is None:
            return
        for axis, d in enumerate(ref.type.shape):
            if not isinstance(d, int):
                self.where.setdefault(d, f"{var}.size({axis})")

    def expr(self, dim, node: Node) -> str:
        """A symbolic size as runtime code, read off a tensor computed before ``node``."""
        if isinstance(dim, int):
            return str(dim)
        if dim in self.where:
            return self.where[dim]
        text = str(dim)
        for symbol in sorted(dim.symbols(), key=len, reverse=True):
            found = self.where.get(Sym.symbol(symbol))
            if found is None:
                raise CodegenError(f"{node.id}: no tensor in scope carries the size {symbol}")
            text = re.sub(rf"\b{re.escape(symbol)}\b", found, text)
        return f"({text})"


def _return_expr(state: CodegenState, scope: Scope, names: dict) -> str:
    if scope.kind != "model":
        values = [names[r] for r in returns(state, scope)]
        return values[0] if len(values) == 1 else "(" + ", ".join(values) + ",)"
    graph = state.graph
    training = _outputs_expr(graph.outputs, graph.outputs_as_dict, names)
    if len(graph.eval_outputs) == len(graph.outputs):
        return training
    # training-only outputs (aux heads) are returned in training only, as torchvision's
    # GoogLeNet/Inception3 return their logits alone in eval
    return f"{training} if self.training else " \
        f"{_outputs_expr(graph.eval_outputs, graph.outputs_as_dict, names)}"


def _outputs_expr(outputs: list, as_dict: bool, names: dict) -> str:
    if as_dict:
        return "{" + ", ".join(f"{k!r}: {names[r]}" for k, r in outputs) + "}"
    if len(outputs) == 1:
        return names[outputs[0][1]]
    return "(" + ", ".join(names[r] for _, r in outputs) + ",)"


def doc_text(text: str) -> str:
    """Text safe inside a generated docstring: the spec must not be able to end it."""
    return re.sub(r"[^A-Za-z0-9 _.,:()+-]", "_", str(text))[:200]


def pascal_case(text: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", text)
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return f"M{name}" if name[:1].isdigit() else name
