"""Stage 6c — `specc build --emit-python`: the model as the Python a person would write.

``build`` runs the source of :mod:`specc.compile.codegen`, where ``build_model()`` constructs
every layer in one flat function. The file ``--emit-python`` writes reads like torchvision's
source instead: each block class takes its parameters in ``__init__``
(``BasicBlock(in_channels, out_channels, stride)``) and builds its children there, forward
methods carry the shapes of their values as comments (``# [N, 64, 56, 56]``), and unnamed
modules without state get readable attribute names (``relu_2``, not ``getattr(self, '6')``).
The modules, their state_dict keys and their outputs are those of ``build``
(tests/test_emit_python.py compares them with torch.equal on every bundled spec).

A block class's parameters are found from its instances, not from the spec's text: the
values that differ between two instances of the class become parameters (values that are
equal in every instance are written as literals), one parameter per distinct pattern of
values, named after the argument it first feeds. So a parameter is never invented, and an
instance is rebuilt from exactly its own values.

``build_model(**vars)`` takes the spec's vars, defaulting to the values it was generated
with. A var is threaded through the code (``BasicBlock(..., num_classes=num_classes)``) when
changing it changes constructor arguments only, each to the var's new value: found by
analysing the spec again with the var changed (:func:`_threads`). A var that changes the
structure (a layer count) or enters a computed size (``hidden_size // heads``) is built
into the file: ``build_model`` refuses another value of it and says to generate again.

Nothing a spec writes reaches the code except as a repr'd literal or an identifier made
by :func:`specc.compile.codegen.python_name`. This module does not import torch.
"""
from __future__ import annotations

import keyword
from dataclasses import dataclass, field

from specc.compile.codegen import (CodegenError, CodegenState, buffer_value_code, constructor,
                                   doc_text, forward_text, pascal_case, python_name,
                                   reserved_names, runtime_class_names, support_code,
                                   weights_code)
from specc.compile.init import init_code
from specc.compile.scopes import externals, find_exports, is_chain, returns
from specc.dims import Sym
from specc.expand.names import MODULE_ATTRS, plain_attribute
from specc.ir import Graph, Node, Scope
from specc.ops.base import get_op

_IMPORTS = "import torch\nfrom torch import nn\n"
_NAMED_SEQUENTIAL = '''

def _sequential(*children):
    """An nn.Sequential of (name, module) pairs, in order."""
    sequential = nn.Sequential()
    for name, child in children:
        sequential.add_module(name, child)
    return sequential
'''
_INDENT = "    "


@dataclass(eq=False)
class _Class:
    """A generated module class: the instances whose forward and children's kinds agree."""

    key: tuple
    hint: str
    index: int  # in the order classes are found (the nested ones first)
    stack: bool = False  # an nn.ModuleList whose forward runs its items in a loop
    instances: list = field(default_factory=list)  # [_Instance]
    name: str = ""
    params: list = field(default_factory=list)  # [(name, positions)]
    group_of: dict = field(default_factory=dict)  # position -> parameter name
    constants: dict = field(default_factory=dict)  # position -> the value of every instance
    var_of: dict = field(default_factory=dict)  # parameter name -> the spec var it carries


@dataclass(eq=False)
class _Instance:
    scope: Scope
    cls: _Class
    children: list  # [_Child] in the scope's order
    values: list = field(default_factory=list)  # every literal, in the order of `labels`
    labels: list = field(default_factory=list)  # (child attribute, argument name) per value
    tags: list = field(default_factory=list)  # the spec var each value is, or None
    args: list = field(default_factory=list)  # this instance's value of each class parameter


