"""Stage 6b — build: run the generated source and construct the module with torch."""
from __future__ import annotations

import contextlib
import hashlib
import inspect
import linecache
import re
import sys
import types
import warnings
from typing import Any

from specc.compile.codegen import generate
from specc.dims import Sym, shape_str, solve_linear, substitute
from specc.errors import BuildError, DeviceError, Diagnostic, DtypeError, SpecError, WeightsError
from specc.infer import totals
from specc.ir import Graph
from specc.tensor import FLOAT_DTYPES

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
    """"bfloat16" for "bfloat16" or torch.bfloat16; :class:`DtypeError` for anything but
    the floating dtypes of the CLI's --dtype (a model's weights are floats: torch refuses
    ``Module.to(torch.int8)``, and a name such as "bf16" is no torch attribute)."""
    if dtype is None:
        return None
    torch = import_torch()
    name = dtype if isinstance(dtype, str) else None
    if isinstance(dtype, torch.dtype):
        name = str(dtype).removeprefix("torch.")
    if name not in FLOAT_DTYPES:
        raise DtypeError(f"invalid dtype {dtype!r}: a model is built in one of "
                         f"{', '.join(FLOAT_DTYPES)} (a name, or torch.{FLOAT_DTYPES[0]} "
                         "and so on)")
    return name


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
    float_dtype = _dtype_name(dtype)
    if str(device) != "meta":  # a meta build allocates nothing: no budget to protect
        check_size(graph, max_params)
    source = generate(graph, trace=recorder is not None, float_dtype=float_dtype)
    namespace = load_source(source.text, graph.name,
                            None if recorder is None else {"_specc_record": recorder})
    with torch.device(device), _skipping_init(str(device) == "meta"):
        model = namespace["build_model"]()
    if float_dtype is not None:
        model = model.to(dtype=getattr(torch, float_dtype))
    model.specc_source = source.text
    model.specc_line_owner = source.line_owner
    model.specc_graph = graph
    params = list(inspect.signature(model.forward).parameters)
    model.register_forward_pre_hook(InputCheck(graph, params), with_kwargs=True)
    return model


class InputShapeError(BuildError, ValueError):
    """A built module was called with inputs that do not match the spec's ``inputs:``."""


class InputCheck:
    """Forward pre-hook of a built model: each input's rank, fixed sizes, symbol bindings
    and kind of dtype against the spec, so a wrong input fails here with the spec's words
    instead of deep inside a layer. Inputs are matched by position or by forward's
    parameter name (a keyword input is checked as a positional one). A symbol is bound by
    the first dim that determines it: a plain ``N``, or a dim linear in one unbound symbol
    (``8*h``: 30 is no multiple of 8, an error here; 32 binds h = 4); every other dim with
    that symbol (in any input) must agree. Picklable (a plain object); skipped while
    torch.export / torch.compile trace, where sizes are symbolic."""

    def __init__(self, graph: Graph, params: list[str] | None = None):
        self.inputs = [(n.id, tuple(n.out_types[0].shape), n.out_types[0].is_float,
                        n.loc.line) for n in graph.inputs if n.out_types]
        # forward's parameter names, in the inputs' order (a name differs from the input's
        # where the input's is no Python identifier)
        self.params = params if params and len(params) == len(self.inputs) else \
            [name for name, *_ in self.inputs]

    def _plan(self) -> list:
        """Per input: its fixed dims, its dims that are one symbol (N) and its other
        symbolic dims (8*h), sorted once: the hook runs on every forward call."""
        plan = self.__dict__.get("_checks")
        if plan is None:  # first call (or a model pickled before there was a plan)
            plan = []
            for name, shape, is_float, line in self.inputs:
                kinds: tuple[list, list, list] = ([], [], [])
                for axis, want in enumerate(shape):
                    plain = isinstance(want, Sym) and str(want) in want.symbols()
                    kinds[0 if isinstance(want, int) else 1 if plain else 2].append(
                        (axis, str(want) if plain else want))
                plan.append((name, shape, is_float, line, *kinds))
            self._checks = plan
        return plan

    def __call__(self, _module, args, kwargs=None):
        import torch

        if torch.compiler.is_compiling() or getattr(torch.compiler, "is_exporting", bool)():
            return None
        if kwargs:
            # pickles of models built before keyword inputs were checked lack self.params
            params = getattr(self, "params", [name for name, *_ in self.inputs])
            args = [args[i] if i < len(args) else kwargs.get(param)
                    for i, param in enumerate(params)]
        bound: dict = {}  # symbol -> (value, the input and dim that bound it)
        undetermined = []  # dims with two unbound symbols (h*w): checked after the others
        for (name, shape, is_float, line, fixed, plain, other), value in zip(self._plan(),
                                                                              args):
            if not isinstance(value, torch.Tensor):
                continue
            got = value.shape
            if len(got) != len(shape):
                raise _input_error(name, line, got, shape, f"{len(shape)} dims, not {len(got)}")
            for axis, want in fixed:
                if got[axis] != want:
                    raise _input_error(name, line, got, shape,
                                       f"dim {axis} is {got[axis]}, expected {want}")
            for axis, symbol in plain:
                seen = bound.setdefault(symbol, (got[axis], name, axis))
                if seen[0] != got[axis]:
                    raise _input_error(name, line, got, shape, f"dim {axis} is {got[axis]}, "
                                       f"expected {seen[0]} ({_origins(bound, [symbol])})")
            for axis, want in other:
                if not _check_dim(want, axis, name, line, got, shape, bound):
                    undetermined.append((want, axis, name, line, got, shape))
            if value.is_floating_point() != is_float:
                kind = "a floating-point" if is_float else "an integer"
                raise InputShapeError(f"{_input_words(name, line)} has dtype {value.dtype}, "
                                      f"but the spec declares {kind} tensor")
        for want, axis, name, line, got, shape in undetermined:  # h*w once h is known
            _check_dim(want, axis, name, line, got, shape, bound)
        return None


