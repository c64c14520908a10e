"""Stage 6c — `specc build --emit-python`: the model as the Python a person would write.

``build`` runs the source of :mod:`specc.compile.codegen`, where ``build_model()`` constructs
every layer in one flat function. The file ``--emit-python`` writes reads like torchvision's
source instead: each block class takes its parameters in ``__init__``
(``BasicBlock(in_channels, planes, stride=1)``) and builds its children there, forward
methods carry the shapes of their values as comments (``# [N, 64, 56, 56]``), and unnamed
modules without state get readable attribute names (``relu_2``, not ``getattr(self, '6')``).
The modules, their state_dict keys and their outputs are those of ``build``
(tests/test_emit_python.py compares them with torch.equal on every bundled spec).

A block class takes the spec's block params (``planes``, ``stride=1``) and computes its
layers' arguments from them as the spec writes them (``out_channels=planes * 4``): every
expression is checked to give each instance's value before it is written. A size inferred
from shapes is the code of the size it flows from (``BatchNorm2d(num_features=planes)``
after a conv with ``out_channels=planes``). What no expression explains and differs
between instances becomes a parameter of its own, named after the argument it first feeds
(``in_channels``: a block's input channels, which no block param gives); what every
instance shares is a literal. "Every instance" counts the same scope in the spec's graphs
with each var changed once: a size that changes with a var is no literal but the var or
block param it follows (``nn.RMSNorm((hidden_size,))`` in a decoder layer, whose input
comes from the embedding), and a size that equals a var by chance is not that var. Names an inner class reads from around it (a var, an outer
block's param) are keyword parameters passed down to it.

``build_model(**vars)`` takes the spec's vars, defaulting to the values it was generated
with. It takes a var when the file generated with another value of it has the same code
(:func:`_code_shape`): then the code computes everything that var changes (the classifier
size, a hidden size, a stack's ``range(num_hidden_layers)``), and build_model builds what
``specc build --var`` would. A var the code does not compute (a count of layers spliced
into a forward, a size written into forward code) is built into the file: build_model
refuses another value of it, naming it, and says to generate again.

Nothing a spec writes reaches the code except as a repr'd literal, an identifier made by
:func:`specc.compile.codegen.python_name`, or one of its expressions re-written from the
parsed tree (:class:`_Names`: arithmetic, comparisons, conditionals and min/max/abs/
round/int over names checked to be the spec's vars and params, none of the file's own).
This module does not import torch.
"""
from __future__ import annotations

import ast
import keyword
import re
from contextlib import contextmanager
from dataclasses import dataclass, field

from specc.compile.codegen import (CodegenError, CodegenState, buffer_value_code, constructor,
                                   doc_text, forward_text, pascal_case, python_name,
                                   reserved_names, runtime_class_names, support_code,
                                   weights_code)
from specc.compile.scopes import externals, find_exports, is_chain, op_of, returns
from specc.dims import Sym
from specc.expr import expression_text, substitute
from specc.expand.names import MODULE_ATTRS, plain_attribute
from specc.ir import Graph, Node, Ref, Scope

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
    # the __init__ parameters: values that differ between instances and no expression of
    # the spec explains, one per pattern of values: [(name, positions)]
    params: list = field(default_factory=list)
    group_of: dict = field(default_factory=dict)  # position -> parameter name
    constants: dict = field(default_factory=dict)  # position -> the value of every instance
    code_of: dict = field(default_factory=dict)  # position -> its spec expression as code
    own: list = field(default_factory=list)  # the block's params the code reads, in order
    defaults: dict = field(default_factory=dict)  # own param -> its default, where it has one
    free: list = field(default_factory=list)  # vars / outer block params it reads, keywords
    count: str = ""  # a stack's length as code, when the spec writes it as an expression
    # id(a Sequential child of instances[0]) -> (its `repeat:` count as code, how its
    # copies are named: see _copy_names): they are built alike, in a comprehension
    repeats: dict = field(default_factory=dict)
    # attr -> (the code of its `if:`, the names it reads), for children some instances
    # lack (a block's shortcut that `if: $downsample` switches on): built under `if`
    conditional: dict = field(default_factory=dict)
    template: "_Instance | None" = None  # an instance with every child (instances[0])
    root: bool = False  # the model's class: build_model passes it vars only
    # index of a function node in its forward -> {attr: its value with its code as repr}
    forward_values: dict = field(default_factory=dict)
    stored: list = field(default_factory=list)  # names __init__ keeps as self.<name>

    def signature(self) -> list:
        """The __init__ parameters: (name, kind) with kind "pattern", "own" or "free"."""
        return [(name, "pattern") for name, _ in self.params] + \
            [(name, "own") for name in self.own] + [(name, "free") for name in self.free]

    def defaulted(self) -> set:
        """The own parameters __init__ gives a default: those with one where every later
        own parameter has one too (Python's rule)."""
        defaulted = set()
        for name in reversed(self.own):
            if name not in self.defaults:
                break
            defaulted.add(name)
        return defaulted

    def signature_code(self) -> list:
        """The parameters of __init__ as written."""
        parts = ["self"] + [name for name, _ in self.params]
        defaulted = self.defaulted()
        parts += [f"{name}={_literal(self.defaults[name])}" if name in defaulted else name
                  for name in self.own]
        if self.free:
            parts += ["*"] + self.free
        return parts


@dataclass(eq=False)
class _Instance:
    scope: Scope
    cls: _Class
    children: list  # [_Child] in the scope's order
    env: dict = field(default_factory=dict)  # the names the spec's expressions see here
    block_params: dict = field(default_factory=dict)  # those of the block it is part of
    values: list = field(default_factory=list)  # every literal, in the order of `labels`
    labels: list = field(default_factory=list)  # (child attribute, argument name) per value
    paths: list = field(default_factory=list)  # (attributes..., argument name) per value
    shape_text: str = ""  # its forward, the values of the spec's expressions in it aside
    raws: list = field(default_factory=list)  # the spec's expression of each value, or None
    inferred: list = field(default_factory=list)  # the value is inferred from shapes
    defaults: list = field(default_factory=list)  # a nested class's default, or _NO_DEFAULT
    owners: list = field(default_factory=list)  # the node or nested scope a value is for
    flows: list = field(default_factory=list)  # a size inferred: the values it is read from
    absent: set = field(default_factory=set)  # attrs of the class's conditional children it lacks
    spans: dict = field(default_factory=dict)  # id(child) -> (first, end) of its values
    args: dict = field(default_factory=dict)  # pattern parameter -> this instance's value
    # the same scope in the spec's graphs with other values of its vars, built alike
    variants: list = field(default_factory=list)  # [_Instance]


_NO_DEFAULT = object()
_UNKNOWN = object()  # the argument of a variant whose values could not be told


class _AbsentType:
    """The value of an argument of a conditional child an instance lacks."""

    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _AbsentType()


@dataclass(eq=False)
class _Child:
    """One child of a scope: a module, a parameter, a buffer, a Sequential or a class."""

    kind: str  # "module", "parameter", "buffer", "sequential", "class"
    attr: str
    ctor: str = ""  # "module": the class to call; "buffer": the value's code
    kwargs: list = field(default_factory=list)  # "module": [(name, value)]; "parameter": sizes
    node: Node | None = None  # "module", "parameter": the node (its expressions)
    children: list = field(default_factory=list)  # "sequential": [_Child]
    scope: Scope | None = None  # "sequential": its scope (a repeat's count is on it)
    instance: _Instance | None = None  # "class"
    persistent: bool = True  # "buffer"
    fill: float | None = None  # "parameter": the value of a constant init (layer scale)

    def key(self) -> tuple:
        """What two children must share to be built by the same line (values aside)."""
        if self.kind == "module":
            return (self.kind, self.attr, self.ctor, tuple(k for k, _ in self.kwargs))
        if self.kind == "parameter":
            return (self.kind, self.attr, len(self.kwargs), self.fill is None)
        if self.kind == "buffer":
            return (self.kind, self.attr, self.ctor, self.persistent)
        if self.kind == "sequential":
            return (self.kind, self.attr, tuple(c.key() for c in self.children))
        assert self.instance is not None
        return (self.kind, self.attr, self.instance.cls.index)