@dataclass(eq=False)
class _Child:
    """One child of a scope: a module, a parameter, a buffer, a Sequential or a class."""

    kind: str  # "module", "parameter", "buffer", "sequential", "class"
    attr: str
    ctor: str = ""  # "module": the class to call; "buffer": the value's code
    kwargs: list = field(default_factory=list)  # "module": [(name, value)]; "parameter": sizes
    tags: list = field(default_factory=list)  # the spec var of each kwarg, or None
    children: list = field(default_factory=list)  # "sequential": [_Child]
    instance: _Instance | None = None  # "class"
    persistent: bool = True  # "buffer"

    def key(self) -> tuple:
        """What two children must share to be built by the same line (values aside)."""
        if self.kind == "module":
            return (self.kind, self.attr, self.ctor, tuple(k for k, _ in self.kwargs))
        if self.kind == "parameter":
            return (self.kind, self.attr, len(self.kwargs))
        if self.kind == "buffer":
            return (self.kind, self.attr, self.ctor, self.persistent)
        if self.kind == "sequential":
            return (self.kind, self.attr, tuple(c.key() for c in self.children))
        assert self.instance is not None
        return (self.kind, self.attr, self.instance.cls.index)


def readable_source(source, *, vars: dict | None = None, dims: dict | None = None,
                    float_dtype: str | None = None) -> str:
    """The --emit-python file of a spec (a path, YAML text or a dict) with ``vars``."""
    import specc

    analysis = specc.check(source, vars=vars, dims=dims, lint=False)
    if not analysis.ok or analysis.graph is None:
        raise CodegenError("the spec has errors; fix them before building")

    def reanalyse(changed: dict) -> Graph | None:
        again = specc.check(source, vars={**(vars or {}), **changed}, dims=dims, lint=False)
        return again.graph if again.ok else None

    return generate_readable(analysis.graph, float_dtype,
                             _plain_vars(source, vars or {}, analysis.declared_vars), reanalyse)


def _plain_vars(source, overrides: dict, declared: list) -> dict:
    """The spec's vars that hold a plain value (not an expression), as built: a var whose
    value derives from others (``${hidden_size // heads}``) follows them."""
    from specc.loader import load_yaml

    if isinstance(source, dict):
        doc = source
    else:
        try:
            if isinstance(source, (str, bytes)) and not _is_path(source):
                doc = load_yaml(source)
            else:
                with open(source, "rb") as handle:
                    doc = load_yaml(handle.read())
        except Exception:  # noqa: BLE001 — analysed already; no vars is a safe answer
            return {}
    raw = doc.get("vars") if isinstance(doc, dict) else None
    values = {}
    for name in declared:
        value = overrides.get(name, raw.get(name) if isinstance(raw, dict) else None)
        if isinstance(value, str) and "$" in value or isinstance(value, (list, dict)):
            continue
        if isinstance(value, (bool, int, float, str)) or value is None:
            values[name] = value
    return values


def _is_path(source) -> bool:
    from specc.analysis import is_spec_path

    return is_spec_path(source)


def generate_readable(graph: Graph, float_dtype: str | None = None,
                      var_values: dict | None = None, reanalyse=None) -> str:
    """The source of a module file defining the model's classes and ``build_model()``.
    ``var_values``: the spec's plain vars as built; ``reanalyse(vars)``: the graph of the
    spec with some of them changed (None when that is invalid), to find what each feeds."""
    if not graph.complete:
        raise CodegenError("the spec has errors; fix them before building")
    var_values = {name: value for name, value in (var_values or {}).items()
                  if name.isidentifier() and not keyword.iskeyword(name)
                  and name not in _LOCAL_NAMES}
    threads = _threads(graph, float_dtype, var_values, reanalyse) if reanalyse else {}
    while True:
        try:
            return _generate(graph, float_dtype, var_values, threads)
        except _Unthreadable as exc:  # a var that one instance of a class takes and
            threads = {k: v for k, v in threads.items() if v not in exc.names}  # not another


_LOCAL_NAMES = {"self", "super", "torch", "nn", "model", "build_model", "init_weights",
                "_sequential"}


class _Unthreadable(Exception):
    def __init__(self, names: set):
        super().__init__(", ".join(sorted(names)))
        self.names = names


