"""specc: declarative model specs for PyTorch — validate, infer shapes, lint, build, render.

The static API (load, check) never imports torch; build() does.
"""
__version__ = "0.1.0"


def check(source, *, dims=None, path=None, lint=True, config=None, vars=None):
    """Analyse a spec (file path, YAML text or bytes, or dict) → :class:`specc.analysis.Analysis`;
    its ``totals`` are the numbers under the CLI's table. ``vars`` overrides the spec's
    ``vars:`` (only declared ones).

    Every problem with the spec, its file or its size is a diagnostic in the result, never
    an exception; only a ``source`` of an unsupported type (None, a number…) raises
    TypeError. ``vars`` replaces values of the spec's top-level vars (e.g. a Hugging Face
    config's dict); keys the spec does not declare are ignored and listed in
    ``.ignored_vars``."""
    from specc.analysis import analyse, analyse_path, is_spec_path

    if is_spec_path(source):
        return analyse_path(str(source), dims=dims, lint=lint, config=config, vars=vars)
    return analyse(source, path=path, dims=dims, lint=lint, config=config, vars=vars)


def load(source, *, dims=None, path=None, vars=None):
    """The analysed graph IR of a spec; raises SpecError when the spec has errors."""
    from specc.errors import SpecError

    analysis = check(source, dims=dims, path=path, lint=False, vars=vars)
    if not analysis.ok:
        raise SpecError([d for d in analysis.diagnostics if d.severity == "error"])
    return analysis.graph


def build(source, *, device="cpu", dtype=None, dims=None, max_params=None, weights=None,
          vars=None):
    """Build the spec into an ``nn.Module`` (imports torch).

    ``vars``: values for the spec's ``vars:`` (e.g. ``{"hidden": 512}``).
    ``weights``: a ``.safetensors`` file or a torch.save'd state_dict, loaded strictly.
    Raises :class:`specc.errors.SpecError` for an invalid spec and
    :class:`specc.errors.BuildError` (``DeviceError``, ``DtypeError``, ``WeightsError``) when
    the module cannot be made here — e.g. ``device="cuda"`` on a machine without a GPU, or a
    ``dtype`` other than float32, float16, bfloat16, float64 (names or torch dtypes)."""
    from specc.compile.build import build_module, load_weights

    model = build_module(load(source, dims=dims, vars=vars), device=device, dtype=dtype,
                         max_params=max_params)
    if weights is not None:
        load_weights(model, weights)
    return model


def materialize(module, device="cpu", *, init=True):
    """Allocate a module built with ``device="meta"`` and initialise it as a direct build
    would (see :mod:`specc.parallel`)."""
    from specc.parallel import materialize as _materialize

    return _materialize(module, device, init=init)


def parallelize(module, mesh=None, **plan):
    """FSDP2 / activation checkpointing / per-block compile / tensor parallelism per block
    instance of the spec, with torch's own APIs (see :mod:`specc.parallel`)."""
    from specc.parallel import parallelize as _parallelize

    return _parallelize(module, mesh, **plan)


def render(source, **options):
    """A ``graphviz.Digraph`` of the spec (no torch)."""
    from specc.diagram import render_graph

    return render_graph(check(source, dims=options.pop("dims", None)), **options)


def from_module(module, example_inputs, *, name=None) -> str:
    """A spec (YAML text) for an existing ``nn.Module``, traced with torch.fx on
    ``example_inputs`` (a tensor, a tuple in forward's order, or a dict name → tensor).
    Raises :class:`specc.importer.ImportFailed` naming the module path of what cannot be
    written. Imports torch."""
    from specc.importer import from_module as _from_module

    return _from_module(module, example_inputs, name=name)


__all__ = ["__version__", "check", "load", "build", "render", "materialize", "parallelize",
           "from_module"]