@dataclass
class _Spec:
    """What the generated code may say about the spec's names: the vars build_model takes
    (plain values, as built), the derived vars' expressions (``head_dim: ${d // h}``), and
    each block's parameter defaults that are plain values."""

    plain: dict = field(default_factory=dict)
    derived: dict = field(default_factory=dict)  # var -> its expression text
    block_defaults: dict = field(default_factory=dict)  # block -> {param: default}


def readable_source(source, *, vars: dict | None = None, dims: dict | None = None,
                    float_dtype: str | None = None) -> str:
    """The --emit-python file of a spec (a path, YAML text or a dict) with ``vars``."""
    import specc
    from specc.compile import emit_guards

    analysis = specc.check(source, vars=vars, dims=dims, lint=False)
    if not analysis.ok or analysis.graph is None:
        raise CodegenError("the spec has errors; fix them before building")
    # a var named as a name of Python's or the file's (class, nn, int) has another name
    # in the code; build_model takes it by keyword, and refuses what check refuses
    renames = emit_guards.python_names(analysis.declared_vars, _LOCAL_NAMES | reserved_names()
                                       | runtime_class_names())
    by_code_name = {new: name for name, new in renames.items()}

    def reanalyse(changed: dict) -> Graph | None:
        changed = {by_code_name.get(name, name): value for name, value in changed.items()}
        again = specc.check(source, vars={**(vars or {}), **changed}, dims=dims, lint=False)
        return emit_guards.rename_graph_vars(again.graph, renames) if again.ok else None

    spec = _spec_names(source, vars or {}, analysis.declared_vars)
    coded = _Spec({renames.get(k, k): v for k, v in spec.plain.items()},
                  {renames.get(k, k): emit_guards.renamed_expression(v, renames)
                   for k, v in spec.derived.items()}, spec.block_defaults)
    graph = emit_guards.rename_graph_vars(analysis.graph, renames)
    return emit_guards.guarded(generate_readable(graph, float_dtype, coded, reanalyse), graph,
                               spec.plain, coded.derived, source, renames)


def _spec_names(source, overrides: dict, declared: list) -> _Spec:
    """The spec's vars (those holding a plain value, as built; a var whose value derives
    from others follows them) and its blocks' plain defaults."""
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
        except Exception:  # noqa: BLE001 — analysed already; no names is a safe answer
            return _Spec()
    spec = _Spec()
    raw = doc.get("vars") if isinstance(doc, dict) else None
    for name in declared:
        value = overrides.get(name, raw.get(name) if isinstance(raw, dict) else None)
        if isinstance(value, str) and "$" in value:
            spec.derived[name] = value
        elif isinstance(value, (bool, int, float, str)) or value is None:
            spec.plain[name] = value
    blocks = doc.get("blocks") if isinstance(doc, dict) else None
    for block, definition in (blocks.items() if isinstance(blocks, dict) else ()):
        params = definition.get("params") if isinstance(definition, dict) else None
        spec.block_defaults[block] = {
            name: value for name, value in (params.items() if isinstance(params, dict) else ())
            if isinstance(value, (bool, int, float, str)) and not
            (isinstance(value, str) and "$" in value)}
    return spec


def _is_path(source) -> bool:
    from specc.analysis import is_spec_path

    return is_spec_path(source)


def generate_readable(graph: Graph, float_dtype: str | None = None,
                      spec: _Spec | None = None, reanalyse=None) -> str:
    """The source of a module file defining the model's classes and ``build_model()``.

    ``spec``: the spec's names (:func:`_spec_names`); ``reanalyse(vars)``: the graph of the
    spec with some vars changed (None when that is invalid). Each var is changed once
    (:func:`_other_points`), and the values of every literal in those graphs tell which
    var or block param a size inferred from shapes follows (:func:`_find_parameters`).
    build_model takes a var when the file generated with the other value of it is this
    file (its code, docstrings, comments and defaults aside): then the code computes
    everything the var changes, and build_model(var=v) builds what `specc build --var`
    would. Any other var is built into the file, and build_model says so when given
    another value."""
    if not graph.complete:
        raise CodegenError("the spec has errors; fix them before building")
    spec = spec or _Spec()
    usable = {name: value for name, value in spec.plain.items() if _usable_name(name)}
    spec = _Spec(usable, {k: v for k, v in spec.derived.items() if _usable_name(k)},
                 spec.block_defaults)
    points = _other_points(spec, reanalyse) if reanalyse is not None else {}
    text = _generate(graph, float_dtype, spec, set(), [g for _, g in points.values()])
    fixed = set(spec.plain) - set(points)
    code = _code_shape(text)
    for name, (value, changed) in points.items():
        # the same code generated from the other value (the graphs around it the same:
        # this one's in place of that one's)
        cloud = [graph] + [g for other, (_, g) in points.items() if other != name]
        other = _Spec({**spec.plain, name: value}, spec.derived, spec.block_defaults)
        try:
            if _code_shape(_generate(changed, float_dtype, other, set(), cloud)) != code:
                fixed.add(name)
        except CodegenError:
            fixed.add(name)
    return _generate(graph, float_dtype, spec, fixed, [g for _, g in points.values()]) \
        if fixed else text


