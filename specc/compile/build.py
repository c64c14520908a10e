"""Stage 6b — build: run the generated source and construct the module with torch."""
from __future__ import annotations

import contextlib
import hashlib
import linecache
import re
import sys
import types
import warnings
from typing import Any

from specc.compile.codegen import generate
from specc.dims import substitute
from specc.errors import BuildError, DeviceError, Diagnostic, SpecError, WeightsError
from specc.infer import totals
from specc.ir import Graph

DEFAULT_MAX_PARAMS = 2_000_000_000
_counter = [0]
# Built modules' classes live in modules of this (virtual) package, one per generated source,
# registered in sys.modules under the source's hash: pickling a built model records the
# source, and unpickling (any process with specc installed) re-creates the same module.
GENERATED_PACKAGE = "specc_generated"


def import_torch():
    """torch, imported without its "Failed to initialize NumPy" warning: specc's build path
    never converts to or from NumPy, so a machine without NumPy loses nothing."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
        import torch
    return torch


def check_device(device) -> None:
    """Raise :class:`specc.errors.DeviceError` (a BuildError) when ``device`` cannot be used
    here, with the same words the CLI prints, instead of torch's bare AssertionError."""
    torch = import_torch()
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError) as exc:
        raise DeviceError(f"invalid device {device!r}: {exc}") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"device {device!r}: no CUDA GPU is available on this machine")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceError(f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s)")
    if dev.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceError(f"device {device!r}: MPS is not available on this machine")


def check_size(graph: Graph, max_params: int | None) -> int:
    """Refuse, before allocating anything, a model over the parameter budget."""
    limit = DEFAULT_MAX_PARAMS if max_params is None else max_params
    count = totals(graph)["params"]
    if count > limit:
        biggest = max(graph.nodes, key=lambda n: n.params)
        raise SpecError(Diagnostic(
            "E004", f"the model has {count:,} parameters ({count * 4 / 2**30:,.1f} GiB in "
            f"float32), over --max-params {limit:,}; the largest layer is {biggest.id} "
            f"({biggest.op}, {biggest.params:,})", "error", biggest.loc, biggest.id,
            "check the sizes in the spec, or raise --max-params"))
    return count