def _classes(graph: Graph, float_dtype: str | None,
             threads: dict | None = None) -> tuple[CodegenState, dict, _Instance]:
    state = CodegenState(graph, float_dtype=float_dtype or "float32", threads=threads or {},
                   short_names=True)
    state.exports = find_exports(state)
    _name_stateless_modules(state, graph.root)
    classes: dict = {}
    root = _describe(state, graph.root, classes, pascal_case(graph.name) or "Model")
    return state, classes, root


def _threads(graph: Graph, float_dtype: str | None, var_values: dict, reanalyse) -> dict:
    """(node id, argument) -> the var whose value it is. A var qualifies when the spec with
    that var changed has the same classes and ties and differs only in arguments that take
    exactly the new value. Ints change by a prime, floats by half and a quarter, so an
    argument that merely equals the var is not taken for it."""
    _, classes, _ = _classes(graph, float_dtype)
    shape = (list(classes), init_code(graph), [(n.id, n.tie) for n in graph.nodes])
    before = _arguments(graph)
    threads: dict = {}
    for name, value in var_values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        new = value + 1009 if isinstance(value, int) else value * 1.5 + 0.25
        changed = reanalyse({name: new})
        if changed is None or not changed.complete:
            continue
        _, new_classes, _ = _classes(changed, float_dtype)
        if (list(new_classes), init_code(changed), [(n.id, n.tie) for n in changed.nodes]) \
                != shape:
            continue
        after = _arguments(changed)
        moved = [key for key, old in before.items() if after.get(key) != old]
        if all(before[key] == value and after[key] == new and type(after[key]) is type(new)
               for key in moved):
            threads.update((key, name) for key in moved)
    return threads


def _arguments(graph: Graph) -> dict:
    """(node id, argument) -> value of every constructor argument and parameter size."""
    values = {}
    for node in graph.nodes:
        op = get_op(node.op)
        if op.kind == "parameter":
            values.update(((node.id, f"size{axis}"), size)
                          for axis, size in enumerate(node.attrs["shape"]))
        elif op.kind == "module":
            values.update(((node.id, name), value) for name, value in _constructor_kwargs(node))
    return values


def _generate(graph: Graph, float_dtype: str | None, var_values: dict, threads: dict) -> str:
    state, classes, root = _classes(graph, float_dtype, threads)
    order = list(classes.values())  # nested classes come before the classes using them
    taken = reserved_names() | runtime_class_names() | _LOCAL_NAMES | set(var_values)
    taken |= set(state.plugin_classes.values())
    for cls in [root.cls] + [c for c in order if c is not root.cls]:  # the model's first
        cls.name = python_name(cls.hint, taken, "Block")
    for cls in order:
        _find_parameters(cls)
    parts = [_IMPORTS] + support_code(state)
    if any(_uses_named_sequential(inst.children) for cls in order for inst in cls.instances):
        parts.append(_NAMED_SEQUENTIAL)
    parts += [_class_code(state, cls) for cls in order]
    threaded = list(root.cls.var_of.values())
    fixed = [name for name in var_values if name not in threaded]
    build_lines = []
    for name in fixed:
        differs = "is not" if var_values[name] is None else "!="
        # the spec's value reaches the code only as repr'd literals, never inside an f-string
        why = (f": this file was generated with {name}={var_values[name]!r}, which its "
               f"structure depends on; generate it again: specc build --var {name}=...")
        build_lines += [f"if {name} {differs} {_literal(var_values[name])}:",
                        f"{_INDENT}raise ValueError(f'{name}={{{name}!r}}' + {why!r})"]
    args = ", ".join(f"{param}={var}" for param, var in root.cls.var_of.items())
    build_lines.append(f"model = {root.cls.name}({args})")
    parts += weights_code(graph, "model", build_lines)
    body = "".join(f"{_INDENT}{line}\n" for line in build_lines)
    signature = ", ".join(f"{name}={_literal(value)}" for name, value in var_values.items())
    doc = f"Construct {doc_text(graph.name)}"
    if var_values:
        doc += " with the spec's vars (defaults: the values it was generated with)"
    parts.append(f"\n\ndef build_model({signature}):\n{_INDENT}\"\"\"{doc}.\"\"\"\n"
                 f"{body}{_INDENT}return model\n")
    return "".join(parts)