def _input_words(name: str, line: int | None) -> str:
    return f"input '{name}' (spec line {line})" if line else f"input '{name}'"


def _input_error(name: str, line: int | None, got, shape, what: str) -> InputShapeError:
    return InputShapeError(f"{_input_words(name, line)} has shape {list(got)}, but the spec "
                           f"declares {shape_str(shape)}: {what}")


def _origins(bound: dict, symbols) -> str:
    """"h = 2 from dim 1 of input 'wide', …": where each symbol got its value."""
    return ", ".join(f"{symbol} = {bound[symbol][0]} from dim {bound[symbol][2]} of input "
                     f"'{bound[symbol][1]}'" for symbol in symbols)


def _check_dim(want: Sym, axis: int, name: str, line: int | None, got, shape,
               bound: dict) -> bool:
    """Check a compound symbolic dim (8*h, h*w), binding its symbol where it determines
    one; False where it cannot be decided yet (two unbound symbols)."""
    size = got[axis]
    known = sorted(symbol for symbol in want.symbols() if symbol in bound)
    value = substitute(want, {symbol: bound[symbol][0] for symbol in known})
    if isinstance(value, int):
        if value != size:
            raise _input_error(name, line, got, shape, f"dim {axis} is {size}, expected "
                               f"{value} ({want} with {_origins(bound, known)})")
        return True
    solution = solve_linear(value, size)
    if solution is None:
        return False
    symbol, whole = solution
    if whole is None:
        given = f" ({value} with {_origins(bound, known)})" if known else ""
        raise _input_error(name, line, got, shape, f"dim {axis} is {size}, which is "
                           f"{want}{given} for no whole {symbol} >= 0")
    bound[symbol] = (whole, name, axis)
    return True


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
    safetensors = str(path).endswith(".safetensors")
    load_safetensors = _safetensors().load_file if safetensors else None  # or BuildError
    try:
        if load_safetensors is not None:
            state = load_safetensors(path, device=target)
        else:
            state = torch.load(path, map_location=target, weights_only=True)
    except OSError as exc:
        raise WeightsError(f"cannot read weights {path}: {exc}") from None
    except Exception as exc:  # a deserialiser fails in its own ways on a file it cannot read
        raise WeightsError(_unreadable(path, exc, safetensors)) from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} does not hold a state_dict (found {type(state).__name__})"
                           f"; {SAVE_HINT}")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise WeightsError(f"{path} is not a state_dict (names to tensors): {key!r} holds "
                               f"{str(value)[:40]} ({type(value).__name__}); {SAVE_HINT}")
    expected = model.state_dict()
    for group in _tie_groups(model):  # safetensors writes each shared tensor once
        present = next((key for key in group if key in state), None)
        for key in group:
            if present is not None and key not in state:
                state[key] = state[present]
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


SAVE_HINT = "save model.state_dict() or use `specc build --save`"
# torch.load(weights_only=True) names the first Python object it refused to unpickle
_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL ([\w.]+)")


def _unreadable(path: str, exc: Exception, safetensors: bool) -> str:
    """Why ``path`` is no weights file, in a line: torch.load's refusal of a pickled module
    is a screenful of advice to unpickle it unsafely, which specc never does."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    refused = _REFUSED_GLOBAL.search(text)
    if refused is not None:
        name = refused.group(1)
        what = ("a whole pickled module (torch.save(model))"
                if name.endswith("._restore_generated") or name.startswith("torch.nn.")
                else f"pickled Python objects ({name}), not only tensors")
        return (f"cannot read weights {path}: it holds {what}, which specc does not "
                f"unpickle (that could run code); {SAVE_HINT}")
    # the reason is the message's last line, above torch.load's pointer to its docs
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.startswith("Check the documentation")]
    reason = f"{type(exc).__name__}: {lines[-1]}"[:200] if lines else type(exc).__name__
    kind = "a safetensors file" if safetensors else "a torch.save'd state_dict"
    return f"cannot read weights {path}: it is not {kind} ({reason})"


def _tie_groups(model) -> list[list[str]]:
    """The state_dict keys that name one tensor (tied weights), a list per tensor named
    more than once: t5's shared embedding is also the encoder's, the decoder's and the
    head's. safetensors keeps one of them, whichever its own rule picks."""
    groups: dict = {}
    for key, tensor in model.state_dict(keep_vars=True).items():
        # on meta (and for empty tensors) there is no storage address: the same object
        ident = (tensor.data_ptr(), tensor.device, tuple(tensor.shape)) \
            if tensor.device.type != "meta" and tensor.numel() else id(tensor)
        groups.setdefault(ident, []).append(key)
    return [keys for keys in groups.values() if len(keys) > 1]


def _safetensors():
    try:
        import safetensors.torch
    except ImportError:
        raise BuildError("safetensors is not installed: pip install 'specc[safetensors]'") from None
    return safetensors.torch
