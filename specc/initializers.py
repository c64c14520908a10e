"""`init:` — the initialisers a spec may name, declared once, and their check.

The schema (method names and options), the expander (each entry as written), the check after
inference (each entry against the tensors of the layer it applies to) and the compiler
(torch.nn.init calls in the generated code) all read :data:`METHODS`. tests/test_init.py holds
the table against torch.nn.init: every option is an argument of its function, every entry
`check` accepts builds and gives the values torch gives, every entry it refuses torch refuses.

An entry is one of
  ``kaiming_normal``                   a method for the layer's **weight only** (a Linear's or
  ``{method: normal, std: 0.01}``      conv's bias keeps torch's default); ``method`` defaults
                                       to ``normal``
  ``{weight: …, bias: …}``             each tensor by name, each in one of the forms above
  ``default``                          torch's own initialisation (overrides a per-op-type entry)
On a ``parameter`` node, the weight is the learned tensor itself. Never imports torch.
"""
from __future__ import annotations

import math

from specc.errors import Diagnostic
from specc.ir import Graph, Node
from specc.values import Value


class Method(Value):
    """One torch.nn.init initialiser as a spec names it."""

    __slots__ = ("torch_fn", "options", "min_rank", "torch_names", "required")
    torch_fn: str  # the torch.nn.init function
    options: tuple[str, ...]  # spec option names, in torch's argument order
    # torch refuses tensors of fewer dims: fan-in and fan-out (kaiming, xavier) and the QR
    # decomposition (orthogonal) need a matrix, so none of them applies to a bias
    min_rank: int
    torch_names: dict  # spec option -> torch argument
    required: tuple[str, ...]  # options torch has no default for

    def __init__(self, torch_fn: str, options: tuple[str, ...] = (), min_rank: int = 0,
                 torch_names: dict | None = None, required: tuple[str, ...] = ()):
        self._set_fields(
            torch_fn,
            options,
            min_rank,
            {} if torch_names is None else torch_names,
            required,
        )


METHODS: dict[str, Method] = {
    "kaiming_normal": Method("kaiming_normal_", ("a", "mode", "nonlinearity"), 2),
    "kaiming_uniform": Method("kaiming_uniform_", ("a", "mode", "nonlinearity"), 2),
    "xavier_normal": Method("xavier_normal_", ("gain",), 2),
    "xavier_uniform": Method("xavier_uniform_", ("gain",), 2),
    "normal": Method("normal_", ("mean", "std")),
    "uniform": Method("uniform_", ("a", "b")),
    "zeros": Method("zeros_"),
    "ones": Method("ones_"),
    "constant": Method("constant_", ("value",), torch_names={"value": "val"},
                       required=("value",)),
    "orthogonal": Method("orthogonal_", ("gain",), 2),
}
DEFAULT = "default"  # torch's own initialisation: no call
IMPLICIT_METHOD = "normal"  # of a mapping without `method:`
TENSORS = ("weight", "bias")  # the tensors an entry can name
NUMBER_OPTIONS = ("a", "b", "mean", "std", "gain", "value")
MODES = ("fan_in", "fan_out")
# torch.nn.init.calculate_gain's names (anything else is a ValueError when the model builds)
NONLINEARITIES = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d", "sigmoid", "tanh", "relu",
                  "leaky_relu", "selu")
# Options are finite and at most this large: every method then stays within float32 (a
# uniform bound of 1e300 is "out of bounds for float", a kaiming `a` of 1e300 overflows
# when squared), and a larger initial value is never meant.
OPTION_LIMIT = 1e30


class InitEntryError(ValueError):
    """An entry that is not an initialiser; ``path`` is the key chain to point at
    (("weight", "std") for the std of the weight's entry); ``code`` E104 for an option's
    value, E106 for the entry itself."""

    def __init__(self, message: str, path: tuple = (), code: str = "E106"):
        super().__init__(message)
        self.path, self.code = path, code


def parse(entry) -> dict[str, tuple[str, dict]]:
    """An entry → {tensor name: (method, options)}; {} for none or ``default``."""
    if entry is None:
        return {}
    if isinstance(entry, dict) and any(t in entry for t in TENSORS):
        others = [k for k in entry if k not in TENSORS]
        if others:
            raise InitEntryError(f"an entry names its tensors ({', '.join(TENSORS)}) or "
                                 f"gives one method, not both: '{others[0]}' is not a tensor "
                                 "name", (others[0],))
        out = {}
        for tensor in TENSORS:
            if tensor in entry:
                call = _method(entry[tensor], (tensor,))
                if call is not None:
                    out[tensor] = call
        return out
    call = _method(entry, ())
    return {} if call is None else {"weight": call}


def _method(entry, path: tuple) -> tuple[str, dict] | None:
    """One method with its options, or None for ``default``."""
    if isinstance(entry, str):
        name, options, at = entry, {}, path
    elif isinstance(entry, dict):
        name, at = entry.get("method", IMPLICIT_METHOD), path + ("method",)
        options = {k: v for k, v in entry.items() if k != "method"}
        for key in options:
            if key in TENSORS:
                raise InitEntryError(f"'{key}' inside a tensor's entry: name the tensors at "
                                     "the top of the init entry", path + (key,))
    else:
        raise InitEntryError(f"an entry is a method name or a mapping, got {entry!r}",
                             path)
    if name == DEFAULT:
        if options:
            raise InitEntryError(f"default (torch's own initialisation) takes no options, "
                                 f"not '{next(iter(options))}'", path + (next(iter(options)),))
        return None
    if not isinstance(name, str) or name not in METHODS:
        raise InitEntryError(f"unknown method {name!r} (methods: "
                             f"{', '.join(METHODS)}, {DEFAULT})", at)
    method = METHODS[name]
    for key, value in options.items():
        if key not in method.options:
            takes = ", ".join(method.options) or "no options"
            implied = " (a mapping without `method:` is normal)" if "method" not in entry else ""
            raise InitEntryError(f"{name} takes {takes}, not '{key}'{implied}",
                                 path + (key,))
        problem = _option_problem(key, value)
        if problem:
            raise InitEntryError(f"{name}: {key} {problem}", path + (key,), "E104")
    missing = [k for k in method.required if k not in options]
    if missing:
        raise InitEntryError(f"{name} needs {', '.join(missing)} (e.g. {{method: {name}, "
                             f"{missing[0]}: 0.5}})", path)
    rule = _RANGE_RULES.get(name)
    broken = rule(options) if rule else None
    if broken:
        key, problem = broken
        raise InitEntryError(f"{name}: {problem}", path + (key,), "E104")
    return name, options