def _name_stateless_modules(state: CodegenState, scope: Scope) -> None:
    """Unnamed modules outside Sequentials are attributes named by their index ('6'); a
    module with no parameters or buffers is not in the state_dict, so it can take its op's
    name instead (``relu_2``) without changing a key."""
    chain = is_chain(state, scope)
    # the names a spec may not give (specc.expand.names) are not taken here either
    siblings = {item.attr_name for item in scope.items} | set(MODULE_ATTRS)
    for item in scope.items:
        if isinstance(item, Scope):
            _name_stateless_modules(state, item)
        elif not chain and not item.named and _stateless(item):
            state.renamed[id(item)] = python_name(item.op.lower(), siblings, "m")


def _stateless(node: Node) -> bool:
    op = get_op(node.op)
    return op.kind == "module" and op.module is None \
        and node.params == 0 and op.param_tensors(node.attrs) == 0 \
        and op.buffers(node.attrs) == (0, 0)


def _describe(state: CodegenState, scope: Scope, classes: dict, hint: str) -> _Instance:
    """The instance a (non-Sequential) scope is, its class found or made by its key."""
    children = [child for item in scope.registration_order()
                if (child := _child(state, item, classes)) is not None]
    text, _ = forward_text(state, scope, comment=lambda item: "")  # shapes aside
    key = (text, tuple(c.key() for c in children))
    cls = classes.get(key)
    if cls is None:
        cls = classes[key] = _Class(key, hint, len(classes), stack=_is_stack(state, scope))
    instance = _Instance(scope, cls, children)
    cls.instances.append(instance)
    return instance


def _is_stack(state: CodegenState, scope: Scope) -> bool:
    """A `repeat` whose copies run one after the other, each on the previous one's output
    and the same other inputs (a transformer's layers): an nn.ModuleList and a loop."""
    items = scope.items
    if scope.kind == "model" or len(items) < 2 or len(returns(state, scope)) > 1 or any(
            not isinstance(item, Scope) or item.attr_name != str(index) or item.checkpoint
            or len(returns(state, item)) > 1 for index, item in enumerate(items)):
        return False
    outer = externals(state, scope)
    if not outer or outer[0] != scope.input:
        return False
    previous = scope.input
    for item in items:
        if externals(state, item) != [previous] + outer[1:]:
            return False
        previous = item.output
    return previous == scope.output


def _child(state: CodegenState, item: Node | Scope, classes: dict) -> _Child | None:
    attr = state.renamed.get(id(item), item.attr_name)
    if isinstance(item, Scope):
        if is_chain(state, item):
            return _Child("sequential", attr, children=[
                c for i in item.items if (c := _child(state, i, classes)) is not None])
        hint = item.block or pascal_case(item.attr_name) or "Block"
        return _Child("class", attr, instance=_describe(state, item, classes, hint))
    op = get_op(item.op)
    if op.kind == "function":
        return None
    if op.kind == "parameter":
        shape = list(item.attrs["shape"])
        return _Child("parameter", attr, kwargs=shape,
                      tags=[state.threads.get((item.id, f"size{axis}"))
                            for axis in range(len(shape))])
    if op.kind == "buffer":
        return _Child("buffer", attr, ctor=buffer_value_code(item, state.float_dtype),
                      persistent=item.attrs["persistent"])
    kwargs = _constructor_kwargs(item)
    return _Child("module", attr, ctor=constructor(state, item), kwargs=kwargs,
                  tags=[state.threads.get((item.id, name)) for name, _ in kwargs])