def load_source(text: str, name: str, extra: dict | None = None) -> dict:
    """exec the generated module source; register it with linecache for tracebacks.

    Without ``extra`` the module is shared: registered in sys.modules under the hash of its
    source, its classes made picklable (see :func:`_reduce_generated`)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    modname = f"{GENERATED_PACKAGE}.{re.sub(r'[^0-9A-Za-z_]', '_', name)}_{digest}"
    if extra is None and modname in sys.modules:
        return sys.modules[modname].__dict__
    _counter[0] += 1
    if extra is not None:  # a traced build: its own module, never shared
        modname = f"{modname}_{_counter[0]}"
    filename = f"<specc-generated {name} #{_counter[0]}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    module = types.ModuleType(modname)
    module.__dict__.update(extra or {})
    exec(compile(text, filename, "exec"), module.__dict__)  # our own generated code
    if extra is None:
        for value in list(module.__dict__.values()):
            if isinstance(value, type) and value.__module__ == modname:
                # a class the generated code defined: it learns its source, and pickles by it
                generated: Any = value
                generated._specc_source = (text, name)
                generated.__reduce_ex__ = _reduce_generated
        sys.modules[modname] = module
    return module.__dict__


def _reduce_generated(self, _protocol):
    """pickle / torch.save / copy.deepcopy of a built module: the class is named by its
    generated source (re-created on load) instead of by a module path that only exists
    in the process that built it. The analysed graph is not pickled (it is a build-time
    record; ``specc.build`` again if you need it)."""
    state = {k: v for k, v in self.__dict__.items() if k != "specc_graph"}
    text, name = type(self)._specc_source
    return _restore_generated, (text, name, type(self).__qualname__), state


def _restore_generated(text: str, name: str, qualname: str):
    cls = load_source(text, name)[qualname]
    return cls.__new__(cls)


def _dtype_name(dtype) -> str | None:
    """"bfloat16" for "bfloat16" or torch.bfloat16."""
    return None if dtype is None else str(dtype).replace("torch.", "")


@contextlib.contextmanager
def _skipping_init(skip: bool):
    """On ``meta`` there are no values to initialise: make torch.nn.init's in-place
    initialisers no-ops while modules are constructed (what transformers' no_init_weights
    does), so a 70B meta build pays for module objects only. specc.materialize runs the
    real initialisation later, on the real device."""
    if not skip:
        yield
        return
    import torch.nn.init as init

    names = [n for n in dir(init) if n.endswith("_") and not n.startswith("_")
             and callable(getattr(init, n))]
    saved = {n: getattr(init, n) for n in names}
    try:
        for name in names:
            setattr(init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)


def build_module(graph: Graph, device="cpu", dtype=None, max_params: int | None = None,
                 recorder=None):
    """Construct the model. ``recorder(node_id, outputs)``, when given, is called with
    every node's outputs during forward (the differential tests use it)."""
    torch = import_torch()

    check_device(device)
    if str(device) != "meta":  # a meta build allocates nothing: no budget to protect
        check_size(graph, max_params)
    source = generate(graph, trace=recorder is not None, float_dtype=_dtype_name(dtype))
    namespace = load_source(source.text, graph.name,
                            None if recorder is None else {"_specc_record": recorder})
    with torch.device(device), _skipping_init(str(device) == "meta"):
        model = namespace["build_model"]()
    if dtype is not None:
        model = model.to(dtype=getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    model.specc_source = source.text
    model.specc_line_owner = source.line_owner
    model.specc_graph = graph
    model.register_forward_pre_hook(InputCheck(graph))
    return model


class InputShapeError(BuildError, ValueError):
    """A built module was called with inputs that do not match the spec's ``inputs:``."""


class InputCheck:
    """Forward pre-hook of a built model: each input's rank, fixed sizes, symbol bindings
    (the same N in every input) and kind of dtype against the spec, so a wrong input fails
    here with the spec's words instead of deep inside a layer. Picklable (a plain object);
    skipped while torch.export / torch.compile trace, where sizes are symbolic."""

    def __init__(self, graph: Graph):
        self.inputs = [(n.id, tuple(n.out_types[0].shape), n.out_types[0].is_float,
                        n.loc.line) for n in graph.inputs if n.out_types]

    def __call__(self, _module, args):
        import torch

        if torch.compiler.is_compiling() or getattr(torch.compiler, "is_exporting", bool)():
            return None
        bound: dict = {}
        for (name, shape, is_float, line), value in zip(self.inputs, args):
            if not isinstance(value, torch.Tensor):
                continue
            got = tuple(value.shape)
            where = f"input '{name}' (spec line {line})" if line else f"input '{name}'"
            declared = "[" + ", ".join(map(str, shape)) + "]"
            if len(got) != len(shape):
                raise InputShapeError(f"{where} has shape {list(got)}, but the spec declares "
                                      f"{declared}: {len(shape)} dims, not {len(got)}")
            for axis, (want, size) in enumerate(zip(shape, got)):
                if not isinstance(want, int):
                    names = want.symbols()
                    if len(names) == 1 and str(want) == next(iter(names)):
                        want = bound.setdefault(str(want), size)
                    elif all(n in bound for n in names):
                        want = substitute(want, bound)
                    else:
                        continue
                if want != size:
                    raise InputShapeError(
                        f"{where} has shape {list(got)}, but the spec declares {declared}: "
                        f"dim {axis} is {size}, expected {want}")
            if value.is_floating_point() != is_float:
                kind = "a floating-point" if is_float else "an integer"
                raise InputShapeError(f"{where} has dtype {value.dtype}, but the spec "
                                      f"declares {kind} tensor")
        return None


def _state_shapes(state: dict) -> dict:
    return {k: list(v.shape) for k, v in state.items()}


def save_weights(model, path: str) -> None:
    """The state_dict to ``path``: safetensors (no pickle) for ``*.safetensors``, else
    torch.save. Tensors shared between parameters (tied weights) are written once."""
    if str(path).endswith(".safetensors"):
        save_model = _safetensors().save_model
        save_model(model, path)
    else:
        torch = import_torch()
        # through a file object: given a path, torch names the archive's records after the
        # file's stem, and atomic_write's temporary `.specc-XXXX` (the target had no
        # extension) has none, which torch refuses as an invalid file name
        with open(path, "wb") as out:
            torch.save(model.state_dict(), out)


def load_weights(model, path: str) -> None:
    """Load ``path`` (safetensors or a torch.save'd state_dict) into ``model`` strictly:
    every key present, none extra, every shape equal — else :class:`WeightsError` naming them."""
    from specc.diff import compare_state_dicts

    torch = import_torch()
    device = next((t.device for t in model.state_dict().values()), torch.device("cpu"))
    target = "cpu" if device.type == "meta" else str(device)
    try:
        if str(path).endswith(".safetensors"):
            state = _safetensors().load_file(path, device=target)
        else:
            state = torch.load(path, map_location=target, weights_only=True)
    except (OSError, RuntimeError, ValueError) as exc:
        raise WeightsError(f"cannot read weights {path}: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state_dict (found {type(state).__name__})")
    expected = model.state_dict()
    aliases = _tied_aliases(model)  # safetensors writes each shared tensor once
    for key, twin in aliases.items():
        if key not in state and twin in state:
            state[key] = state[twin]
    compat = compare_state_dicts(_state_shapes(state), _state_shapes(expected),
                                 metadata=getattr(state, "_metadata", None))
    if not compat["loads"]:
        parts = [f"{len(keys)} {what}: {', '.join(keys[:8])}{' …' if len(keys) > 8 else ''}"
                 for what, keys in (("missing", compat["missing"]),
                                    ("unexpected", compat["unexpected"])) if keys]
        parts += [f"{k} is {a} in the file, {b} in the model"
                  for k, (a, b) in list(compat["shape_mismatch"].items())[:8]]
        raise WeightsError(f"weights {path} do not fit the model (strict): " + "; ".join(parts))
    model.load_state_dict(state, strict=True, assign=device.type == "meta")


def _tied_aliases(model) -> dict:
    """state_dict key -> another key holding the very same tensor (tied weights)."""
    seen: dict = {}
    aliases: dict = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        ident = (tensor.data_ptr(), tensor.device, tuple(tensor.shape)) \
            if tensor.device.type != "meta" else id(tensor)
        if ident in seen:
            aliases[key] = seen[ident]
        else:
            seen[ident] = key
    return aliases


def _safetensors():
    try:
        import safetensors.torch
    except ImportError:
        raise BuildError("safetensors is not installed: pip install 'specc[safetensors]'") from None
    return safetensors.torch