def _other_points(spec: _Spec, reanalyse) -> dict:
    """var -> (another valid value of it, the graph with it) for each var that has one:
    a size doubled first (heads still divide it), else one more or two, else halved (a
    group width must still divide every width); a flag flipped; a fraction halved where
    more is invalid; an optional size left out given. A text has no other value to try."""
    points = {}
    for name, value in spec.plain.items():
        if value is None:  # an optional size (GPT-2's n_inner, null: 4 × n_embd): given
            tries: list = [32, 8]
        elif isinstance(value, bool):
            tries = [not value]
        elif isinstance(value, int):
            tries = [value * 2, value + 1, value + 2, value // 2] if value else [1, 2]
        elif isinstance(value, float):
            tries = [value * 1.5 + 0.25, value / 2]
        else:
            continue
        for new in tries:
            if new == value:
                continue
            changed = reanalyse({name: new})
            if changed is not None and changed.complete:
                points[name] = (new, changed)
                break
    return points


def _code_shape(text: str) -> str:
    """The generated code without what may differ between values of a var and still build
    the same way: docstrings, comments and build_model's defaults."""
    tree = ast.parse(text)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and \
                isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            body.pop(0)
        if isinstance(node, ast.FunctionDef) and node.name == "build_model":
            node.args.defaults = []
    return ast.dump(tree)


_LOCAL_NAMES = {"self", "super", "torch", "nn", "model", "build_model", "init_weights",
                "_sequential", "layer", "min", "max", "abs", "round", "int", "float", "range",
                "isinstance", "math", "None", "True", "False"}


def _usable_name(name: str) -> bool:
    """A spec's name the generated code can use as a Python name as it is."""
    return name.isidentifier() and not keyword.iskeyword(name) and name not in _LOCAL_NAMES \
        and not name.startswith("_")


def _classes(graph: Graph, float_dtype: str | None) -> tuple[CodegenState, dict, _Instance]:
    state = CodegenState(graph, float_dtype=float_dtype or "float32", short_names=True)
    state.exports = find_exports(state)
    _name_stateless_modules(state, graph.root)
    classes: dict = {}
    root = _describe(state, graph.root, classes, pascal_case(graph.name) or "Model")
    return state, classes, root


def _generate(graph: Graph, float_dtype: str | None, spec: _Spec, fixed: set,
              cloud: list | None = None) -> str:
    """The file of ``graph``; ``cloud``: the spec's graphs with other values of its vars,
    whose literals tell what each of this one's follows."""
    state, classes, root = _classes(graph, float_dtype)
    module_names = reserved_names() | runtime_class_names() | set(state.plugin_classes.values())
    _align(classes, [_classes(other, float_dtype)[1] for other in cloud or []])
    # nested classes come before the classes using them
    order = _merge_conditional(state, list(classes.values()), _Names(spec, module_names))
    root.cls.root = True
    taken = module_names | _LOCAL_NAMES | set(spec.plain)
    for cls in order:
        for instance in cls.instances:
            taken |= {name for name in instance.env if _usable_name(name)}
    for cls in [root.cls] + [c for c in order if c is not root.cls]:  # the model's first
        cls.name = python_name(cls.hint, taken, "Block")
    names = _Names(spec, module_names | {cls.name for cls in order})
    for cls in order:
        _find_parameters(cls, names)
    parts = [_IMPORTS] + support_code(state)
    if any(_uses_named_sequential(inst.children) for cls in order for inst in cls.instances):
        parts.append(_NAMED_SEQUENTIAL)
    parts += [_class_code(state, cls) for cls in order]
    build_lines = []
    for name in spec.plain:
        if name not in fixed:
            continue
        value = spec.plain[name]
        differs = "is not" if value is None else "!="
        # the spec's value reaches the code only as repr'd literals, never inside an f-string
        why = (f": this file was generated with {name}={value!r}, which its structure "
               f"depends on in a way the code does not compute; generate it again: "
               f"specc build --var {name}=...")
        build_lines += [f"if {name} {differs} {_literal(value)}:",
                        f"{_INDENT}raise ValueError(f'{name}={{{name}!r}}' + {why!r})"]
    build_lines.append("model = " + _call(root.cls.name, [f"{name}={name}" for name in root.cls.free],
                                          _INDENT, len(_INDENT) + 8))
    filled = frozenset(id(node) for node in graph.nodes if _fill(node) is not None)
    parts += weights_code(graph, "model", build_lines, ties=False, skip_init=filled)
    build_lines += _tie_lines(graph, names, root)
    body = "".join(f"{_INDENT}{line}\n" for line in build_lines)
    signature = _signature("def build_model", [f"{name}={_literal(value)}"
                                               for name, value in spec.plain.items()], "")
    doc = f"Construct {doc_text(graph.name)}"
    if spec.plain:
        doc += " with the spec's vars (defaults: the values it was generated with)"
    parts.append(f"\n\n{signature}\n{_INDENT}\"\"\"{doc}.\"\"\"\n"
                 f"{body}{_INDENT}return model\n")
    text = "".join(parts)
    if not re.search(r"\btorch\.", text):  # the classes call nn only: no unused import
        text = text.replace(_IMPORTS, "from torch import nn\n", 1)
    if re.search(r"\bmath\.\w+\(", text):  # a spec's log(...) in the code
        text = "import math\n" + text
    return text


def _tie_lines(graph: Graph, names: _Names, root: _Instance) -> list[str]:
    """build_model's lines that tie weights (after init, as HF ties them): under the
    spec's condition where its `tie:` is an expression of the vars (``'model.embed_tokens'
    if tie_word_embeddings else None``: ``if tie_word_embeddings:``), else as built."""
    lines = []
    for node in graph.nodes:
        raw = node.exprs.get("tie")
        found = names.code(raw, root) if raw is not None else None
        tied = f"{_module_code(node.id)}.weight"
        if found is None:
            if node.tie is not None:
                lines.append(f"{tied} = {_module_code(node.tie)}.weight")
            continue
        tree = ast.parse(found[0], mode="eval").body
        values = [b.value for b in (tree.body, tree.orelse) if isinstance(b, ast.Constant)] \
            if isinstance(tree, ast.IfExp) else []
        if isinstance(tree, ast.IfExp) and len(values) == 2 and \
                {type(v) for v in values} == {str, type(None)}:
            target, test = values[0], ast.unparse(tree.test)
            if target is None:
                target, test = values[1], f"not ({test})"
            lines += [f"if {test}:", f"{_INDENT}{tied} = {_module_code(str(target))}.weight"]
        else:
            lines += [f"tie_target = {found[0]}", "if tie_target is not None:",
                      f"{_INDENT}{tied} = model.get_submodule(tie_target).weight"]
    return lines


def _module_code(path: str) -> str:
    """The code of the model's submodule at a path: attributes where they can be."""
    parts = path.split(".")
    if all(plain_attribute(part) for part in parts):
        return "model." + path
    return f"model.get_submodule({path!r})"


def _align(classes: dict, others: list) -> None:
    """Give each instance its variants: the instances of the same scope, built alike, in
    the graphs of ``others`` (each a classes dict of :func:`_describe`), which stand in for
    it with their values (:func:`_find_parameters` gives them its class)."""
    mine = [inst for cls in classes.values() for inst in cls.instances]
    structure: dict = {}
    for other in others:
        theirs = {inst.scope.path: inst for cls in other.values() for inst in cls.instances}
        for instance in mine:
            variant = theirs.get(instance.scope.path)
            if variant is not None and \
                    _structure(variant, structure) == _structure(instance, structure):
                instance.variants.append(variant)


def _structure(instance: _Instance, cache: dict) -> tuple:
    """What an instance's code is made of, values aside, nested classes' included."""
    key = id(instance)
    if key not in cache:
        def child(c: _Child) -> tuple:
            if c.kind == "class":
                assert c.instance is not None
                return (c.kind, c.attr, _structure(c.instance, cache))
            if c.kind == "sequential":
                inner = tuple(child(item) for item in c.children)
                if c.scope is not None and "repeat" in c.scope.exprs:  # its count aside
                    inner = tuple(dict.fromkeys(item[:1] + item[2:] for item in inner))
                return (c.kind, c.attr, inner)
            return c.key()

        children = tuple(child(c) for c in instance.children)
        head = (instance.cls.key[0], instance.shape_text)
        if instance.cls.stack:  # its length aside (a var's, which build_model passes):
            # its forward is a loop, its items alike but for their attribute
            children = tuple(dict.fromkeys(c[:1] + c[2:] for c in children))
            head = (head[0], "stack")
        cache[key] = (head, children)
    return cache[key]


def _merge_conditional(state: CodegenState, order: list, names: _Names) -> list:
    """One class for the instances of a block that differ only in children an `if:` of
    the block's params switches off (torchvision's BasicBlock with and without its
    downsample): the class builds such a child under that `if`, and its forward runs it
    when it is there and passes its input on when not (as the spec's disabled item does).
    Returns the classes in order, a merged one where the first of its parts was."""
    merged: dict = {}  # id(class merged away) -> the class it went into
    for full in order:
        if id(full) in merged or full.key[0] is None:
            continue
        for other in order:
            if other is full or id(other) in merged or other.key[0] != full.key[0]:
                continue
            conditional = _lacking(state, full, other, names)
            if conditional is None:
                continue
            absent = set(conditional)
            for instance in other.instances:
                instance.cls, instance.absent = full, absent
            full.instances += other.instances
            full.conditional.update(conditional)
            merged[id(other)] = full
    out: list = []
    for cls in order:
        into = merged.get(id(cls), cls)
        while id(into) in merged:
            into = merged[id(into)]
        if into not in out:
            out.append(into)
    for cls in out:
        cls.template = cls.instances[0]
    return out


# `out = self.name(a, b)`, or getattr(self, 'conv 1') for a name that is no identifier
_CALL_LINE = re.compile(r"(\w+) = (self\.\w+|getattr\(self, (?:'(?:[^'\\]|\\.)*'|"
                        r"\"(?:[^\"\\]|\\.)*\")\))\((\w+)((?:, \w+)*)\)")


def _lacking(state: CodegenState, full: _Class, other: _Class, names: _Names) -> dict | None:
    """attr -> (code of its `if:`, names it reads) of each child of ``full``'s instances
    that ``other``'s lack, when that is all that differs between them: the other children
    are alike in order, each reads what it reads in ``full`` (a lacking child's input where
    it read the child), each lacking child is one call whose `if:` is true in every
    instance of ``full`` and false in every one of ``other``. Else None."""
    from specc.expr import ExprError, evaluate

    template, instance = full.instances[0], other.instances[0]
    if full.conditional or other.conditional or full.stack or other.stack:
        return None
    present = {item.attr_name for item in instance.scope.items if item.named}
    lacking = [item for item in template.scope.items
               if item.named and "if" in item.exprs and item.attr_name not in present]
    if not lacking:
        return None
    gone = {item.attr_name for item in lacking}
    if [c.key() for c in template.children if c.attr not in gone] != \
            [c.key() for c in instance.children]:
        return None
    kept = [item for item in template.scope.items if item not in lacking]
    if len(kept) != len(instance.scope.items):
        return None
    # the values of `full`'s forward as the lacking instance has them
    same: dict = dict(zip(externals(state, template.scope), externals(state, instance.scope)))
    if len(same) != len(externals(state, instance.scope)):
        return None
    theirs_in_order = iter(instance.scope.items)
    for mine in template.scope.items:
        if mine in lacking:
            reads = externals(state, mine) if isinstance(mine, Scope) else mine.inputs
            made = returns(state, mine) if isinstance(mine, Scope) else [mine.ref]
            if len(made) != 1 or not reads or reads[0] not in same:
                return None
            same[made[0]] = same[reads[0]]
            continue
        theirs = next(theirs_in_order)
        if type(mine) is not type(theirs):
            return None
        if isinstance(mine, Node):
            assert isinstance(theirs, Node)
            if mine.op != theirs.op or op_of(mine).kind == "function" and mine.attrs != \
                    theirs.attrs or [same.get(r) for r in mine.inputs] != theirs.inputs:
                return None
            same.update((Ref(mine, i), Ref(theirs, i)) for i in range(len(mine.output_names)))
        else:
            assert isinstance(theirs, Scope)
            if [same.get(r) for r in externals(state, mine)] != externals(state, theirs):
                return None
            mine_out, theirs_out = returns(state, mine), returns(state, theirs)
            if len(mine_out) != len(theirs_out):
                return None
            same.update(zip(mine_out, theirs_out))
    if [same.get(r) for r in returns(state, template.scope)] != returns(state, instance.scope):
        return None
    # each lacking child's forward line is one call: it becomes `out = input` and the call
    text, owners = forward_text(state, template.scope, comment=lambda item: "")
    lines = text.split("\n")[1:]
    conditional = {}
    for item in lacking:
        own = [line.strip() for line, owner in zip(lines, owners) if owner == item.attr_name]
        if len(own) != 1 or not _CALL_LINE.fullmatch(own[0]):
            return None
        raw = item.exprs["if"]
        found = names.code(raw, template)
        if found is None:
            return None
        try:
            if not (all(evaluate(raw, inst.env) is True for inst in full.instances) and
                    all(evaluate(raw, inst.env) is False for inst in other.instances)):
                return None
        except ExprError:
            return None
        conditional[item.attr_name] = found
    return conditional


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
    op = op_of(node)
    return op.kind == "module" and op.module is None \
        and node.params == 0 and op.param_tensors(node.attrs) == 0 \
        and op.buffers(node.attrs) == (0, 0)


def _describe(state: CodegenState, scope: Scope, classes: dict, hint: str) -> _Instance:
    """The instance a (non-Sequential) scope is, its class found or made by its key."""
    children = [child for item in scope.registration_order()
                if (child := _child(state, item, classes)) is not None]
    text, _ = forward_text(state, scope, comment=lambda item: "")  # shapes aside
    key = (scope.block, text, tuple(c.key() for c in children))
    cls = classes.get(key)
    if cls is None:
        cls = classes[key] = _Class(key, hint, len(classes), stack=_is_stack(state, scope))
    block = scope  # the block whose layers these are: its params are in their expressions
    while block.parent is not None and block.kind != "block":
        block = block.parent
    instance = _Instance(scope, cls, children, env={**state.graph.vars, **block.params},
                         block_params=block.params)
    # the forward as written whatever the values of the spec's expressions in it
    with _forward_values(scope, {index: {key: _Coded.of(node.attrs.get(key), _masked(raw))
                                          for key, raw in node.exprs.items()
                                          if key in node.attrs}
                                 for index, node in _function_nodes(scope)}):
        instance.shape_text = forward_text(state, scope, comment=lambda item: "")[0] \
            if any(node.exprs for _, node in _function_nodes(scope)) else text
    cls.instances.append(instance)
    return instance


class _CodedInt(int):
    """A function op's value that its forward code writes as an expression (``repr``)."""

    code = ""

    def __repr__(self) -> str:
        return self.code

    __str__ = __repr__


class _CodedFloat(float):
    code = ""

    def __repr__(self) -> str:
        return self.code

    __str__ = __repr__


class _Coded:
    @staticmethod
    def of(value, code: "str | list | None"):
        """``value`` (a number, or a list holding some) with ``code`` as its repr: each
        item's where ``code`` is a list of them (None: the item as it is)."""
        if isinstance(value, list) and isinstance(code, list) and len(code) == len(value):
            return [_Coded.of(v, c) for v, c in zip(value, code)]
        if not isinstance(code, str) or isinstance(value, bool) or \
                not isinstance(value, (int, float)):
            return value
        coded = (_CodedInt if isinstance(value, int) else _CodedFloat)(value)
        coded.code = code
        return coded


def _masked(raw):
    """What stands for the value of an expression in a forward compared across values:
    its text (each item's, of a list holding some)."""
    if isinstance(raw, list):
        return [repr(item) if isinstance(item, str) and "$" in item else None for item in raw]
    return repr(raw)


def _function_nodes(scope: Scope) -> list:
    """(index, node) of the function ops among a scope's items: those its forward
    computes with values the spec may write as expressions."""
    return [(index, item) for index, item in enumerate(scope.items)
            if isinstance(item, Node) and op_of(item).kind == "function"]


@contextmanager
def _forward_values(scope: Scope, values: dict):
    """The scope's function nodes (by index) with some attrs replaced while it runs."""
    saved = {}
    for index, attrs in values.items():
        node = scope.items[index]
        saved[index] = node.attrs
        node.attrs = {**node.attrs, **attrs}
    try:
        yield
    finally:
        for index, attrs in saved.items():
            scope.items[index].attrs = attrs


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
    previous: Ref | None = scope.input
    for item in items:
        assert isinstance(item, Scope)  # checked above
        if externals(state, item) != [previous] + outer[1:]:
            return False
        previous = item.output
    return previous == scope.output


def _child(state: CodegenState, item: Node | Scope, classes: dict) -> _Child | None:
    attr = state.renamed.get(id(item), item.attr_name)
    if isinstance(item, Scope):
        if is_chain(state, item):
            return _Child("sequential", attr, scope=item, children=[
                c for i in item.items if (c := _child(state, i, classes)) is not None])
        hint = item.block or pascal_case(item.attr_name) or "Block"
        return _Child("class", attr, instance=_describe(state, item, classes, hint))
    op = op_of(item)
    if op.kind == "function":
        return None
    if op.kind == "parameter":
        shape = list(item.attrs["shape"])
        return _Child("parameter", attr, kwargs=shape, node=item, fill=_fill(item))
    if op.kind == "buffer":
        return _Child("buffer", attr, ctor=buffer_value_code(item, state.float_dtype),
                      persistent=item.attrs["persistent"])
    kwargs = _constructor_kwargs(item)
    return _Child("module", attr, ctor=constructor(state, item), kwargs=kwargs, node=item)


def _fill(node: Node) -> float | None:
    """The value a parameter's `init:` sets every item to (`method: constant`), which
    its class builds it with (``torch.full``), as torchvision builds a layer scale."""
    from specc.initializers import parse

    if op_of(node).kind != "parameter" or not node.init:
        return None
    entries = parse(node.init)
    method, options = next(iter(entries.values())) if len(entries) == 1 else (None, {})
    value = options.get("value")
    if method != "constant" or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


def _constructor_kwargs(node: Node) -> list:
    """(name, value) of the constructor arguments :func:`codegen.constructor_args` writes."""
    op = op_of(node)
    out = []
    for param in op.params:
        value = node.attrs.get(param.name)
        if param.to_torch and (param.inferred or param.name in node.given
                               or value != param.default):
            out.append((param.name, tuple(value) if isinstance(value, list) else value))
    return out


def _literals(instance: _Instance) -> None:
    """Fill ``instance.values`` and its lists beside it: its children's literals, in order,
    each with the spec's expression of it; a nested class instance contributes its
    arguments (its class's constants are its own)."""
    def add(label: tuple, value, raw, inferred: bool = False, default=_NO_DEFAULT,
            owner: Node | Scope | None = None, flows: list | None = None) -> None:
        instance.owners.append(owner)
        instance.paths.append((*prefix, *label))
        instance.flows.append(flows or [])
        instance.values.append(value)
        instance.labels.append(label)
        instance.raws.append(raw)
        instance.inferred.append(inferred)
        instance.defaults.append(default)

    prefix: list = []  # the attributes of the Sequentials a value is in
    chains: list = []  # the blocks among them, outermost first

    def outer(raw):
        """An expression of a layer in the blocks of ``chains`` as one of this class's
        names (each block's params replaced by what its caller gives them)."""
        for block in reversed(chains):
            raw = _through(raw, block)
        return raw

    def walk(children: list, absent: bool = False) -> None:
        """``absent``: the template's child this instance lacks, one placeholder a value."""
        for child in children:
            start = len(instance.values)
            one(child, absent)
            instance.spans[id(child)] = (start, len(instance.values))

    def one(child: _Child, absent: bool) -> None:
        if child.kind == "module":
            assert child.node is not None
            op = op_of(child.node)
            for name, value in child.kwargs:
                param = op.param(name)
                add((child.attr, name), _ABSENT if absent else value,
                    outer(child.node.exprs.get(name)), param is not None and param.inferred,
                    owner=child.node, flows=child.node.inputs)
        elif child.kind == "parameter":
            assert child.node is not None
            raw = child.node.exprs.get("shape")
            for axis, size in enumerate(child.kwargs):
                add((child.attr, f"size{axis}"), _ABSENT if absent else size,
                    raw[axis] if isinstance(raw, list) and axis < len(raw) else None)
            if child.fill is not None:  # (the init's expression is not kept: a var's
                # value it equals in every variant names it)
                add((child.attr, "fill"), _ABSENT if absent else child.fill, None)
        elif child.kind == "sequential":
            prefix.append(child.attr)
            inner = child.scope is not None and child.scope.kind == "block"
            if inner:  # a block of its own: its layers' expressions read its params
                chains.append(child.scope)
            walk(child.children, absent)
            if inner:
                chains.pop()
            prefix.pop()
        elif child.kind == "class":
            nested = child.instance
            assert nested is not None
            scope = nested.scope
            for name, kind in nested.cls.signature():
                if absent:
                    add((child.attr, name), _ABSENT, None, owner=scope)
                elif kind == "pattern":  # a size the class could not compute: its input's
                    add((child.attr, name), nested.args.get(name, _UNKNOWN), None, True,
                        owner=scope, flows=[scope.input])
                elif kind == "own":
                    add((child.attr, name), scope.params[name], scope.exprs.get(name),
                        default=nested.cls.defaults[name] if name in nested.cls.defaulted()
                        else _NO_DEFAULT, owner=scope)
                else:  # a name the nested code reads from around it: passed on
                    add((child.attr, name), nested.env[name], f"${name}", owner=scope)

    if not instance.absent:
        walk(instance.children)
        return
    template = instance.cls.template
    assert template is not None
    own = iter(instance.children)
    for child in template.children:
        if child.attr in instance.absent:
            walk([child], absent=True)
        else:
            walk([next(own)])


def _through(raw, block: Scope):
    """An expression in a block's params (``$groups``) as one in the names its caller
    gives them in (``${w_out // group_width}``), or ``raw`` where it is no expression."""
    return substitute(raw, {name: block.exprs.get(name, value)
                            for name, value in block.params.items()})


class _Names:
    """The spec's expressions as Python code, in the names the generated classes use."""

    def __init__(self, spec: _Spec, class_names: set):
        self.spec = spec
        self.unusable = class_names
        self.known: dict = {}  # (the expression, the names of a block's params) -> code

    def code(self, raw, instance: _Instance) -> tuple[str, set] | None:
        """(code, names it reads) of an expression as the spec writes it, when the code
        computes the instance's value from names a class can take (not `i`, which the
        copies of a repeat each bind), else None."""
        key = (repr(raw), tuple(instance.block_params))
        if key not in self.known:
            self.known[key] = self._code(raw, instance)
        return self.known[key]

    def _code(self, raw, instance: _Instance) -> tuple[str, set] | None:
        tree = self._tree(raw, depth=0)
        if tree is None:
            return None
        called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
        names = {node.id for node in ast.walk(tree)
                 if isinstance(node, ast.Name) and id(node) not in called}  # int(...) aside
        known = set(instance.block_params) | set(self.spec.plain)
        if not all(_usable_name(name) and name not in self.unusable and name in known
                   for name in names):
            return None
        return ast.unparse(_Math().visit(_Redundant().visit(tree))), names

    def _tree(self, raw, depth: int) -> ast.expr | None:
        if isinstance(raw, list):
            items = [tree for item in raw if (tree := self._tree(item, depth)) is not None]
            if len(items) != len(raw):
                return None
            return ast.Tuple(elts=items, ctx=ast.Load())
        if not isinstance(raw, str) or "$" not in raw:
            return ast.Constant(raw) if isinstance(raw, (bool, int, float)) else None
        text = expression_text(raw)
        if text is None:
            return None  # text with values interpolated: no constructor takes it
        try:
            tree = ast.parse(text, mode="eval").body
        except SyntaxError:
            return None
        for node in ast.walk(tree):
            if not isinstance(node, _ALLOWED) or isinstance(node, ast.Call) and not (
                    isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
                    and not node.keywords):
                return None
        if depth < 8:  # a derived var: its own expression, in parentheses as ast knows
            derived = self.spec.derived

            class Inline(ast.NodeTransformer):
                def visit_Name(inner, node):  # noqa: N805
                    if node.id in derived:
                        return _Names._tree(self, derived[node.id], depth + 1) or node
                    return node

            tree = Inline().visit(tree)
        return tree


class _Redundant(ast.NodeTransformer):
    """``int(round(x))`` as ``round(x)``: round of one argument is an int already."""

    def visit_Call(self, node):  # noqa: N802
        self.generic_visit(node)
        inner = node.args[0] if len(node.args) == 1 else None
        if isinstance(node.func, ast.Name) and node.func.id == "int" and \
                isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and \
                inner.func.id == "round" and len(inner.args) == 1 and not inner.keywords:
            return inner
        return node


class _Math(ast.NodeTransformer):
    """``log(x)`` as ``math.log(x)``: the spec's function is Python's (specc.expr)."""

    def visit_Call(self, node):  # noqa: N802
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id in _MATH_FUNCTIONS:
            node.func = ast.Attribute(ast.Name("math", ast.Load()), node.func.id, ast.Load())
        return node


_ALLOWED = (ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp, ast.Compare,
            ast.IfExp, ast.Call, ast.operator, ast.unaryop, ast.boolop, ast.cmpop)
_MATH_FUNCTIONS = {"log"}  # written math.log: the file imports math where one is
_FUNCTIONS = {"min", "max", "abs", "round", "int"} | _MATH_FUNCTIONS


def _find_parameters(cls: _Class, names: _Names) -> None:
    """Each value of the class's code: the spec's expression of it where that computes it
    in every instance (`planes * 4`); else, for a size inferred from shapes, the code of
    an earlier value it equals (a conv's in_channels is the out_channels before it), or a
    var or block param it equals, or a multiple of either (:func:`_size_code`); else a
    literal where every instance agrees; else a parameter per distinct pattern of values
    (`in_channels`). The block's params the code reads are parameters too, and so are the
    names it reads from around it (vars, an outer block's params).

    "Every instance" counts each instance's variants (the graphs with other values of
    the vars): a size that follows a var is told from one that equals it by chance, and
    one that changes with a var is no literal (the model's class, which build_model
    passes vars only, writes it as one: that var is then built into the file)."""
    for instance in cls.instances:
        _literals(instance)
    rows = list(cls.instances)
    for instance in cls.instances:
        for variant in instance.variants:
            variant.cls, variant.absent = cls, instance.absent
            _literals(variant)
            if _same_paths(variant, instance):
                rows.append(variant)
    first = cls.instances[0]
    columns = [_key(tuple(row.values[position] for row in rows))
               for position in range(len(first.values))]
    patterns: dict = {}  # the values of one position in every instance -> positions
    read: list = []  # the names the code reads, in order
    for position, value in enumerate(first.values):
        present = [row for row in rows if row.values[position] is not _ABSENT]
        raws = {repr(row.raws[position]) for row in present}
        found, earlier = None, []
        if len(raws) == 1 and first.raws[position] is not None:
            found = _verified(names, first.raws[position], position, present)
        if found is None and first.inferred[position]:
            upstream = _upstream(first.flows[position], first.scope)
            earlier = [q for q in reversed(range(position))
                       if q in cls.code_of and first.owners[q] in upstream]
            found = next((cls.code_of[q] for q in earlier
                          if _agree(columns[q], columns[position])), None)
        # a value of a child some instances lack joins a parameter it agrees with first
        # (the shortcut's in_channels is the block's)
        joins = next((known for known in patterns if _agree(known, columns[position])), None) \
            if len(present) < len(rows) else None
        if found is None and joins is None:  # (a value inside a chain of a block of its
            # own is written as that block's params, which this class does not have)
            found = _size_code(cls, names, position, present, earlier, read)
        if found is not None:
            cls.code_of[position] = found
            read += [name for name in sorted(found[1]) if name not in read]
        elif cls.root or joins is None and len(set(columns[position]) - {repr(_ABSENT)}) == 1:
            cls.constants[position] = value
        else:
            patterns.setdefault(joins or columns[position], []).append(position)
    read += [name for _, used in cls.conditional.values() for name in sorted(used)
             if name not in read]
    cls.forward_values, stored = _forward_codes(cls, names, rows)
    cls.stored = [name for name in dict.fromkeys(read + sorted(stored)) if name in stored]
    read += [name for name in sorted(stored) if name not in read]
    pattern_of = {p: column for column, positions in patterns.items() for p in positions}
    for child, count, pattern in _repeats(cls, names, pattern_of):
        cls.repeats[id(child)] = (count[0], pattern)
        read += [name for name in sorted(count[1]) if name not in read]
    own_params = list(first.scope.params) if first.scope.kind == "block" else []
    defaults = names.spec.block_defaults.get(first.scope.block or "", {})
    cls.own = [name for name in own_params if name in read]
    cls.defaults = {name: defaults[name] for name in cls.own if name in defaults}
    cls.free = [name for name in read if name not in cls.own]
    taken = {"self", "super", "torch", "nn"} | set(read)
    labels = [first.labels[positions[0]][1] for positions in patterns.values()]
    for positions in patterns.values():
        attr, label = first.labels[positions[0]]
        base = label if labels.count(label) == 1 else f"{attr}_{label}"
        name = python_name(base, taken, "p")
        cls.params.append((name, positions))
        for position in positions:
            cls.group_of[position] = name
    for row in rows:  # (an argument only a lacking child takes: any value)
        row.args = {name: next((row.values[p] for p in positions
                                if row.values[p] is not _ABSENT), first.values[positions[0]])
                    for name, positions in cls.params}
    if cls.stack:
        _stack_count(cls, names)


def _forward_codes(cls: _Class, names: _Names, rows: list) -> tuple[dict, set]:
    """The values of the forward's function ops that the spec writes as expressions of
    the vars and block params and that those give in every row (a reshape to
    ``[N, $hidden, -1]``): index -> {attr: the value, its repr ``self.hidden``}; and the
    names read, which __init__ keeps as attributes (as torchvision keeps hidden_dim)."""
    from specc.expr import ExprError, evaluate

    first = cls.instances[0]
    if cls.stack:
        return {}, set()
    taken = {c.attr for c in first.children} | set(MODULE_ATTRS)
    out: dict = {}
    stored: set = set()
    for index, node in _function_nodes(first.scope):
        for key, raw in node.exprs.items():
            value = node.attrs.get(key)
            if key not in node.attrs:
                continue
            items = list(zip(raw, value)) if isinstance(raw, list) and isinstance(value, list) \
                and len(raw) == len(value) else [(raw, value)]
            codes = []
            for axis, (item, _) in enumerate(items):
                found = names.code(item, first) if isinstance(item, str) and "$" in item \
                    else None
                found = found and _settled(found, rows)
                if found is not None and not all(
                        name not in taken and plain_attribute(name) for name in found[1]):
                    found = None
                for row in rows if found is not None else ():
                    theirs = next((n for n in row.scope.items if isinstance(n, Node)
                                   and n.attr_name == node.attr_name), None)
                    if theirs is None:
                        continue  # a row that lacks it (an `if:` turned it off)
                    mine = theirs.attrs.get(key)
                    mine = mine[axis] if isinstance(raw, list) and isinstance(mine, list) \
                        and axis < len(mine) else mine
                    try:
                        if _literal(evaluate(item, row.env)) != _literal(mine):
                            found = None
                            break
                    except ExprError:
                        found = None
                        break
                codes.append(None if found is None else _on_self(found[0]))
                stored |= found[1] if found is not None else set()
            if any(code is not None for code in codes):
                coded = _Coded.of(value, codes if isinstance(raw, list) else codes[0])
                out.setdefault(index, {})[key] = coded
    return out, stored


def _settled(found: tuple[str, set], rows: list) -> tuple[str, set]:
    """An expression's code with each conditional whose test comes out the same in every
    row replaced by the branch it takes (a T5 encoder's attention is bidirectional in
    every instance: ``n // 2 if bidirectional else n`` is ``n // 2`` there)."""
    from specc.expr import ExprError, evaluate_text

    class Settle(ast.NodeTransformer):
        def visit_IfExp(self, node):  # noqa: N802
            self.generic_visit(node)
            try:
                tests = {bool(evaluate_text(ast.unparse(node.test), row.env)) for row in rows}
            except ExprError:
                return node
            if len(tests) != 1:
                return node
            return node.body if tests.pop() else node.orelse

    tree = Settle().visit(ast.parse(found[0], mode="eval"))
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)
            and id(node) not in called and node.id != "math"}
    return ast.unparse(tree), used


