"""Stage 6b — build: run the generated source and construct the module with torch."""
from __future__ import annotations

import contextlib
import linecache

from specc.compile.codegen import generate
from specc.errors import Diagnostic, SpecError
from specc.infer import totals
from specc.ir import Graph

DEFAULT_MAX_PARAMS = 2_000_000_000
_counter = [0]


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
    """exec the generated module source; register it with linecache for tracebacks."""
    _counter[0] += 1
    filename = f"<specc-generated {name} #{_counter[0]}>"
    linecache.cache[filename] = (len(text), None, text.splitlines(True), filename)
    namespace: dict = {"__name__": f"specc_generated_{_counter[0]}", **(extra or {})}
    exec(compile(text, filename, "exec"), namespace)  # our own generated code, not the spec's
    return namespace


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
    import torch

    if str(device) != "meta":  # a meta build allocates nothing: no budget to protect
        check_size(graph, max_params)
    source = generate(graph, trace=recorder is not None, float_dtype=_dtype_name(dtype))
    namespace = load_source(source.text, graph.name, {"_specc_record": recorder})
    with torch.device(device), _skipping_init(str(device) == "meta"):
        model = namespace["build_model"]()
    if dtype is not None:
        model = model.to(dtype=getattr(torch, dtype) if isinstance(dtype, str) else dtype)
    model.specc_source = source.text
    model.specc_line_owner = source.line_owner
    model.specc_graph = graph
    return model