def _constructor_kwargs(node: Node) -> list:
    """(name, value) of the constructor arguments :func:`codegen.constructor_args` writes."""
    op = get_op(node.op)
    out = []
    for param in op.params:
        value = node.attrs.get(param.name)
        if param.to_torch and (param.inferred or param.name in node.given
                               or value != param.default):
            out.append((param.name, tuple(value) if isinstance(value, list) else value))
    return out


def _literals(instance: _Instance) -> None:
    """Fill ``instance.values`` and ``labels``: its children's literals, in order; a nested
    class instance contributes its arguments (its class's constants are its own)."""
    def walk(children: list) -> None:
        for child in children:
            if child.kind == "module":
                for (name, value), tag in zip(child.kwargs, child.tags):
                    instance.values.append(value)
                    instance.labels.append((child.attr, name))
                    instance.tags.append(tag)
            elif child.kind == "parameter":
                for axis, (size, tag) in enumerate(zip(child.kwargs, child.tags)):
                    instance.values.append(size)
                    instance.labels.append((child.attr, f"size{axis}"))
                    instance.tags.append(tag)
            elif child.kind == "sequential":
                walk(child.children)
            elif child.kind == "class":
                nested = child.instance
                assert nested is not None
                for (name, _), value in zip(nested.cls.params, nested.args):
                    instance.values.append(value)
                    instance.labels.append((child.attr, name))
                    instance.tags.append(nested.cls.var_of.get(name))

    walk(instance.children)


def _find_parameters(cls: _Class) -> None:
    """A parameter per spec var the instances' values are (named after it), and one per
    other distinct pattern of values across the instances; the rest are constants."""
    for instance in cls.instances:
        _literals(instance)
    first = cls.instances[0]
    patterns: dict = {}  # ("var", name) or the values of one position -> positions
    mixed: set = set()
    for position, value in enumerate(first.values):
        tags = {inst.tags[position] for inst in cls.instances}
        if len(tags) > 1:  # a var in one instance, a literal (or another var) in another
            mixed |= tags - {None}
        column = tuple(_literal(inst.values[position]) for inst in cls.instances)
        if len(tags) == 1 and None not in tags:
            patterns.setdefault(("var", tags.pop()), []).append(position)
        elif len(set(column)) == 1:
            cls.constants[position] = value
        else:
            patterns.setdefault(column, []).append(position)
    if mixed:
        raise _Unthreadable(mixed)
    taken = {"self", "super", "torch", "nn"}
    labels = [first.labels[positions[0]][1] for key, positions in patterns.items()
              if key[0] != "var"]
    for key, positions in sorted(patterns.items(), key=lambda kv: kv[1][0]):
        attr, label = first.labels[positions[0]]
        if key[0] == "var":
            base = key[1]
        else:
            base = label if labels.count(label) == 1 else f"{attr}_{label}"
        name = python_name(base, taken, "p")
        if key[0] == "var":
            cls.var_of[name] = key[1]
        cls.params.append((name, positions))
        for position in positions:
            cls.group_of[position] = name
    for instance in cls.instances:
        instance.args = [instance.values[positions[0]] for _, positions in cls.params]


def _literal(value) -> str:
    """A value as code: the repr of a plain Python value (a spec's text included)."""
    if isinstance(value, float) and value != value or value in (float("inf"), float("-inf")):
        return f"float({str(value)!r})"
    if isinstance(value, (Sym,)):
        raise CodegenError(f"a symbolic size {value} reached a constructor argument")
    return repr(value)