def _on_self(code: str) -> str:
    """An expression of the names with each read as the module's attribute of it, in
    parentheses unless it is one name, number or call (it is an operand in the forward:
    ``x / (self.buckets // 2)``)."""
    class OnSelf(ast.NodeTransformer):
        def visit_Name(self, node):  # noqa: N802
            if node.id in _FUNCTIONS or node.id == "math":
                return node
            return ast.copy_location(ast.Attribute(ast.Name("self", ast.Load()), node.id,
                                                   ast.Load()), node)

    tree = OnSelf().visit(ast.parse(code, mode="eval"))
    text = ast.unparse(tree)
    if isinstance(tree.body, (ast.Attribute, ast.Name, ast.Constant, ast.Call)):
        return text
    return f"({text})"


def _same_paths(variant: _Instance, instance: _Instance) -> bool:
    """Order a variant's values as the instance's, by the path of each: a repeat of more
    copies has more, one of fewer lacks some (absent there, as a child an `if:` turns
    off). False when one is unknown."""
    if variant.paths != instance.paths:
        where = {path: index for index, path in enumerate(variant.paths)}
        variant.values = [variant.values[where[path]] if path in where else _ABSENT
                          for path in instance.paths]
        variant.raws = [variant.raws[where[path]] if path in where else None
                        for path in instance.paths]
    return all(value is not _UNKNOWN for value in variant.values)