def _option_problem(key: str, value) -> str | None:
    if key == "mode":
        return None if value in MODES else f"must be one of {', '.join(MODES)}, got {value!r}"
    if key == "nonlinearity":
        return None if value in NONLINEARITIES else (
            f"must be one of torch's {', '.join(NONLINEARITIES)}, got {value!r}")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"must be a number, got {value!r}"
    if not math.isfinite(value) or abs(value) > OPTION_LIMIT:
        return f"must be a finite number of magnitude at most {OPTION_LIMIT:g}, got {value!r}"
    return None


def _std(o: dict):
    if o.get("std", 1.0) < 0:
        return "std", f"std must be >= 0 (torch's normal_ refuses a negative std), got {o['std']}"
    return None


def _range(o: dict):
    a, b = o.get("a", 0.0), o.get("b", 1.0)
    return ("a", f"a must be <= b (the range is [a, b)), got a={a}, b={b}") if a > b else None


def _gain(o: dict):
    if o.get("gain", 1.0) < 0:
        return "gain", (f"gain must be >= 0 (it scales a standard deviation or a bound), "
                        f"got {o['gain']}")
    return None


# What torch refuses when the layer is initialised, decided by the options alone:
# method -> options -> (the option to point at, why) or None.
_RANGE_RULES = {"normal": _std, "uniform": _range, "xavier_normal": _gain,
                "xavier_uniform": _gain}


def sets_zeros(method: str, options: dict) -> bool:
    """Whether a method with these options fills a tensor with zeros (`zeros`, a constant
    0, a normal or uniform of zero width at 0): lint's L311 looks for such weights."""
    if method == "zeros":
        return True
    if method == "constant":
        return options["value"] == 0
    if method == "normal":
        return options.get("mean", 0.0) == 0 and options.get("std", 1.0) == 0
    if method == "uniform":
        return options.get("a", 0.0) == 0 and options.get("b", 1.0) == 0
    return False


def tensor_problem(method: str, tensor: str, shape: tuple) -> str | None:
    """Why torch cannot apply ``method`` to a tensor of this shape (None: it can)."""
    need = METHODS[method].min_rank
    if len(shape) < need:
        return (f"{method} needs a tensor of {need} or more dims (torch computes "
                + ("a QR decomposition" if method == "orthogonal" else "fan-in and fan-out")
                + f"), but {tensor} is {len(shape)}-D {list(shape)}")
    if method.startswith("xavier") and all(isinstance(d, int) for d in shape):
        field_size = math.prod(shape[2:])
        if (shape[0] + shape[1]) * field_size == 0:
            return (f"{method} divides by fan-in + fan-out, which is 0 for {tensor} of shape "
                    f"{list(shape)}")
    return None


def check_inits(graph: Graph) -> list[Diagnostic]:
    """Every node's `init:` (its own or its op type's) against the tensors the layer has.
    Runs after inference, when inferred sizes (in_features, normalized_shape) are known."""
    from specc.ops.base import get_op

    problems = []
    for node in graph.nodes:
        if node.init is None or node.broken or node.out_types is None:
            continue
        op = get_op(node.op)
        try:
            entries = parse(node.init)
        except InitEntryError:  # reported where the entry was read
            continue
        if op is None or not entries:
            continue
        tensors = op.tensors(node.attrs) if op.kind in ("module", "parameter") else {}
        for tensor, (method, _options) in entries.items():
            message, hint = _applies(node, op, tensors, tensor, method)
            if message:
                loc = node.attr_locs.get(f"init.{tensor}", node.attr_locs.get("init", node.loc))
                problems.append(Diagnostic("E106", message, "error", loc, node.id, hint))
    return problems


def _applies(node: Node, op, tensors: dict, tensor: str, method: str):
    """(message, hint) when ``init`` cannot set ``tensor`` of ``node`` with ``method``."""
    label = f"{node.id} ({node.op})"
    if tensor not in tensors:
        has = f"it has {' and '.join(tensors)}" if tensors else \
            "it has no weight or bias of its own for init: to set"
        off = [f"{p}: false" for p in ("bias", "affine", "elementwise_affine")
               if node.attrs.get(p) is False]
        why = f" ({', '.join(off)})" if off else ""
        return f"init sets a {tensor}, but {label} has no {tensor}{why}", has
    if tensor == "weight" and node.tie is not None:
        return (f"init sets the weight of {label}, but its weight is tied to '{node.tie}' "
                "(tie: replaces it after init)", f"initialise '{node.tie}' instead")
    name = node.id if op.kind == "parameter" else f"{node.id}.{tensor}"
    problem = tensor_problem(method, name, tuple(tensors[tensor]))
    if problem:
        return problem, "kaiming, xavier and orthogonal are for weight matrices and kernels; " \
                        "a bias or a norm's weight takes zeros, ones, constant or normal"
    return None, None
