"""`specc import`: an existing ``nn.Module`` → a readable spec (torch.fx).

The module is traced with :mod:`torch.fx`; modules whose class specc knows as an op
(``nn.Conv2d`` … and plugin ops that name a module class) stay leaves, everything else is
traced through. The flat fx graph is then folded back into the module tree it came from
(``nn_module_stack``): ``nn.Sequential`` / ``nn.ModuleList`` become nested ``layers:``,
every other class becomes a **block**, one per class, whose per-instance differences become
block params (ResNet's ``BasicBlock`` with ``out_channels``/``stride``/``downsample``).
Module names are kept, so the spec's ``state_dict`` keys are the module's own.

Anything specc cannot express is an :class:`ImportProblem` naming the module path and how
to get past it (a plugin op, or a leaf module) — never a traceback. This module imports
torch; it is only used by ``specc import`` and :func:`specc.from_module`.
"""
from __future__ import annotations

import inspect
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from specc.ops.base import REQUIRED, OpDef, all_ops

_PLAIN_CONTAINERS = {nn.Sequential, nn.ModuleList, nn.ModuleDict}


@dataclass
class ImportProblem:
    module: str  # dotted module path ("" = the model itself)
    message: str
    hint: str | None = None

    def format(self) -> str:
        where = self.module or "(model)"
        text = f"{where}: {self.message}"
        return text + (f"\n    hint: {self.hint}" if self.hint else "")