def _size_code(cls: _Class, names: _Names, position: int, rows: list, earlier: list,
               read: list) -> tuple[str, set] | None:
    """The code of a size inferred from shapes that no value before it in the class gives
    as it is, where its value changes with the vars (a constant stays a literal): a var or
    block param it equals in every row, or a multiple or a fraction of one of those or of
    an earlier value upstream of it (a bidirectional LSTM's output is ``2 * hidden``).
    A tuple (a LayerNorm's normalized_shape) is one such size per item."""
    column = [row.values[position] for row in rows]
    if isinstance(column[0], tuple) and all(isinstance(v, tuple) and len(v) == len(column[0])
                                            for v in column):
        items = []
        for axis in range(len(column[0])):
            found = _one_size(cls, names, [v[axis] for v in column], rows, earlier, read)
            if found is None:
                return None
            items.append(found)
        code = ", ".join(code for code, _ in items) + ("," if len(items) == 1 else "")
        return f"({code})", set().union(*(used for _, used in items))
    if len(set(map(repr, column))) == 1:
        return None  # a literal (or a parameter where instances differ)
    return _one_size(cls, names, column, rows, earlier, read)


def _one_size(cls: _Class, names: _Names, column: list, rows: list, earlier: list,
              read: list) -> tuple[str, set] | None:
    """See :func:`_size_code`: one size's code, given its value in each row."""
    if all(isinstance(v, float) for v in column):  # a var it equals in every row
        return next((found for name in dict.fromkeys(list(cls.instances[0].block_params)
                                                     + read + list(names.spec.plain))
                     if (found := names.code(f"${name}", cls.instances[0])) is not None
                     and all(row.env.get(name) == v for row, v in zip(rows, column))), None)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in column):
        return None
    if len(set(column)) == 1:
        return (str(column[0]), set())
    first = cls.instances[0]
    candidates = []  # (code, names, the value in each row), the likeliest first
    for q in earlier:
        candidates.append((*cls.code_of[q], [row.values[q] for row in rows]))
    spec_names = list(first.block_params) + read + list(names.spec.plain) + \
        list(names.spec.derived)
    for name in dict.fromkeys(spec_names):
        found = names.code(f"${name}", first)
        if found is None or not all(name in row.env for row in rows):
            continue
        candidates.append((*found, [row.env[name] for row in rows]))
    sized = [c for c in candidates
             if all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in c[2])]
    for code, used, values in sized:
        if values == column:
            return code, used
    for code, used, values in sized:
        factor = column[0] // values[0]
        if factor > 1 and all(v * factor == size for v, size in zip(values, column)):
            return f"{factor} * {_operand(code)}", used
        divisor = values[0] // column[0] if column[0] else 0
        if divisor > 1 and all(v == size * divisor for v, size in zip(values, column)):
            return f"{_operand(code)} // {divisor}", used
    return None