def _class_code(state: CodegenState, cls: _Class) -> str:
    first = cls.instances[0]
    position = [0]  # the next literal of `first.values`

    def value() -> str:
        at = position[0]
        position[0] += 1
        return cls.group_of.get(at) or _literal(cls.constants[at])

    def expression(child: _Child, indent: str) -> str:
        if child.kind == "module":
            args = ", ".join(f"{name}={value()}" for name, _ in child.kwargs)
            return f"{child.ctor}({args})"
        if child.kind == "class":
            assert child.instance is not None
            nested = child.instance.cls
            return f"{nested.name}({', '.join(f'{name}={value()}' for name, _ in nested.params)})"
        inner = indent + _INDENT
        named = _named(child.children)
        items = [(f"({c.attr!r}, {expression(c, inner)})" if named else expression(c, inner))
                 for c in child.children]
        return f"{'_sequential' if named else 'nn.Sequential'}(\n" + \
            "".join(f"{inner}{item},\n" for item in items) + f"{indent})"

    if cls.stack:
        return _stack_code(state, cls, [expression(child, _INDENT * 3) for child in first.children])
    lines = []
    body = _INDENT * 2
    for child in first.children:
        if child.kind == "parameter":
            sizes = ", ".join(value() for _ in child.kwargs)
            code = f"nn.Parameter(torch.zeros({sizes}))"  # the values come from init
            lines.append(_assign(child.attr, code, "register_parameter"))
        elif child.kind == "buffer":
            lines.append(f"self.register_buffer({child.attr!r}, {child.ctor}, "
                         f"persistent={child.persistent!r})")
        else:
            lines.append(_assign(child.attr, expression(child, body), "add_module"))
    signature = ", ".join(["self"] + [name for name, _ in cls.params])
    init = "".join(f"{body}{line}\n" for line in ["super().__init__()"] + lines)
    doc = f"{_INDENT}\"\"\"{doc_text(first.scope.block or first.scope.path or state.graph.name)}" \
        f"{_instances_note(cls)}\"\"\"\n\n"
    input_comment, comments = _comments(state, cls)
    forward, _ = forward_text(state, first.scope, comment=lambda item: comments[id(item)])
    head, _, rest = forward.partition("\n")
    forward = f"{head}{input_comment}\n{rest}"
    return f"\n\nclass {cls.name}(nn.Module):\n{doc}{_INDENT}def __init__({signature}):\n" \
        f"{init}\n{forward}"


def _stack_code(state: CodegenState, cls: _Class, items: list) -> str:
    """An nn.ModuleList of the copies (a comprehension when they are built alike) whose
    forward calls them in turn."""
    first = cls.instances[0]
    signature = ", ".join(["self"] + [name for name, _ in cls.params])
    body = _INDENT * 2
    if len(set(items)) == 1:
        made = f"[{items[0]} for _ in range({len(items)})]"
    else:
        made = "[\n" + "".join(f"{body}{_INDENT}{item},\n" for item in items) + f"{body}]"
    forward, _ = forward_text(state, first.scope)
    head = forward.partition("\n")[0]  # `def forward(self, x, ...):`, the inputs' names
    inputs = head[head.index("(") + 1: head.rindex(")")].split(", ")[1:]
    input_comment, comments = _comments(state, cls)
    loop_comments = {comments[id(item)] for item in first.scope.items}
    comment = loop_comments.pop() if len(loop_comments) == 1 else ""
    call = f"{inputs[0]} = layer({', '.join(inputs)}){comment}"
    doc = f"{_INDENT}\"\"\"{doc_text(first.scope.path)}: {len(items)} layers, each on the " \
        f"previous one's output{_instances_note(cls)}\"\"\"\n\n"
    return (f"\n\nclass {cls.name}(nn.ModuleList):\n{doc}{_INDENT}def __init__({signature}):\n"
            f"{body}super().__init__({made})\n\n{head}{input_comment}\n"
            f"{body}for layer in self:\n{body}{_INDENT}{call}\n{body}return {inputs[0]}\n")


def _instances_note(cls: _Class) -> str:
    count = len(cls.instances)
    if count == 1:
        return ""
    paths = ", ".join(doc_text(inst.scope.path) for inst in cls.instances[:4])
    return f" ({count} instances: {paths}{', ...' if count > 4 else ''})"