class ImportFailed(Exception):
    """The module cannot be written as a spec; ``problems`` say where and why."""

    def __init__(self, problems: list[ImportProblem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


_LEAF_HINT = ("declare the module as a plugin op (docs/plugins.md) so specc keeps it as one "
              "leaf, or rewrite that part with ops specc knows (`specc ops`)")


# -- which classes are ops ---------------------------------------------------------------

def _module_ops() -> dict[type, OpDef]:
    """Module class → the op that builds it: torch.nn classes, and plugin ops' classes."""
    found: dict[type, OpDef] = {}
    for op in all_ops().values():
        if op.kind != "module":
            continue
        try:
            cls = op.module_class()
        except Exception:  # a plugin whose module does not import: its ops stay unknown
            continue
        if isinstance(cls, type):
            found.setdefault(cls, op)
    return found


def _runtime_copies(model: nn.Module, found: dict[type, OpDef]) -> None:
    """Add to ``found`` the classes of ``model`` that are copies of a class of
    specc/compile/runtime.py: a model specc built, or one --emit-python wrote, holds its own
    copy of them (a class made from the same source: same name, same functions' code), so
    its LayerNorm2d is an op again on import instead of being traced into
    F.layer_norm, which no op is."""
    by_name = {op.runtime_class: op for op in all_ops().values() if op.runtime_class}
    if not by_name:
        return
    from specc.compile import runtime

    for module in model.modules():
        cls = type(module)
        op = by_name.get(cls.__name__)
        if cls in found or op is None:
            continue
        original = getattr(runtime, cls.__name__, None)
        if isinstance(original, type) and _same_code(cls, original):
            found[cls] = op


def _same_code(a: type, b: type) -> bool:
    """``a`` defines every function ``b`` does with the same bytecode and constants (a
    built model's copy also has the pickling helpers codegen adds)."""
    def functions(cls: type) -> dict:
        return {name: (value.__code__.co_code, value.__code__.co_consts,
                       value.__code__.co_names)
                for name, value in vars(cls).items() if inspect.isfunction(value)}
    ours = functions(a)
    return [base.__name__ for base in a.__bases__] == [base.__name__ for base in b.__bases__] \
        and all(ours.get(name) == code for name, code in functions(b).items())


# -- tracing -------------------------------------------------------------------------------

@dataclass
class _Call:
    path: str
    module: nn.Module
    args: list  # fx nodes of tensor arguments, in call order
    arg_names: list
    output: object = None  # fx node (or structure) returned


class _Tracer(fx.Tracer):
    def __init__(self, leaf_classes):
        super().__init__()
        self.leaf_classes = leaf_classes
        self.calls: dict[str, _Call] = {}
        self.call_counts: dict[str, int] = {}
        self.failing: str | None = None

    def is_leaf_module(self, m, _qualname):
        return type(m) in self.leaf_classes

    def call_module(self, m, forward, args, kwargs):
        path = self.path_of_module(m)
        self.call_counts[path] = self.call_counts.get(path, 0) + 1
        try:
            result = super().call_module(m, forward, args, kwargs)
        except Exception:
            if self.failing is None:
                self.failing = path
            raise
        if type(m) not in self.leaf_classes:
            names = _arg_names(m, len(args), kwargs)
            tensors = [(n, a.node) for n, a in zip(names, list(args) + list(kwargs.values()))
                       if isinstance(a, fx.Proxy)]
            self.calls[path] = _Call(path, m, [t for _, t in tensors], [n for n, _ in tensors],
                                     _unproxy(result))
        return result


def _arg_names(module: nn.Module, n_args: int, kwargs: dict) -> list[str]:
    try:
        params = [p for p in inspect.signature(module.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        names = [p.name for p in params[:n_args]]
    except (TypeError, ValueError):
        names = []
    names += [f"x{i}" for i in range(len(names), n_args)]
    return names + list(kwargs)


def _unproxy(value):
    if isinstance(value, fx.Proxy):
        return value.node
    if isinstance(value, (tuple, list)):
        return type(value)(_unproxy(v) for v in value)
    return value


# -- values: what each fx node stands for ------------------------------------------------

@dataclass(eq=False)
class _Item:
    """One spec node: an op applied to refs, owned by a scope."""

    op: str
    attrs: dict
    inputs: list  # of _Out
    scope: "_Scope"
    name: str = ""  # module attribute name (modules) or a generated name (functions)
    named_by_module: bool = False
    output_names: tuple = ("out",)
    referenced: bool = False  # read by something other than the next item


@dataclass(frozen=True)
class _Out:
    item: "_Item | _InputItem"
    index: int = 0


@dataclass
class _Const:
    value: object


@dataclass
class _Tuple:
    item: _Item
    parts: tuple  # indices, or nested tuples of indices


@dataclass(eq=False)
class _Scope:
    path: str
    kind: str  # "model", "block", "sequence"
    module: nn.Module | None
    parent: "_Scope | None"
    name: str = ""
    cls: str = ""  # block name candidate
    items: list = field(default_factory=list)
    inputs: list = field(default_factory=list)  # block inputs: _Out values from outside
    input_names: list = field(default_factory=list)
    output: "_Out | None" = None
    taken: set = field(default_factory=set)
    block: "_Block | None" = None  # the _Block this instance uses, once grouped
    params: dict = field(default_factory=dict)  # this instance's param values


# -- the converter --------------------------------------------------------------------------

class _Importer:
    def __init__(self, model: nn.Module, inputs: dict):
        self.model = model
        self.inputs = inputs
        self.problems: list[ImportProblem] = []
        self.module_ops = _module_ops()
        _runtime_copies(model, self.module_ops)
        self.spec_scopes = _built_scopes(model)  # a model specc built: its own scope kinds
        self.scopes: dict[str, _Scope] = {}
        self.values: dict = {}  # fx node → _Out / _Const / _Tuple
        self.runtime: dict = {}
        self.called: set = set()
        self.input_values: list = []

    def problem(self, module: str, message: str, hint: str | None = _LEAF_HINT) -> None:
        self.problems.append(ImportProblem(module, message, hint))

    # trace + run ------------------------------------------------------------------
    def trace(self) -> fx.Graph:
        tracer = _Tracer(set(self.module_ops))
        signature = inspect.signature(self.model.forward)
        concrete = {}
        for name, p in signature.parameters.items():
            if name not in self.inputs:
                if p.default is inspect.Parameter.empty:
                    raise ImportFailed([ImportProblem("", f"forward() needs input '{name}'",
                                                      f"add --input {name}=SHAPE")])
                concrete[name] = p.default
        unknown = set(self.inputs) - set(signature.parameters)
        if unknown:
            raise ImportFailed([ImportProblem("", f"forward() has no parameter "
                                              f"{', '.join(sorted(unknown))}",
                                              "inputs are: " + ", ".join(signature.parameters))])
        try:
            graph = tracer.trace(self.model, concrete_args=concrete or None)
        except Exception as exc:  # user code: any error is a finding about that module
            path = tracer.failing or ""
            kind = type(_module_at(self.model, path)).__name__ if path else \
                type(self.model).__name__
            message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ImportFailed([ImportProblem(path, f"{kind} cannot be traced by torch.fx: "
                                              f"{type(exc).__name__}: {message}",
                                              _LEAF_HINT)]) from None
        self.tracer = tracer
        shared = sorted(p for p, n in tracer.call_counts.items() if n > 1 and _has_state(
            _module_at(self.model, p)))
        for path in shared:
            self.problem(path, f"is called {tracer.call_counts[path]} times (shared weights); "
                         "a spec gives every call its own module",
                         "call it once, or wrap the shared part in a plugin op")
        runtime = self.runtime

        class _Recorder(fx.Interpreter):
            def run_node(self, n):
                result = super().run_node(n)
                runtime[n] = result
                return result

        args = [self.inputs[n.target] for n in graph.nodes if n.op == "placeholder"]
        try:
            with torch.no_grad():
                # the graph runs on the model itself: a GraphModule would compile Python
                # that fx writes `self.1a` in for a submodule named "1a" (a SyntaxError)
                _Recorder(self.model, graph=graph).run(*args)
        except Exception as exc:
            raise ImportFailed([ImportProblem("", f"the traced model fails on the example "
                                              f"inputs: {type(exc).__name__}: {exc}",
                                              "check the --input shapes and dtypes")]) from None
        return graph

    # scopes ------------------------------------------------------------------------
    def scope_for(self, path: str) -> _Scope:
        if path in self.scopes:
            return self.scopes[path]
        if path == "":
            scope = _Scope("", "model", self.model, None)
        else:
            parent_path, _, name = path.rpartition(".")
            parent = self.scope_for(parent_path)
            module = _module_at(self.model, path)
            scope = _Scope(path, self._kind(path, module), module, parent, name=name,
                           cls=self._block_name(path, module))
            parent.items.append(scope)
            parent.taken.add(name)
        self.scopes[path] = scope
        return scope

    def _kind(self, path: str, module) -> str:
        if self.spec_scopes is not None:
            kind, _ = self.spec_scopes.get(path, ("sequence", None))
            return "block" if kind == "block" else "sequence"
        if module is None or type(module) in _PLAIN_CONTAINERS:
            return "sequence"
        return "block"

    def _block_name(self, path: str, module) -> str:
        if self.spec_scopes is not None:
            return self.spec_scopes.get(path, (None, None))[1] or ""
        return type(module).__name__ if module is not None else ""

    def home_scope(self, node: fx.Node) -> _Scope:
        stack = list(node.meta.get("nn_module_stack", {}).values())
        paths = [p for p, _ in stack]
        if node.op == "call_module" and paths and paths[-1] == node.target:
            paths = paths[:-1]
        path = paths[-1] if paths else ""
        if node.op == "call_module":
            parent = _attr_path(node).rpartition(".")[0]
            if parent.startswith(path + ".") or (path == "" and parent):
                path = parent  # a ModuleList child called from its owner: keep the list
        if node.op == "get_attr":
            owner = _attr_path(node).rpartition(".")[0]
            if type(_module_at(self.model, owner)) not in self.module_ops:
                path = owner
        return self.scope_for(path)

    # conversion ------------------------------------------------------------------
    def convert(self, graph: fx.Graph):
        root = self.scope_for("")
        placeholders = []
        for node in graph.nodes:
            if node.op == "placeholder":
                placeholders.append(node.target)
                self.values[node] = _Out(_InputItem(node.target), 0)
                self.input_values.append(self.values[node])
            elif node.op == "output":
                self.output = node.args[0]
            else:
                self._convert_node(node)
        self._bind_block_io()
        for scope in self.scopes.values():  # a container nobody called: its last item
            if scope.output is None and scope.items and scope.kind != "model":
                last = scope.items[-1]
                scope.output = last.output if isinstance(last, _Scope) else _Out(last, 0)
        return root, placeholders

    def _convert_node(self, node: fx.Node) -> None:
        value = self.runtime.get(node)
        if not _holds_tensor(value):
            self.values[node] = _Const(value)
            return
        scope = self.home_scope(node)
        where = _where(node, scope)
        try:
            if node.op == "call_module":
                self._module_call(node, scope)
            elif node.op == "get_attr":
                self._get_attr(node, scope)
            elif node.op in ("call_function", "call_method"):
                self._function(node, scope)
        except _Unsupported as exc:
            self.problem(where, str(exc), exc.hint)
            self.values[node] = _Out(_Item("?", {}, [], scope), 0)

    def _item(self, scope: _Scope, op: str, attrs: dict, inputs: list, name: str = "",
              from_module: bool = False) -> _Item:
        opdef = all_ops()[op]
        item = _Item(op, attrs, inputs, scope, output_names=opdef.output_names(attrs))
        if from_module:
            item.name, item.named_by_module = name, True
        scope.items.append(item)
        return item

    def _module_call(self, node: fx.Node, scope: _Scope) -> None:
        path = _attr_path(node)
        module = _module_at(self.model, path)
        op = self.module_ops.get(type(module))
        if op is None:
            raise _Unsupported(f"{type(module).__name__} is not an op specc knows")
        if node.kwargs and any(k not in _IGNORED_KWARGS for k, v in node.kwargs.items()
                               if v is not None):
            raise _Unsupported(f"{op.name} is called with {', '.join(node.kwargs)}, which a "
                               "spec cannot pass")
        attrs = module_attrs(op, module)
        inputs = [self.tensor(a) for a in node.args]
        name = path.rpartition(".")[2]
        if path in self.called:  # a stateless module called again: a copy of its own
            name = _fresh(scope, name)
        self.called.add(path)
        item = self._item(scope, op.name, attrs, inputs, name, from_module=True)
        scope.taken.add(name)
        self._set_result(node, item)

    def _set_result(self, node: fx.Node, item: _Item) -> None:
        value = self.runtime.get(node)
        if isinstance(value, tuple):
            self.values[node] = _Tuple(item, _tuple_shape(value, iter(range(len(
                item.output_names)))))
        else:
            self.values[node] = _Out(item, 0)

    def _get_attr(self, node: fx.Node, scope: _Scope) -> None:
        value = self.runtime.get(node)
        path = _attr_path(node)
        owner = _module_at(self.model, path.rpartition(".")[0])
        if type(owner) in self.module_ops:
            raise _Unsupported(f"uses '{path}' directly; specc's ops own their weights")
        if not isinstance(value, nn.Parameter):
            raise _Unsupported(f"reads the buffer '{path}', which a spec cannot hold",
                               "make it a parameter or compute it in a plugin op")
        name = path.rpartition(".")[2]
        item = self._item(scope, "parameter", {"shape": list(value.shape)}, [], name,
                          from_module=True)
        scope.taken.add(name)
        self.values[node] = _Out(item, 0)

    def tensor(self, arg) -> _Out:
        value = self.values.get(arg) if isinstance(arg, fx.Node) else None
        if isinstance(value, _Out):
            return value
        raise _Unsupported(f"uses {arg!r} where specc needs a tensor")

    def _function(self, node: fx.Node, scope: _Scope) -> None:
        target = node.target
        if target is operator.getitem:
            return self._getitem(node, scope)
        if node.op == "call_method" and target in ("contiguous", "clone") or \
                target in (torch.clone,):
            self.values[node] = self.tensor(node.args[0])
            return
        rule = _FUNCTIONS.get(target) if node.op == "call_function" else _METHODS.get(target)
        if rule is None:
            label = target if isinstance(target, str) else _qualname(target)
            raise _Unsupported(f"calls {'Tensor.' if node.op == 'call_method' else ''}{label}, "
                               "which specc has no op for")
        op, attrs, inputs = rule(self, node)
        item = self._item(scope, op, attrs, inputs)
        self._set_result(node, item)

    def _getitem(self, node: fx.Node, scope: _Scope) -> None:
        source, index = node.args
        value = self.values.get(source)
        if isinstance(value, _Tuple):
            if not isinstance(index, (int, slice)):
                raise _Unsupported(f"picks an output of {value.item.op} by {index!r}, a value "
                                   "computed while it runs", None)
            part = value.parts[index]
            self.values[node] = _Tuple(value.item, part) if isinstance(part, tuple) else \
                _Out(value.item, part)
            return
        x = self.tensor(source)
        index = index if isinstance(index, tuple) else (index,)
        dim = 0
        for entry in index:
            entry = self.const(entry)
            if isinstance(entry, int) and not isinstance(entry, bool):
                x = _Out(self._item(scope, "select", {"dim": dim, "index": entry}, [x]), 0)
            elif isinstance(entry, slice):
                if entry != slice(None):
                    attrs = {"dim": dim, "start": entry.start, "end": entry.stop,
                             "step": 1 if entry.step is None else entry.step}
                    x = _Out(self._item(scope, "slice", attrs, [x]), 0)
                dim += 1
            elif entry is None:
                x = _Out(self._item(scope, "unsqueeze", {"dim": dim}, [x]), 0)
                dim += 1
            else:
                raise _Unsupported(f"indexes a tensor with {entry!r}; specc has select and "
                                   "slice for ints and slices", None)
        self.values[node] = x

    def const(self, arg):
        if isinstance(arg, fx.Node):
            value = self.values.get(arg)
            if isinstance(value, _Const):
                return value.value
            raise _Unsupported(f"uses the tensor {arg.name} where a constant is needed", None)
        if isinstance(arg, (list, tuple)):
            return type(arg)(self.const(a) for a in arg)
        if isinstance(arg, slice):
            return slice(self.const(arg.start), self.const(arg.stop), self.const(arg.step))
        return arg

    def _bind_block_io(self) -> None:
        for path, call in self.tracer.calls.items():
            scope = self.scopes.get(path)
            if scope is None:
                continue
            pairs = [(self.values.get(n), name) for n, name in zip(call.args, call.arg_names)]
            pairs = [(v, name) for v, name in pairs if isinstance(v, _Out)]
            scope.inputs = [v for v, _ in pairs]
            # one input is `x` whatever forward() calls it (nn.Sequential says `input`)
            scope.input_names = ["x"] if len(pairs) == 1 else [name for _, name in pairs]
            out = self.values.get(call.output) if isinstance(call.output, fx.Node) else None
            if not isinstance(out, _Out):
                self.problem(path, f"{type(call.module).__name__}.forward returns "
                             f"{type(call.output).__name__}, not one tensor",
                             "a block has one output; return a tensor, or make it a plugin op")
                continue
            scope.output = out


class _Unsupported(Exception):
    def __init__(self, message: str, hint: str | None = _LEAF_HINT):
        self.hint = hint
        super().__init__(message)


@dataclass(eq=False)
class _InputItem:
    name: str
    scope: _Scope | None = None  # a model input belongs to no scope
    output_names: tuple = ("out",)


_IGNORED_KWARGS = {"need_weights"}


def _has_state(module) -> bool:
    return module is not None and (any(True for _ in module.parameters()) or
                                   any(True for _ in module.buffers()))


def _holds_tensor(value) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    if isinstance(value, (tuple, list)):
        return any(_holds_tensor(v) for v in value)
    return False


def _tuple_shape(value, counter):
    return tuple(_tuple_shape(v, counter) if isinstance(v, tuple) else next(counter)
                 for v in value)


def _where(node: fx.Node, scope: _Scope) -> str:
    if node.op in ("call_module", "get_attr"):
        return _attr_path(node)
    return scope.path


def _attr_path(node: fx.Node) -> str:
    """The dotted path a call_module or get_attr node names (fx's target is a str for those;
    a callable only for call_function)."""
    assert isinstance(node.target, str), node.format_node()
    return node.target


def _module_at(model: nn.Module, path: str):
    try:
        return model.get_submodule(path) if path else model
    except AttributeError:
        return None


def _qualname(fn) -> str:
    module = getattr(fn, "__module__", None) or ""
    name = getattr(fn, "__name__", None) or repr(fn)
    if not module or module.startswith("torch._C") or getattr(torch, name, None) is fn:
        module = "torch"  # torch.cumsum reports torch._VariableFunctionsClass
    return f"{module}.{name}"


def _built_scopes(model: nn.Module):
    """path → (scope kind, block name) for a model specc built (re-import is idempotent)."""
    graph = getattr(model, "specc_graph", None)
    if graph is None:
        return None
    found = {}
    stack = [graph.root]
    while stack:
        scope = stack.pop()
        found[scope.path] = (scope.kind, scope.block)
        stack += [i for i in scope.items if hasattr(i, "items")]
    return found


# -- module attributes → op params -------------------------------------------------------

def _present(value) -> bool:
    return value is not None


def _transformer_layer(m) -> dict:
    activation = getattr(m, "activation_relu_or_gelu", 0)
    values = {
        "d_model": m.self_attn.embed_dim, "nhead": m.self_attn.num_heads,
        "dim_feedforward": m.linear1.out_features, "dropout": m.dropout.p,
        "activation": {1: "relu", 2: "gelu"}.get(activation),
        "layer_norm_eps": m.norm1.eps, "batch_first": m.self_attn.batch_first,
        "norm_first": m.norm_first, "bias": m.linear1.bias is not None,
    }
    if values["activation"] is None:
        raise _Unsupported(f"{type(m).__name__} uses a custom activation")
    return values


# params a module does not keep under their own names: op -> module -> {param: value}
_SPECIAL: dict[str, Callable[[Any], dict]] = {
    "MultiheadAttention": lambda m: {
        "bias": m.in_proj_bias is not None,
        "add_bias_kv": m.bias_k is not None,
        "kdim": None if m.kdim == m.embed_dim else m.kdim,
        "vdim": None if m.vdim == m.embed_dim else m.vdim,
    },
    "LayerNorm": lambda m: {"bias": getattr(m, "bias", None) is not None or not
                            m.elementwise_affine},
    "TransformerEncoderLayer": _transformer_layer,
    "TransformerDecoderLayer": _transformer_layer,
}


_COLLAPSE = ("posints", "nonnegints", "padding", "optposints", "outsize")


def module_attrs(op: OpDef, module: nn.Module) -> dict:
    """The op params a module instance was built with: non-defaults, inferred ones left out
    (specc reads them off the input, so blocks stay generic)."""
    special = _SPECIAL[op.name](module) if op.name in _SPECIAL else {}
    attrs = {}
    for param in op.params:
        if not param.to_torch:
            continue
        if param.name in special:
            value = special[param.name]
        elif hasattr(module, param.name):
            value = getattr(module, param.name)
        elif param.inferred:
            continue
        else:
            raise _Unsupported(f"{op.name}: cannot read '{param.name}' off the module",
                               f"store it in __init__ (self.{param.name} = {param.name})")
        if isinstance(value, (torch.Tensor, type(None))) and param.type == "bool":
            value = _present(value)
        value = param_value(param, value, op.name)
        if param.inferred:
            if op.name == "LayerNorm" and isinstance(value, list) and len(value) > 1:
                attrs[param.name] = value
            continue
        if param.default is REQUIRED or value != param.default:
            attrs[param.name] = value
    return attrs


def param_value(param, value, op_name: str = ""):
    """A Python value as the spec writes it: lists for tuples, and ``(3, 3)`` as ``3``
    where the op repeats one size over every dim."""
    value = _plain(value)
    if isinstance(value, list) and param.type in _COLLAPSE and value and \
            len(set(value)) == 1 and op_name != "LayerNorm":
        value = value[0]
    return value


def _plain(value):
    if isinstance(value, (tuple, list, torch.Size)):
        return [_plain(v) for v in value]
    return value


# -- functional calls → ops ------------------------------------------------------------------

def _bind(node: fx.Node, names: list[str], defaults: dict) -> dict:
    """Positional + keyword arguments by name (``*name`` collects the rest)."""
    bound = dict(defaults)
    args = list(node.args)
    for i, name in enumerate(names):
        if name.startswith("*"):
            rest = args[i:]
            if len(rest) == 1 and isinstance(rest[0], (list, tuple)):
                rest = list(rest[0])
            bound[name[1:]] = rest if rest else node.kwargs.get(name[1:], [])
            args = []
            break
        if i < len(args):
            bound[name] = args[i]
    for key, value in node.kwargs.items():
        bound[key] = value
    return bound


def _simple(op: str, names: list[str], defaults: dict | None = None, rename=None):
    """A function/method whose first argument is the tensor and the rest are op params."""
    def rule(imp: _Importer, node: fx.Node):
        bound = _bind(node, names, defaults or {})
        x = imp.tensor(bound.pop(names[0]))
        attrs = {}
        for key, value in bound.items():
            key = (rename or {}).get(key, key)
            if key in ("inplace", "training", "_stacklevel", "dtype") and op[0].isupper():
                if key == "dtype" and value is not None:
                    raise _Unsupported(f"{op} with dtype= is not supported", None)
                continue
            param = all_ops()[op].param(key)
            if param is None:
                raise _Unsupported(f"{op}: argument '{key}' has no counterpart in specc", None)
            value = param_value(param, imp.const(value), op)
            if param.default is REQUIRED or value != param.default:
                attrs[key] = value
        return op, attrs, [x]
    return rule


def _arith(op: str, commutative: bool):
    def rule(imp: _Importer, node: fx.Node):
        if node.kwargs.get("alpha", 1) != 1:
            raise _Unsupported(f"{op} with alpha is not supported", None)
        tensors, scalars = [], []
        for i, arg in enumerate(node.args[:2]):
            value = imp.values.get(arg) if isinstance(arg, fx.Node) else _Const(arg)
            if isinstance(value, _Const):
                scalars.append((i, value.value))
            else:
                tensors.append(imp.tensor(arg))
        if scalars and (len(scalars) > 1 or (scalars[0][0] == 0 and not commutative)):
            raise _Unsupported(f"{op} with a number on the left is not supported; write "
                               "it with the tensor first", None)
        attrs = {"other": scalars[0][1]} if scalars else {}
        if scalars and not isinstance(scalars[0][1], (int, float)):
            raise _Unsupported(f"{op} with {scalars[0][1]!r}", None)
        return op, attrs, tensors
    return rule


def _merge(op: str):
    def rule(imp: _Importer, node: fx.Node):
        bound = _bind(node, ["tensors", "dim"], {"dim": 0})
        return op, {"dim": imp.const(bound["dim"])} if bound["dim"] else {}, [
            imp.tensor(t) for t in bound["tensors"]]
    return rule


def _matmul(imp: _Importer, node: fx.Node):
    return "matmul", {}, [imp.tensor(a) for a in node.args[:2]]


def _sizes(key: str, op: str):
    def rule(imp: _Importer, node: fx.Node):
        bound = _bind(node, ["input", "*" + key], {})
        return op, {key: [int(v) for v in imp.const(bound[key])]}, [imp.tensor(bound["input"])]
    return rule


def _reduce(op: str):
    def rule(imp: _Importer, node: fx.Node):
        bound = _bind(node, ["input", "dim", "keepdim"], {"dim": None, "keepdim": False})
        dim = _plain(imp.const(bound["dim"]))
        attrs = {}
        if dim is not None:
            attrs["dim"] = dim
        if imp.const(bound["keepdim"]):
            attrs["keepdim"] = True
        return op, attrs, [imp.tensor(bound["input"])]
    return rule


_ACT_NAMES = {"relu": "ReLU", "relu6": "ReLU6", "sigmoid": "Sigmoid", "tanh": "Tanh",
              "silu": "SiLU", "gelu": "GELU", "hardswish": "Hardswish",
              "hardsigmoid": "Hardsigmoid", "mish": "Mish", "elu": "ELU", "selu": "SELU",
              "leaky_relu": "LeakyReLU", "softplus": "Softplus", "logsigmoid": "LogSigmoid"}
_ACT_ARGS = {"gelu": ["input", "approximate"], "elu": ["input", "alpha", "inplace"],
             "leaky_relu": ["input", "negative_slope", "inplace"],
             "softplus": ["input", "beta", "threshold"]}

_FUNCTIONS: dict = {}
_METHODS: dict = {}
for _fname, _op in _ACT_NAMES.items():
    _rule = _simple(_op, _ACT_ARGS.get(_fname, ["input", "inplace"]))
    for _owner in (F, torch):
        if hasattr(_owner, _fname):
            _FUNCTIONS[getattr(_owner, _fname)] = _rule
    _METHODS[_fname] = _rule
for _fname, _op, _commutative in (("add", "add", True), ("sub", "sub", False),
                                  ("mul", "mul", True), ("div", "div", False)):
    _rule = _arith(_op, _commutative)
    _FUNCTIONS[getattr(torch, _fname)] = _rule
    _METHODS[_fname] = _rule
    _METHODS[f"{_fname}_"] = _rule
for _sym, _op, _commutative in ((operator.add, "add", True), (operator.iadd, "add", True),
                                (operator.sub, "sub", False), (operator.isub, "sub", False),
                                (operator.mul, "mul", True), (operator.imul, "mul", True),
                                (operator.truediv, "div", False),
                                (operator.itruediv, "div", False)):
    _FUNCTIONS[_sym] = _arith(_op, _commutative)
_FUNCTIONS.update({
    torch.cat: _merge("cat"), torch.concat: _merge("cat"), torch.stack: _merge("stack"),
    torch.flatten: _simple("flatten", ["input", "start_dim", "end_dim"]),
    torch.reshape: _sizes("shape", "reshape"),
    torch.permute: _sizes("dims", "permute"),
    torch.transpose: _simple("transpose", ["input", "dim0", "dim1"]),
    torch.unsqueeze: _simple("unsqueeze", ["input", "dim"]),
    torch.squeeze: _simple("squeeze", ["input", "dim"]),
    torch.select: _simple("select", ["input", "dim", "index"]),
    torch.matmul: _matmul, operator.matmul: _matmul, torch.bmm: _matmul,
    torch.chunk: _simple("chunk", ["input", "chunks", "dim"]),
    torch.split: _simple("split", ["input", "split_size_or_sections", "dim"]),
    F.softmax: _simple("Softmax", ["input", "dim", "_stacklevel", "dtype"]),
    torch.softmax: _simple("Softmax", ["input", "dim", "dtype"]),
    F.log_softmax: _simple("LogSoftmax", ["input", "dim", "_stacklevel", "dtype"]),
    F.dropout: _simple("Dropout", ["input", "p", "training", "inplace"]),
    F.adaptive_avg_pool1d: _simple("AdaptiveAvgPool1d", ["input", "output_size"]),
    F.adaptive_avg_pool2d: _simple("AdaptiveAvgPool2d", ["input", "output_size"]),
    F.max_pool2d: _simple("MaxPool2d", ["input", "kernel_size", "stride", "padding",
                                        "dilation", "ceil_mode", "return_indices"]),
    F.avg_pool2d: _simple("AvgPool2d", ["input", "kernel_size", "stride", "padding",
                                        "ceil_mode", "count_include_pad", "divisor_override"]),
})
for _name in ("mean", "sum", "amax", "amin"):
    _FUNCTIONS[getattr(torch, _name)] = _reduce(_name)
    _METHODS[_name] = _reduce(_name)
_METHODS.update({
    "flatten": _FUNCTIONS[torch.flatten], "reshape": _sizes("shape", "reshape"),
    "view": _sizes("shape", "view"), "permute": _sizes("dims", "permute"),
    "expand": _sizes("size", "expand"), "transpose": _FUNCTIONS[torch.transpose],
    "unsqueeze": _FUNCTIONS[torch.unsqueeze], "squeeze": _FUNCTIONS[torch.squeeze],
    "select": _FUNCTIONS[torch.select], "matmul": _matmul,
    "chunk": _FUNCTIONS[torch.chunk], "split": _FUNCTIONS[torch.split],
    "softmax": _simple("Softmax", ["input", "dim", "dtype"]),
})
del _fname, _op, _commutative, _rule, _owner, _sym, _name


# -- naming and references ---------------------------------------------------------------

def _fresh(scope: _Scope, base: str) -> str:
    name, n = base, 1
    while name in scope.taken:
        n += 1
        name = f"{base}_{n}"
    scope.taken.add(name)
    return name


def _chain(scope: _Scope | None) -> list[_Scope]:
    out = []
    while scope is not None:
        out.append(scope)
        scope = scope.parent
    return out


def _entry_name(entry) -> str | int:
    """How a sequence refers to one of its entries: its name, or its index."""
    name = entry.name
    return int(name) if name.isdigit() else name


class _Refs:
    """Renders references between spec nodes, relative to the reading scope."""

    def __init__(self):
        self.index: dict = {}  # id(entry) -> index in its scope

    def ref(self, value: _Out, reader: _Scope) -> str | int:
        item = value.item
        if isinstance(item, _InputItem):
            return item.name
        # a block reads what comes from outside through its inputs
        boundary = reader
        while boundary.kind == "sequence" and boundary.parent is not None:
            boundary = boundary.parent
        if boundary.kind == "block" and value in boundary.inputs and not _inside(item,
                                                                                  boundary):
            return boundary.input_names[boundary.inputs.index(value)]
        home = item.scope
        chain = _chain(home)
        common = reader
        while common not in chain:
            if common.kind == "block" or common.parent is None:
                raise _Unsupported("reads a value from outside its block", None)
            common = common.parent
        path_down = list(reversed(chain[:chain.index(common)]))  # common's child … home
        parts: list = []
        for scope in path_down:
            parts.append(_entry_name(scope))
            if scope.output == value:
                return _join_ref(parts)
        item_name = _entry_name(item)
        parts.append(item_name)
        if value.index:
            parts.append(item.output_names[value.index])
        return _join_ref(parts)


def _inside(item, scope: _Scope) -> bool:
    s = getattr(item, "scope", None)
    while s is not None:
        if s is scope:
            return True
        s = s.parent
    return False


def _join_ref(parts: list):
    if len(parts) == 1:
        return parts[0]
    return ".".join(str(p) for p in parts)


# -- blocks: group instances, find their params -------------------------------------------

@dataclass
class _Block:
    name: str
    body: dict  # the block's definition (params, inputs, layers, output)
    signature: str


_META_KEYS = ("name", "op", "block", "from", "layers", "if", "repeat", "inputs", "output")


def _positions(entries: list, prefix=()) -> list:
    """(position, value) for every param-able value of a body: op and block arguments."""
    out = []
    for index, entry in enumerate(entries):
        for key, value in entry.items():
            if key == "layers":
                out += _positions(value, prefix + (index, "layers"))
            elif key not in _META_KEYS:
                out.append((prefix + (index, key), value))
    return out


def _signature(entries: list) -> str:
    """The layout of a body: names, ops, blocks and wiring, without argument values."""
    def strip(e):
        return {k: [strip(x) for x in v] if k == "layers" else v for k, v in e.items()
                if k in _META_KEYS}
    return repr([strip(e) for e in entries])


def _set_at(entries: list, position: tuple, value) -> None:
    target = entries
    for part in position[:-1]:
        target = target[part]
    target[position[-1]] = value


def _get_at(entries: list, position: tuple):
    target = entries
    for part in position:
        target = target[part]
    return target


class _Writer:
    """Turns the scope tree into spec dicts; groups block instances into blocks."""

    def __init__(self, importer: _Importer):
        self.imp = importer
        self.refs = _Refs()
        self.blocks: dict[str, _Block] = {}  # block name → definition
        self.block_order: list[str] = []
        self.instances: dict[str, list[_Scope]] = {}
        self.outputs: list[_Out] = []  # what the model's forward returns

    # names of functional items: only those read by something other than the next item
    def name_items(self, scope: _Scope) -> None:
        readers: dict = {}
        self._collect_readers(scope, readers)
        self._assign(scope, readers)

    def _collect_readers(self, scope: _Scope, readers: dict) -> None:
        previous = None
        for entry in scope.items:
            if isinstance(entry, _Scope):
                for value in entry.inputs:
                    readers.setdefault(id(value.item), set()).add(("scope", id(entry)))
                self._collect_readers(entry, readers)
                previous = entry
                continue
            for value in entry.inputs:
                follows = len(entry.inputs) == 1 and previous is not None and \
                    value.item is previous and value.index == 0
                if not follows:
                    readers.setdefault(id(value.item), set()).add(("far", id(entry)))
            previous = entry

    def _assign(self, scope: _Scope, readers: dict) -> None:
        for entry in scope.items:
            if isinstance(entry, _Scope):
                self._assign(entry, readers)
            elif not entry.named_by_module and (id(entry) in readers or entry.output_names
                                                != ("out",) or self._is_output(entry)):
                entry.name = _fresh(scope, entry.op.lower())
            elif not entry.named_by_module:
                entry.name = ""

    def _is_output(self, item) -> bool:
        if any(s.output is not None and s.output.item is item and s.kind == "block"
               and s.items and s.items[-1] is not item for s in self.imp.scopes.values()):
            return True
        return any(isinstance(v, _Out) and v.item is item for v in self.outputs)

    # entries -------------------------------------------------------------------------
    def entries(self, scope: _Scope, start=None) -> list:
        out = []
        previous = scope.inputs[0] if scope.kind == "block" and scope.inputs else start
        position = 0
        for entry in scope.items:
            if isinstance(entry, _Scope):
                spec = self.scope_entry(entry, scope, previous)
                previous = entry.output
            else:
                spec = self.item_entry(entry, scope, previous)
                previous = _Out(entry, 0)
            if (isinstance(entry, _Scope) or entry.named_by_module) and "name" not in spec \
                    and entry.name != str(position):
                # a digit name off its index ("0" after "1a"): any string names a module
                spec = {"name": entry.name, **spec}
            position += 1
            out.append(spec)
        # an unnamed entry takes its index as its name: one named so elsewhere would clash
        indexes = {str(index) for index, spec in enumerate(out) if "name" not in spec}
        for spec in out:
            if spec.get("name") in indexes:
                raise _Unsupported(f"'{spec['name']}' would not keep its index in the spec "
                                   "(something runs between the container's items)", None)
        return out

    def _from(self, inputs: list, reader: _Scope, previous) -> dict:
        if len(inputs) == 1 and previous is not None and inputs[0] == previous:
            return {}
        if not inputs:
            return {}
        refs = [self.refs.ref(v, reader) for v in inputs]
        return {"from": refs[0] if len(refs) == 1 else refs}

    def item_entry(self, item: _Item, scope: _Scope, previous) -> dict:
        entry: dict = {}
        if item.name and not item.name.isdigit():
            entry["name"] = item.name
        entry["op"] = item.op
        entry.update(self._from(item.inputs, scope, previous))
        entry.update(item.attrs)
        return entry

    def scope_entry(self, scope: _Scope, parent: _Scope, previous) -> dict:
        entry: dict = {}
        if not scope.name.isdigit():
            entry["name"] = scope.name
        if scope.kind == "sequence":
            first_inputs = _first_external_inputs(scope)
            entry.update(self._from(first_inputs, parent, previous))
            entry["layers"] = self.entries(scope, first_inputs[0] if first_inputs else previous)
            return entry
        block = self.block_for(scope)
        entry["block"] = block.name
        entry.update(self._from(scope.inputs, parent, previous))
        entry.update(scope.params)
        return entry

    # blocks ----------------------------------------------------------------------------
    def block_for(self, scope: _Scope) -> _Block:
        if scope.block is None:
            self.define_blocks(scope.cls)
        assert scope.block is not None  # define_blocks gives every instance of cls its block
        return scope.block

    def define_blocks(self, cls: str) -> None:
        group = [s for s in self.imp.scopes.values() if s.kind == "block" and s.cls == cls]
        bodies = [(s, self.body(s)) for s in group]
        variants: dict[str, list] = {}
        for scope, body in bodies:
            variants.setdefault(_signature(body["layers"]), []).append((scope, body))
        ordered = sorted(variants.values(), key=lambda v: -len(_positions(v[0][1]["layers"])))
        merged = _merge_optional(ordered)
        for n, members in enumerate(merged):
            name = _fresh_block_name(cls or "Block", self.blocks, n)
            block = _parametrise(name, members, self.default_of)
            self.blocks[name] = block
            self.block_order.append(name)
            for scope, _ in members:
                scope.block = block

    def default_of(self, entry: dict, key: str):
        if "op" in entry:
            param = all_ops()[entry["op"]].param(key)
            return None if param is None or param.default is REQUIRED else param.default
        block = next((b for b in self.blocks.values() if b.name == entry.get("block")), None)
        return block.body.get("params", {}).get(key) if block else None

    def body(self, scope: _Scope) -> dict:
        body: dict = {}
        if scope.input_names != ["x"]:
            body["inputs"] = list(scope.input_names)
        body["layers"] = self.entries(scope)
        last = scope.items[-1] if scope.items else None
        last_out = last.output if isinstance(last, _Scope) else _Out(last, 0) if last else None
        if scope.output is not None and scope.output != last_out:
            body["output"] = self.refs.ref(scope.output, scope)
        return body


def _first_external_inputs(scope: _Scope) -> list:
    for entry in scope.items:
        inputs = entry.inputs if not isinstance(entry, _Scope) else entry.inputs
        if isinstance(entry, _Scope) and entry.kind == "sequence":
            inputs = _first_external_inputs(entry)
        outside = [v for v in inputs if not _inside(v.item, scope)]
        if outside:
            return outside[:1]
        if inputs:
            return []
    return []


def _fresh_block_name(base: str, taken: dict, n: int) -> str:
    base = re.sub(r"\W", "_", base) or "Block"
    name = base if n == 0 else f"{base}{n + 1}"
    while name in taken:
        name += "_"
    return name


def _merge_optional(variants: list) -> list:
    """Variants that differ only by absent named entries (a `downsample` that is None)
    become one: the template's extra entries get `if: $name`. Returns groups of
    (scope, body) whose body all share the template's layout (absent entries removed)."""
    groups: list[list] = []
    for members in variants:
        for group in groups:
            template = group[0][1]
            optional = _optional_match(template["layers"], members[0][1]["layers"])
            if optional is not None:
                group.extend((s, dict(b, _absent=optional)) for s, b in members)
                break
        else:
            groups.append(list(members))
    return groups


def _optional_match(template: list, other: list):
    names = {e.get("name") for e in other}
    extra = [e.get("name") for e in template if e.get("name") not in names]
    if not extra or any(n is None for n in extra) or len(template) - len(extra) != len(other):
        return None
    replaced = {}
    for entry in template:
        if entry.get("name") in extra:
            source = entry.get("from")
            if not isinstance(source, (str, int)):
                return None
            replaced[entry["name"]] = source
    reduced = []
    for entry in template:
        if entry.get("name") in extra:
            continue
        entry = dict(entry)
        if "from" in entry:
            refs = entry["from"] if isinstance(entry["from"], list) else [entry["from"]]
            refs = [replaced.get(r, r) for r in refs]
            entry["from"] = refs if isinstance(entry["from"], list) else refs[0]
        reduced.append(entry)
    if _signature(reduced) != _signature(other):
        return None
    return extra


def _parametrise(name: str, members: list, default_of) -> _Block:
    """One block for instances of one layout: values that differ become params.
    ``default_of(entry, key)`` is the value an entry has when it does not write ``key``."""
    template = members[0][1]
    layers = _copy(template["layers"])
    template_names = [e.get("name") for e in layers]
    positions: list = []
    for _, body in members:  # every argument any instance writes, in template coordinates
        kept = [i for i, n in enumerate(template_names) if n not in (body.get("_absent") or [])]
        for position, _ in _positions(body["layers"]):
            mapped = (kept[position[0]],) + position[1:]
            if mapped not in positions:
                positions.append(mapped)
    vectors = []
    for position in positions:
        vector = []
        for _, body in members:
            absent = body.get("_absent") or []
            if template_names[position[0]] in absent:
                vector.append(_ABSENT)
                continue
            entry = _get_at(body["layers"], _index_without(position[:-1], template_names,
                                                           absent))
            key = position[-1]
            vector.append(entry[key] if key in entry else default_of(entry, key))
        vectors.append(vector)
    params: dict = {}  # param name → (vector)
    assigned: dict = {}
    for position, vector in zip(positions, vectors):
        present = [v for v in vector if v is not _ABSENT]
        if len(members) < 2 or all(_same(v, present[0]) for v in present):
            continue
        key = position[-1]
        target = None
        for pname, pvector in params.items():
            if _compatible(pvector, vector) and assigned[pname] == key:
                target = pname
                break
        scaled = None
        if target is None:
            for pname, pvector in params.items():
                factor = _factor(pvector, vector)
                if factor:
                    scaled = f"${{{pname} * {factor}}}"
                    break
        if scaled is not None:
            _set_at(layers, position, scaled)
            continue
        if target is None:
            target = key if key not in params else f"{_entry_label(layers, position)}_{key}"
            while target in params:
                target += "_"
            params[target] = list(vector)
            assigned[target] = key
        else:
            params[target] = [a if a is not _ABSENT else b for a, b in zip(params[target],
                                                                           vector)]
        _set_at(layers, position, f"${target}")
    flags = []
    for _, body in members:
        for absent in body.get("_absent") or []:
            if absent not in flags:
                flags.append(absent)
    for flag in flags:
        pname = flag if flag not in params else f"has_{flag}"
        params[pname] = [flag not in (body.get("_absent") or []) for _, body in members]
        layers[template_names.index(flag)]["if"] = f"${pname}"
    defaults = {}
    for pname, vector in params.items():
        present = [v for v in vector if v is not _ABSENT]
        defaults[pname] = _most_common(present)
    for (scope, _), column in zip(members, zip(*params.values()) if params else
                                  [()] * len(members)):
        scope.params = {pname: value for pname, value in zip(params, column)
                        if value is not _ABSENT and not _same(value, defaults[pname])}
    body = {}
    if params:
        body["params"] = defaults
    for key in ("inputs",):
        if key in template:
            body[key] = template[key]
    body["layers"] = _reorder(layers)
    if "output" in template:
        body["output"] = template["output"]
    return _Block(name, body, _signature(layers))


_ABSENT = object()


def _index_without(position: tuple, names: list, absent: list) -> tuple:
    shift = sum(1 for n in names[:position[0]] if n in absent)
    return (position[0] - shift,) + position[1:]


def _entry_label(layers: list, position: tuple) -> str:
    entry = _get_at(layers, position[:-1])
    return str(entry.get("name") or entry.get("op") or entry.get("block") or position[0])


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _compatible(a: list, b: list) -> bool:
    return all(x is _ABSENT or y is _ABSENT or _same(x, y) for x, y in zip(a, b))


def _factor(a: list, b: list) -> int | None:
    """k when b == k·a for every instance (Bottleneck: conv3 = 4 × planes)."""
    factor = None
    for x, y in zip(a, b):
        if x is _ABSENT or y is _ABSENT:
            continue
        if not (isinstance(x, int) and isinstance(y, int)) or isinstance(x, bool) or \
                isinstance(y, bool) or x <= 0 or y % x:
            return None
        if factor is None:
            factor = y // x
        elif factor != y // x:
            return None
    return factor if factor and factor > 1 else None


def _most_common(values: list):
    counts: list = []
    for v in values:
        for entry in counts:
            if _same(entry[0], v):
                entry[1] += 1
                break
        else:
            counts.append([v, 1])
    return max(counts, key=lambda e: e[1])[0] if counts else None


def _copy(value):
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def _reorder(layers: list) -> list:
    """Key order people read: name, op/block/layers, if, from, then arguments."""
    out = []
    for entry in layers:
        ordered = {k: entry[k] for k in ("name", "op", "block", "if", "from") if k in entry}
        ordered.update({k: v for k, v in entry.items() if k not in ordered and k != "layers"})
        if "layers" in entry:
            ordered["layers"] = _reorder(entry["layers"])
        out.append(ordered)
    return out


# -- the whole spec ----------------------------------------------------------------------------

def _repeat_runs(entries: list) -> list:
    """A sequence made only of identical instances of one block → one `repeat`."""
    for entry in entries:
        if "layers" in entry:
            entry["layers"] = _repeat_runs(entry["layers"])
            inner = entry["layers"]
            if len(inner) > 1 and all(set(e) - {"from"} and "block" in e and "name" not in e
                                      and "from" not in e for e in inner) and \
                    all(e == inner[0] for e in inner):
                del entry["layers"]
                entry.update(inner[0])
                entry["repeat"] = len(inner)
    return entries


def _blocks_in_use_order(layers: list, blocks: dict, order: list) -> None:
    """Blocks in the order they are first used, each after the blocks it uses."""
    for entry in layers:
        if "layers" in entry:
            _blocks_in_use_order(entry["layers"], blocks, order)
        name = entry.get("block")
        if name and name not in order:
            _blocks_in_use_order(blocks[name].body["layers"], blocks, order)
            order.append(name)


def spec_document(importer: _Importer, root: _Scope, placeholders: list, name: str) -> dict:
    writer = _Writer(importer)
    output = importer.output
    outputs = output if isinstance(output, (tuple, list)) else [output]
    if isinstance(output, dict):
        outputs = list(output.values())
    returned = [importer.values.get(o) for o in outputs]
    writer.outputs = [v for v in returned if isinstance(v, _Out)]
    if len(writer.outputs) != len(returned):
        raise ImportFailed([ImportProblem("", "forward() returns something other than "
                                          "tensors", "return a tensor, a tuple or a dict of "
                                          "tensors")])
    writer.name_items(root)
    try:
        layers = writer.entries(root, importer.input_values[0] if importer.input_values
                                else None)
    except _Unsupported as exc:
        raise ImportFailed([ImportProblem("", str(exc), exc.hint)]) from None
    doc: dict = {"specc": 1, "name": name, "inputs": {}}
    for placeholder in placeholders:
        tensor = importer.inputs[placeholder]
        spec: dict = {"shape": list(tensor.shape)}
        dtype = str(tensor.dtype).replace("torch.", "")
        if dtype != "float32":
            spec["dtype"] = dtype
        doc["inputs"][placeholder] = spec
    layers = _repeat_runs(_reorder(layers))
    order: list = []
    _blocks_in_use_order(layers, writer.blocks, order)
    if order:
        doc["blocks"] = {n: writer.blocks[n].body for n in order}
    if not layers:
        # forward returns its input unchanged (nn.Identity, an empty Sequential): a spec
        # needs at least one layer, and an Identity is what the module computes
        if len(writer.outputs) == 1 and not isinstance(output, dict):
            doc["layers"] = [{"op": "Identity"}]
            return doc
    doc["layers"] = layers
    last = root.items[-1] if root.items else None
    last_out = last.output if isinstance(last, _Scope) else \
        _Out(last, 0) if last is not None else None
    refs = [writer.refs.ref(v, root) for v in writer.outputs]
    if isinstance(output, dict):
        doc["outputs"] = dict(zip(output, refs))
    elif isinstance(output, (tuple, list)) or writer.outputs[0] != last_out:
        doc["outputs"] = [str(r) for r in refs]
    return doc


# -- YAML --------------------------------------------------------------------------------------

_PLAIN = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_.]*")
_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"}


def _scalar(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        return text if any(c in text for c in ".en") else text + ".0"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    import json

    return json.dumps(text)


def _flow(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_scalar(k)}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return _scalar(value)


def _layers_yaml(layers: list, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for entry in layers:
        if "layers" in entry:
            head = {k: v for k, v in entry.items() if k != "layers"}
            first = True
            for key, value in head.items():
                lines.append(f"{pad}{'- ' if first else '  '}{_scalar(key)}: {_flow(value)}")
                first = False
            lines.append(f"{pad}{'- ' if first else '  '}layers:")
            lines += _layers_yaml(entry["layers"], indent + 4)
        else:
            lines.append(f"{pad}- {_flow(entry)}")
    return lines


def to_yaml(doc: dict, header: str = "") -> str:
    lines = [header] if header else []
    for key, value in doc.items():
        if key == "layers":
            lines.append("layers:")
            lines += _layers_yaml(value, 2)
        elif key == "inputs":
            lines.append("inputs:")
            lines += [f"  {_scalar(k)}: {_flow(v)}" for k, v in value.items()]
        elif key == "blocks":
            lines.append("blocks:")
            for block, body in value.items():
                lines.append(f"  {_scalar(block)}:")
                for part, content in body.items():
                    if part == "layers":
                        lines.append("    layers:")
                        lines += _layers_yaml(content, 6)
                    else:
                        lines.append(f"    {part}: {_flow(content)}")
        else:
            lines.append(f"{key}: {_flow(value)}")
    return "\n".join(lines) + "\n"


# -- entry points -----------------------------------------------------------------------------

def from_module(module: nn.Module, example_inputs, name: str | None = None) -> str:
    """The spec (YAML text) of ``module``, traced with ``example_inputs`` (a tensor, a tuple of
    tensors in forward's order, or a dict name → tensor).

    The result is checked before it is returned: it passes ``specc check`` and builds a
    module with the same ``state_dict`` keys and shapes. Raises :class:`ImportFailed` with
    located problems otherwise."""
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    if not isinstance(example_inputs, dict):
        params = list(inspect.signature(module.forward).parameters)
        example_inputs = dict(zip(params, example_inputs))
    importer = _Importer(module, dict(example_inputs))
    was_training = module.training
    module.eval()  # trace what inference runs; dropout and batch-norm modes are not ops
    try:
        graph = importer.trace()
        root, placeholders = importer.convert(graph)
        if importer.problems:
            raise ImportFailed(importer.problems)
        doc = spec_document(importer, root, placeholders,
                            name or _snake(type(module).__name__))
    finally:
        module.train(was_training)
    header = "# generated by `specc import`; module names are the original's state_dict keys"
    text = to_yaml(doc, header)
    _verify(module, text)
    return text


def _verify(module: nn.Module, text: str) -> None:
    """What import writes must check, and build the module's exact state_dict layout."""
    import specc
    from specc.compile.build import build_module

    analysis = specc.check(text, lint=False)
    errors = [d for d in analysis.diagnostics if d.severity == "error"]
    if errors:
        raise ImportFailed([ImportProblem(d.node or "", f"the generated spec does not check: "
                                          f"{d.code} {d.message}", d.hint) for d in errors])
    built = build_module(analysis.graph, device="meta")
    want = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in built.state_dict().items()}
    if want != got:
        missing = sorted(set(want) - set(got))
        extra = sorted(set(got) - set(want))
        wrong = sorted(k for k in set(want) & set(got) if want[k] != got[k])
        problems = [ImportProblem(k.rpartition(".")[0], f"state_dict key '{k}' {what}",
                                  "is the module used in forward()? only modules that run "
                                  "become part of the spec")
                    for keys, what in ((missing, "is missing from the spec"),
                                       (extra, "is not in the original"),
                                       (wrong, "has another shape in the spec"))
                    for k in keys[:10]]
        raise ImportFailed(problems)


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", text).lower()
    return re.sub(r"\W", "_", text) or "model"


__all__ = ["from_module", "ImportFailed", "ImportProblem", "module_attrs"]