def _operand(code: str) -> str:
    """``code`` as an operand of * or //: in parentheses unless it is a name or number."""
    return code if code.isidentifier() or code.isdigit() else f"({code})"


_UPSTREAM_LIMIT = 256  # producers looked at, nearest first: a size flows from a near one


def _upstream(refs: list, scope: Scope) -> set:
    """The items of ``scope`` whose values flow into ``refs``, nearest first up to a bound:
    its nodes (a BatchNorm's num_features is the out_channels of the conv before it) and
    the scopes inside it a value comes out of (a block's in_channels is the channels
    argument of the block before it). A nested block is a whole: the walk goes on from its
    input."""
    from collections import deque

    found: set = set()
    todo = deque(refs)
    while todo and len(found) < _UPSTREAM_LIMIT:
        ref = todo.popleft()
        if ref is None:
            continue
        producer = ref.node
        around = []
        owner = producer.scope
        while owner is not None and owner is not scope:
            around.append(owner)
            owner = owner.parent
        if owner is not scope or producer in found:
            continue
        blocks = [s for s in around if s.kind == "block"]
        found.add(producer)
        found.update(around)
        if blocks:  # inside a nested block: what flows into that block
            todo.append(blocks[-1].input)
        else:
            todo.extend(producer.inputs)
    return found