def _assign(attr: str, code: str, register: str) -> str:
    if plain_attribute(attr):
        return f"self.{attr} = {code}"
    return f"self.{register}({attr!r}, {code})"


def _named(children: list) -> bool:
    return [c.attr for c in children] != [str(i) for i in range(len(children))]


def _uses_named_sequential(children: list) -> bool:
    return any(c.kind == "sequential" and (_named(c.children) or
                                           _uses_named_sequential(c.children))
               for c in children)


def _comments(state: CodegenState, cls: _Class) -> tuple[str, dict]:
    """Shape comments of a class's forward: its main input's (for the signature line) and,
    per id(item) of the first instance, the item's. A size every instance shares is written
    as is (symbols kept: N, T); one that follows a class parameter takes its name; one that
    follows a size of the input takes its name (H, or H/2 when it halves); anything else
    that differs between instances is '?'."""
    by_pattern: dict = {}
    for name, positions in cls.params:
        column = tuple(inst.values[positions[0]] for inst in cls.instances)
        by_pattern.setdefault(_key(column), name)
    scopes = [inst.scope for inst in cls.instances]
    inputs = [externals(state, scope) for scope in scopes]
    named_input: list = []  # (name, column) of each size of the main input that differs
    input_comment = ""
    if all(refs and refs[0].type is not None for refs in inputs):
        shapes = [tuple(refs[0].type.shape) for refs in inputs]
        if len({len(shape) for shape in shapes}) == 1:
            rank = len(shapes[0])
            sizes = []
            for axis in range(rank):
                column = tuple(shape[axis] for shape in shapes)
                name = _written_size(column, axis, by_pattern, [])
                if name == "?":
                    name = "C" if axis == 1 else "DHW"[axis - rank] if axis - rank >= -3 \
                        else f"d{axis}"
                    named_input.append((axis, name, column))
                sizes.append(name)
            input_comment = f"  # {', '.join(sizes)}".replace("  # ", "  # [", 1) + "]"
    comments = {}
    for index, item in enumerate(scopes[0].items):
        shapes = [_output_shapes(scope.items[index]) for scope in scopes]
        if not shapes[0] or any(len(s) != len(shapes[0]) or
                                [len(t) for t in s] != [len(t) for t in shapes[0]]
                                for s in shapes):
            comments[id(item)] = ""
            continue
        written = []
        for which, shape in enumerate(shapes[0]):
            sizes = [_written_size(tuple(s[which][axis] for s in shapes), axis, by_pattern,
                                   named_input) for axis in range(len(shape))]
            written.append("[" + ", ".join(sizes) + "]")
        comments[id(item)] = f"  # {', '.join(written)}"
    return input_comment, comments


def _key(column: tuple) -> tuple:
    return tuple(_literal(v) if not isinstance(v, Sym) else str(v) for v in column)


def _written_size(column: tuple, axis: int, by_pattern: dict, named_input: list) -> str:
    """How a shape comment writes one size (of ``axis``), given its value in every
    instance; among the input's sizes, the one of the same axis is tried first."""
    if len({str(v) for v in column}) == 1:
        return str(column[0])
    if _key(column) in by_pattern:
        return by_pattern[_key(column)]
    if all(isinstance(v, int) and v > 0 for v in column):
        for _, name, sizes in sorted(named_input, key=lambda entry: entry[0] != axis):
            if sizes == column:
                return name
            ratios = {size // v if size % v == 0 else 0 for size, v in zip(sizes, column)}
            if len(ratios) == 1 and 0 not in ratios:
                return f"{name}/{ratios.pop()}"
    return "?"


def _output_shapes(item: Node | Scope) -> list:
    if isinstance(item, Scope):
        types = [item.output.type] if item.output is not None else []
    else:
        types = item.out_types or []
    return [tuple(t.shape) for t in types if t is not None]
