"""torch.export with the spec's symbolic dims made dynamic where torch allows it.

Every symbolic dim of an input is exported as ``Dim.AUTO``: dynamic unless the traced code
needs one value (an ``nn.LSTM`` is unrolled for one sequence length). Such a
specialisation is not silent: :func:`export_with_report` returns a located warning per
specialised symbol that names the node whose code forced it, read off the call stack of the
guard torch adds. A model torch.export cannot trace at all (packing by data-dependent
lengths) is a located error naming the node, not a traceback.
"""
from __future__ import annotations

import logging
import re
import traceback
from warnings import catch_warnings, filterwarnings

from specc.dims import Sym
from specc.errors import Diagnostic, Loc, SpecError
from specc.ir import Graph, Node
from specc.tensor import TensorType

EXAMPLE_SIZE = 4  # example value for a symbol (2 and 1 get specialised by export)
MAX_EXAMPLE_BYTES = 1 << 30  # example inputs are real tensors: bound them before allocating
_GENERATED = "<specc-generated"  # how specc.compile.build names the generated source
_SHAPES_LOGGER = "torch.fx.experimental.symbolic_shapes"  # logs each guard it adds
_RECURRENT = ("LSTM", "GRU", "RNN")  # with a second input they pack the batch by lengths
# torch.export warns that an nn.LSTM/GRU/RNN "assigned" its _flat_weights during export:
# they are the module's own parameters, which its forward lists again on every call, so
# the program is right. Only a warning naming nothing but such attributes is silenced.
_RNN_FLAT_WEIGHTS = (r"The tensor attributes (self\.[\w.]*_flat_weights\[\d+\](, )?)+ "
                     r"were assigned during export")


def _input_type(node: Node) -> TensorType:
    """The declared type of a model input (the expander types every input it keeps)."""
    assert node.out_types is not None, node.id
    return node.out_types[0]


def symbol_values(graph: Graph, dims: dict | None = None) -> dict:
    """Example value of every symbol in the inputs' shapes: --dim's, else EXAMPLE_SIZE."""
    dims = dims or {}
    values: dict = {}
    for node in graph.inputs:
        for d in _input_type(node).shape:
            if isinstance(d, Sym):
                for symbol in d.symbols():
                    values.setdefault(symbol, dims.get(symbol, EXAMPLE_SIZE))
    return values


def example_input_problem(graph: Graph, dims: dict | None = None) -> str | None:
    """Why the example inputs of --export cannot be allocated, before anything is."""
    values = symbol_values(graph, dims)
    total = 0
    for node in graph.inputs:
        numel = 1
        for d in _input_type(node).shape:
            numel *= d if isinstance(d, int) else d.substitute(values)
        total += numel * 8  # the widest dtype; a bound, not an estimate
    if total > MAX_EXAMPLE_BYTES:
        return (f"--export traces the model on example inputs of the declared sizes, which "
                f"would take over {MAX_EXAMPLE_BYTES >> 20} MiB; declare symbolic sizes (N, H) "
                "or bind smaller ones with --dim")
    return None


def example_inputs(graph: Graph, dims: dict | None = None, device="cpu", dtype=None):
    import torch

    values = symbol_values(graph, dims)
    tensors = []
    for node in graph.inputs:
        t = _input_type(node)
        shape = [d if isinstance(d, int) else d.substitute(values) for d in t.shape]
        if t.is_float:
            tensors.append(torch.randn(shape, device=device,
                                       dtype=dtype or getattr(torch, t.dtype)))
        else:
            tensors.append(torch.zeros(shape, device=device, dtype=getattr(torch, t.dtype)))
    return tuple(tensors)


def dynamic_shapes(graph: Graph):
    """Dim.AUTO for every symbolic axis (a derived size such as 8*h included)."""
    from torch.export import Dim

    return tuple({axis: Dim.AUTO for axis, d in enumerate(_input_type(node).shape)
                  if isinstance(d, Sym)} or None for node in graph.inputs)


class _GuardStacks(logging.Handler):
    """Records, for each guard torch adds while tracing, the generated lines on the stack."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.guards: list[tuple[str, list[int]]] = []  # (message, generated line numbers)

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if "[guard added]" not in message and "set_replacement" not in message:
            return
        lines = [f.lineno for f in traceback.extract_stack()
                 if f.filename.startswith(_GENERATED) and f.lineno is not None]
        if lines:
            self.guards.append((message, lines))


def generated_path(model, lines: list[int]) -> str:
    """The node a stack of generated lines was computing: its attributes, outermost first."""
    owners = getattr(model, "specc_line_owner", {})
    return ".".join(owners[line] for line in lines if line in owners)


def spec_location(graph: Graph, path: str) -> tuple[Loc, str | None]:
    """(the spec location of the node or block instance at ``path``, the path); the first
    input's location where ``path`` names neither."""
    node = graph.node(path) if path else None
    if node is not None:
        return node.loc, path
    for scope in graph.root.walk_scopes():
        if path and scope.path == path:
            return scope.loc, path
    return (graph.inputs[0].loc if graph.inputs else Loc()), path or None


def generated_lines(stack_trace: str) -> list[int]:
    """The generated source's lines in a stack trace as torch's node meta records it."""
    return [int(line) for line in re.findall(
        rf'File "{re.escape(_GENERATED)}[^"]*", line (\d+)', stack_trace or "")]