def _repeats(cls: _Class, names: _Names, pattern_of: dict) -> list:
    """(child, (code, names)) of each nn.Sequential child that is a `repeat` whose copies
    are built alike and whose count the spec writes as an expression (`repeat: $depth`):
    the code builds it as ``nn.Sequential(*[Block(...) for _ in range(depth)])``."""
    from specc.expr import ExprError, evaluate

    first = cls.instances[0]
    if any(inst.absent for inst in cls.instances):
        return []

    def code(position: int) -> tuple:
        if position in cls.code_of:
            return ("code", cls.code_of[position][0])
        if position in pattern_of:
            return ("pattern", pattern_of[position])
        return ("literal", _literal(cls.constants[position]))

    def sequentials(children: list, path: tuple):
        for index, child in enumerate(children):
            if child.kind == "sequential":
                yield path + (index,), child
                yield from sequentials(child.children, path + (index,))

    def at(instance: _Instance, path: tuple) -> Scope:
        """The scope of an instance's Sequential child at ``path``."""
        children, child = instance.children, None
        for index in path:
            child = children[index]
            children = child.children
        assert child is not None and child.scope is not None
        return child.scope

    found = []
    for path, child in sequentials(first.children, ()):
        raw = child.scope.exprs.get("repeat") if child.scope is not None else None
        pattern = _copy_names(child.children)
        if raw is None or pattern is False or len(child.children) < 2:
            continue
        copies = {(c.key()[2:], tuple(code(p) for p in range(*first.spans[id(c)])))
                  for c in child.children}
        count = names.code(raw, first)
        if len(copies) != 1 or count is None:
            continue
        try:
            if all(evaluate(raw, inst.env) == len(at(inst, path).items)
                   and at(inst, path).exprs.get("repeat") == raw
                   for inst in cls.instances):
                found.append((child, count, pattern))
        except ExprError:
            continue
    return found


_NAME_PART = re.compile(r"[A-Za-z0-9_-]*")


def _copy_names(children: list):
    """How a repeat names its copies: None by their index; (prefix, suffix) where each
    is named ``prefix<i>suffix`` (``repeat_name: encoder_layer_${i}``) in letters, digits,
    `_` and `-` (the code writes them into an f-string); False otherwise."""
    attrs = [c.attr for c in children]
    if attrs == [str(i) for i in range(len(attrs))]:
        return None
    at = attrs[0].find("0")
    while at >= 0:
        prefix, suffix = attrs[0][:at], attrs[0][at + 1:]
        if _NAME_PART.fullmatch(prefix) and _NAME_PART.fullmatch(suffix) and \
                attrs == [f"{prefix}{i}{suffix}" for i in range(len(attrs))]:
            return prefix, suffix
        at = attrs[0].find("0", at + 1)
    return False


def _agree(column: tuple, other: tuple) -> bool:
    """Two positions' values agree in every instance that has both."""
    absent = repr(_ABSENT)
    return all(a == b or absent in (a, b) for a, b in zip(column, other, strict=True))


def _verified(names: _Names, raw, position: int, instances: list) -> tuple[str, set] | None:
    """The code of an expression, when evaluating it gives every instance's value."""
    from specc.expr import ExprError, evaluate

    found = names.code(raw, instances[0])
    if found is None:
        return None
    for instance in instances:
        try:
            value = evaluate(raw, instance.env) if not isinstance(raw, list) else \
                tuple(evaluate(item, instance.env) for item in raw)
        except ExprError:
            return None
        if _literal(value) != _literal(instance.values[position]) or \
                names.code(raw, instance) is None:
            return None
    return found


def _stack_count(cls: _Class, names: _Names) -> None:
    """A stack's length from the spec's `repeat:` expression, where it is one."""
    first = cls.instances[0]
    raw = first.scope.exprs.get("repeat")
    if raw is None or any(inst.scope.exprs.get("repeat") != raw for inst in cls.instances):
        return
    from specc.expr import ExprError, evaluate

    found = names.code(raw, first)
    try:
        if found is None or any(evaluate(raw, inst.env) != len(inst.scope.items)
                                for inst in cls.instances):
            return
    except ExprError:
        return
    cls.count = found[0]
    cls.free += [name for name in sorted(found[1]) if name not in cls.free]


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

    def value() -> str | None:
        """The next value's code; None for a nested class's argument left at its default."""
        at = position[0]
        position[0] += 1
        if at in cls.code_of:
            return cls.code_of[at][0]
        if at in cls.group_of:
            return cls.group_of[at]
        default = first.defaults[at]
        if default is not _NO_DEFAULT and _literal(default) == _literal(cls.constants[at]):
            return None
        return _literal(cls.constants[at])

    def arguments(names: list) -> list:
        written = [(name, value()) for name in names]
        return [f"{name}={code}" for name, code in written if code is not None]

    def expression(child: _Child, indent: str) -> str:
        lead = len(indent) + len(child.attr) + 8  # `self.attr = ` or `('attr', `
        if child.kind == "module":
            return _call(child.ctor, arguments([name for name, _ in child.kwargs]), indent,
                         lead)
        if child.kind == "class":
            assert child.instance is not None
            nested = child.instance.cls
            return _call(nested.name, arguments([name for name, _ in nested.signature()]),
                         indent, lead)
        inner = indent + _INDENT
        if id(child) in cls.repeats:  # copies built alike, as many as the spec's count
            made = [expression(c, inner) for c in child.children]
            count, pattern = cls.repeats[id(child)]
            if pattern is None:
                call, item, loop = "nn.Sequential", made[0], f"for _ in range({count})"
            else:
                name = f'f"{pattern[0]}{{i}}{pattern[1]}"'  # (letters, digits, _ and - only)
                call, item, loop = "_sequential", f"({name}, {made[0]})", \
                    f"for i in range({count})"
            one = f"{call}(*[{item} {loop}])"
            if "\n" not in one and len(indent) + len(child.attr) + 8 + len(one) <= _WIDTH:
                return one
            return f"{call}(*[\n{inner}{item}\n{inner}{loop}\n{indent}])"
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
            sizes = ", ".join(str(value()) for _ in child.kwargs)
            code = f"nn.Parameter(torch.zeros({sizes}))"  # the values come from init
            if child.fill is not None:
                sizes += "," if len(child.kwargs) == 1 else ""
                code = f"nn.Parameter(torch.full(({sizes}), {value()}))"
            lines.append(_assign(child.attr, code, "register_parameter"))
        elif child.kind == "buffer":
            lines.append(f"self.register_buffer({child.attr!r}, {child.ctor}, "
                         f"persistent={child.persistent!r})")
        elif child.attr in cls.conditional:  # built when its `if:` holds, None otherwise
            built = _assign(child.attr, expression(child, body + _INDENT), "add_module")
            lines += [f"if {cls.conditional[child.attr][0]}:", f"{_INDENT}{built}", "else:",
                      f"{_INDENT}{_assign(child.attr, 'None', 'add_module')}"]
        else:
            lines.append(_assign(child.attr, expression(child, body), "add_module"))
    signature = cls.signature_code()
    lines = [f"self.{name} = {name}" for name in cls.stored] + lines
    init = "".join(f"{body}{line}\n" for line in ["super().__init__()"] + lines)
    doc = f"{_INDENT}\"\"\"{doc_text(first.scope.block or first.scope.path or state.graph.name)}" \
        f"{_instances_note(cls)}\"\"\"\n\n"
    input_comment, comments = _comments(state, cls)
    with _forward_values(first.scope, cls.forward_values):
        forward, owners = forward_text(state, first.scope,
                                       comment=lambda item: comments[id(item)])
    head, _, rest = forward.partition("\n")
    if cls.conditional:
        rest = _conditional_calls(rest, owners, cls)
    forward = f"{head}{input_comment}\n{rest}"
    return f"\n\nclass {cls.name}(nn.Module):\n{doc}{_signature('def __init__', signature, _INDENT)}\n" \
        f"{init}\n{forward}"


_WIDTH = 100  # the generated lines' length, as this project's own (ruff's line-length)


def _packed(parts: list, indent: str) -> str:
    """``parts`` joined by ", " into lines of at most _WIDTH, each but the first indented."""
    lines = [""]
    for part in parts:
        joined = f"{lines[-1]}, {part}" if lines[-1] else part
        if lines[-1] and len(indent) + len(joined) + 1 > _WIDTH:
            lines[-1] += ","
            lines.append(part)
        else:
            lines[-1] = joined
    return f"\n{indent}".join(lines)


def _call(callee: str, args: list, indent: str, lead: int) -> str:
    """``callee(args)`` on one line where it fits after ``lead`` characters, else with the
    arguments on lines of their own below it, as black writes a long call."""
    one = f"{callee}({', '.join(args)})"
    if lead + len(one) <= _WIDTH or not args:
        return one
    inner = indent + _INDENT
    return f"{callee}(\n{inner}{_packed(args, inner)},\n{indent})"


def _signature(head: str, parts: list, indent: str) -> str:
    """``def name(parts):``, its parameters aligned under the first where it is long."""
    one = f"{indent}{head}({', '.join(parts)}):"
    if len(one) <= _WIDTH:
        return one
    return f"{indent}{head}({_packed(parts, ' ' * (len(indent) + len(head) + 1))}):"


def _conditional_calls(body: str, owners: list, cls: _Class) -> str:
    """A forward's body in which each conditional child's call runs when the child is
    there; without it, its output is its input (what the spec's disabled item passes on)."""
    lines = body.split("\n")
    out = []
    for line, owner in zip(lines, owners + [None] * (len(lines) - len(owners))):
        match = _CALL_LINE.match(line.strip())
        if owner in cls.conditional and match:
            indent = line[:len(line) - len(line.lstrip())]
            out += [f"{indent}{match.group(1)} = {match.group(3)}",
                    f"{indent}if {match.group(2)} is not None:", f"{indent}{_INDENT}{line.strip()}"]
        else:
            out.append(line)
    return "\n".join(out)


def _stack_code(state: CodegenState, cls: _Class, items: list) -> str:
    """An nn.ModuleList of the copies (a comprehension when they are built alike) whose
    forward calls them in turn."""
    first = cls.instances[0]
    signature = cls.signature_code()
    body = _INDENT * 2
    if len(set(items)) == 1:
        made = f"[{items[0]} for _ in range({cls.count or len(items)})]"
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
    return (f"\n\nclass {cls.name}(nn.ModuleList):\n{doc}"
            f"{_signature('def __init__', signature, _INDENT)}\n"
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
    as is (symbols kept: N, T); one that follows a class parameter or the spec's expression
    of a value takes its name or code (``planes * 4``); one that
    follows a size of the input takes its name (H, or H/2 when it halves); anything else
    that differs between instances is '?'."""
    def context(instances: list) -> tuple[dict, list, str]:
        """(column -> the name or code it is, the input's sizes that differ, the input's
        comment) over some of the instances."""
        by_pattern: dict = {}
        for position, (code, _) in sorted(cls.code_of.items()):
            column = tuple(inst.values[position] for inst in instances)
            by_pattern.setdefault(_key(column), code)
        for name, positions in cls.params:
            column = tuple(inst.values[positions[0]] for inst in instances)
            by_pattern.setdefault(_key(column), name)
        named_input: list = []  # (axis, name, column) of each size of the input that differs
        types = [refs[0].type if refs else None
                 for refs in (externals(state, inst.scope) for inst in instances)]
        if not all(t is not None for t in types):
            return by_pattern, named_input, ""
        shapes: list = [tuple(t.shape) for t in types if t is not None]
        if len({len(shape) for shape in shapes}) != 1:
            return by_pattern, named_input, ""
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
        return by_pattern, named_input, "  # [" + ", ".join(sizes) + "]"

    template = cls.instances[0]
    # each instance's item for each of the template's (a lacking child's: None)
    matched = []
    for inst in cls.instances:
        theirs = iter(inst.scope.items)
        matched.append([None if item.named and item.attr_name in inst.absent else next(theirs)
                        for item in template.scope.items])
    everyone = context(cls.instances)
    full = [inst for inst in cls.instances if not inst.absent]  # with every child
    partly = context(full) if len(full) < len(cls.instances) else everyone
    comments = {}
    for index, item in enumerate(template.scope.items):
        items: list = [row[index] for row in matched if row[index] is not None]
        by_pattern, named_input, _ = everyone if len(items) == len(matched) else partly
        shapes = [_output_shapes(mine) for mine in items]
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
    return everyone[2], comments


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
            each = tuple(size // v if size % v == 0 else 0 for size, v in zip(sizes, column))
            if len(set(each)) == 1 and 0 not in each:
                return f"{name}/{each[0]}"
            if 0 not in each and by_pattern.get(_key(each), "").isidentifier():
                return f"{name}/{by_pattern[_key(each)]}"  # H/stride
    return "?"


def _output_shapes(item: Node | Scope) -> list:
    types: list = []
    if isinstance(item, Scope):
        types = [item.output.type] if item.output is not None else []
    else:
        types = item.out_types or []
    return [tuple(t.shape) for t in types if t is not None]