def located_export_error(exc: BaseException, model, graph: Graph, exporter: str) -> SpecError:
    """E401 at the spec node whose generated forward line was running when ``exporter``
    failed (the innermost cause of a wrapped exception: torch.onnx wraps torch.export's)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [f.lineno for f in traceback.extract_tb(exc.__traceback__)
             if f.filename.startswith(_GENERATED) and f.lineno is not None]
    loc, path = spec_location(graph, generated_path(model, lines))
    culprit = graph.node(path) if path else None
    packs = culprit is not None and culprit.op in _RECURRENT and len(culprit.inputs) > 1
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip()  # the exporters colour their text
    first = (text.splitlines() or [type(exc).__name__])[0][:300]
    return SpecError(Diagnostic(
        "E401", f"{exporter} cannot trace the model{' at ' + path if path else ''}: "
        f"{type(exc).__name__}: {first}", "error", loc, path,
        "packing a batch by its lengths (pack_padded_sequence) depends on the values "
        "of the lengths input, which torch.export cannot trace; export the model "
        "without the lengths input" if packs else None))


def export_with_report(model, graph: Graph, dims: dict | None = None, device="cpu",
                       dtype=None):
    """(ExportedProgram, warnings). Raises SpecError (E401) when torch.export fails.

    Float example inputs take ``dtype`` (the weights' dtype under --dtype), so the program
    is traced, and runs, on inputs that match its weights."""
    import torch

    inputs = example_inputs(graph, dims, device, dtype)
    logger = logging.getLogger(_SHAPES_LOGGER)
    recorder = _GuardStacks()
    saved = (logger.level, logger.handlers[:], logger.propagate)
    logger.handlers, logger.propagate = [recorder], False  # record, do not print
    logger.setLevel(logging.INFO)
    try:
        with catch_warnings():
            filterwarnings("ignore", message=_RNN_FLAT_WEIGHTS, category=UserWarning)
            program = torch.export.export(model.eval(), inputs,
                                          dynamic_shapes=dynamic_shapes(graph))
    except Exception as exc:  # torch raises many kinds; each becomes one located error
        raise located_export_error(exc, model, graph, "torch.export") from None
    finally:
        logger.handlers, logger.propagate = saved[1], saved[2]
        logger.setLevel(saved[0])
    return program, _specialised(program, graph, model, recorder.guards, inputs)


def _specialised(program, graph: Graph, model, guards, inputs) -> list[Diagnostic]:
    """A warning per symbol torch fixed to its example value, naming the node that did it."""
    placeholders = {n.name: n for n in program.graph.find_nodes(op="placeholder")}
    user_inputs = program.graph_signature.user_inputs
    symbols = _torch_symbols(placeholders[user_inputs[0]]) if user_inputs else {}
    warnings, reported = [], set()
    for node, name, example in zip(graph.inputs, user_inputs, inputs):
        traced = placeholders[name].meta["val"].shape
        for axis, d in enumerate(_input_type(node).shape):
            # a specialised size is an int, or a SymInt whose expression is a number
            if not isinstance(d, Sym) or not str(traced[axis]).isdigit() or str(d) in reported:
                continue
            reported.add(str(d))
            value = int(example.shape[axis])
            symbol = symbols.get(f"L['{name}'].size()[{axis}]")
            culprit = next((lines for message, lines in guards if symbol and
                            re.search(rf"\b{symbol}\b", message)), None)
            path = generated_path(model, culprit) if culprit else ""
            forcing = graph.node(path) if path else None
            why = f": {path} ({forcing.op}) is traced for one size" if forcing is not None else ""
            warnings.append(Diagnostic(
                "W401", f"--export: torch.export specialised {d} (dim {axis} of input "
                f"{node.id}) to {value}{why}; the exported program accepts only that size",
                "warning", node.loc, node.id,
                f"pass --dim {d}=SIZE for the size you will run at" if len(d.symbols()) == 1
                else None))
    return warnings


def _torch_symbols(placeholder) -> dict:
    """torch's source name of each input size ("L['x'].size()[1]") -> its symbol ("s38")."""
    try:
        env = placeholder.meta["val"].fake_mode.shape_env
        return {source.name: str(symbol) for symbol, sources in env.var_to_sources.items()
                for source in sources}
    except (AttributeError, KeyError):  # internals of torch; without them no "why", no harm
        return {}


def save_program(program, path: str) -> None:
    """torch.export.save ``program`` to ``path``, through memory.

    Given a file (a path or a file object), torch's archive writer fails on a full disk with
    an error that its destructor raises again, which C++ turns into an abort: exit 134 after
    specc's own message, the temporary file left behind. Into memory it cannot fail that way,
    and the file is then written by Python, whose OSError (ENOSPC) atomic_write reports. The
    price is one more copy of the weights in memory while the file is written."""
    import io

    import torch

    buffer = io.BytesIO()
    torch.export.save(program, buffer)
    with open(path, "wb") as out:
        out.write(buffer.getbuffer())


def export_model(model, graph: Graph, dims: dict | None = None, device="cpu"):
    """The ExportedProgram alone (see export_with_report for the specialisation warnings)."""
    return export_with_report(model, graph, dims, device)[0]
