""""Will it fit?": the memory, FLOPs and receptive-field answers `specc check --memory`
prints, gathered for one analysed graph (no torch)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from specc.analyses.memory import (
    MemoryAnalysisError,
    MemoryReport,
    analyse_memory,
    largest_batch,
)
from specc.dims import Sym
from specc.ir import Graph

if TYPE_CHECKING:
    from specc.analyses.flops import Flops


@dataclass
class FitRequest:
    dtype: str = "float32"
    optimizer: str = "adamw"
    amp: bool = False
    device_memory: int | None = None  # bytes
    device: str = "cuda"  # whose kernels' saves rules to follow (see SaveCtx.device)


@dataclass
class Fit:
    request: FitRequest
    report: MemoryReport | None = None
    error: str | None = None
    batch: dict = field(default_factory=dict)  # the batch binding the numbers are for
    per_sample: bool = False  # the spec's batch is symbolic: numbers are for batch 1
    # searched when the batch is symbolic and a device size is given; a searched None
    # means any batch fits: the total does not grow with the batch
    batch_searched: bool = False
    largest_batch_train: int | None = None
    largest_batch_inference: int | None = None
    flops: Flops | None = None
    fields: dict = field(default_factory=dict)

    @property
    def fits_train(self) -> bool | None:
        if self.report is None or self.request.device_memory is None:
            return None
        return self.report.total_train_bytes <= self.request.device_memory

    @property
    def fits_inference(self) -> bool | None:
        if self.report is None or self.request.device_memory is None:
            return None
        return self.report.total_inference_bytes <= self.request.device_memory

    def to_json(self) -> dict:
        if self.report is None:
            return {"error": self.error}
        out = self.report.to_json()
        out["batch"] = self.batch
        if self.request.device_memory is not None:
            out["device_memory_bytes"] = self.request.device_memory
            out["fits_train"] = self.fits_train
            out["fits_inference"] = self.fits_inference
        if self.batch_searched:  # null: any batch fits (the total does not grow with it)
            out["largest_batch_train"] = self.largest_batch_train
            out["largest_batch_inference"] = self.largest_batch_inference
        out["largest_activations"] = [
            {"node": n.node_id, "op": n.op, "activation_bytes": n.activation_bytes}
            for n in self.report.largest(5)]
        if self.flops is not None:
            out["flops"] = self.flops.to_json()
        return out


def _symbolic(graph: Graph) -> set:
    names: set = set()
    for node in graph.inputs + graph.nodes:
        for t in node.out_types or []:
            for d in t.shape:
                if isinstance(d, Sym):
                    names |= d.symbols()
    return names


def will_it_fit(graph: Graph, request: FitRequest) -> Fit:
    """Memory for one training step and one inference pass at the spec's batch (batch 1
    per sample when it is symbolic, plus the largest batch that fits the device)."""
    from specc.analyses.flops import count_flops
    from specc.analyses.receptive_field import receptive_fields

    fit = Fit(request)
    fit.fields = receptive_fields(graph)
    fit.flops = count_flops(graph)
    unbound = _symbolic(graph)
    others = unbound - set(graph.batch_symbols)
    options: dict[str, Any] = {"dtype": request.dtype, "optimizer": request.optimizer,
                               "amp": request.amp, "device": request.device}
    if others:
        fit.error = (f"sizes depend on {', '.join(sorted(others))}: bind "
                     f"{'them' if len(others) > 1 else 'it'} with --dim SYM=VALUE")
        return fit
    env = {s: 1 for s in unbound}
    fit.batch, fit.per_sample = env, bool(unbound)
    fit.flops = fit.flops.bound(env)
    try:
        fit.report = analyse_memory(graph, env=env, **options)
        if unbound and request.device_memory is not None:
            fit.largest_batch_train = largest_batch(graph, request.device_memory, **options)
            fit.largest_batch_inference = largest_batch(graph, request.device_memory,
                                                        train=False, **options)
            fit.batch_searched = True
    except MemoryAnalysisError as exc:
        fit.error = str(exc)
    return fit


def human_bytes(value: int) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if value >= size:
            return f"{value / size:,.1f} {unit}"
    return f"{value} B"


def human_flops(value) -> str:
    if not isinstance(value, (int, float)):
        return str(value)
    for unit, size in (("PFLOP", 1e15), ("TFLOP", 1e12), ("GFLOP", 1e9), ("MFLOP", 1e6)):
        if value >= size:
            return f"{value / size:,.2f} {unit}"
    return f"{value:,} FLOP"


def fit_lines(fit: Fit) -> list[str]:
    """The memory section of the `full` table."""
    r = fit.request
    head = (f"Memory ({r.dtype}{' with fp32 master weights' if r.amp else ''}, {r.optimizer}"
            + (", CPU kernels" if r.device == "cpu" else "")
            + (", per sample: batch " + ", ".join(f"{k}=1" for k in fit.batch) if fit.per_sample
               else "") + ")")
    if fit.report is None:
        return [head, f"  cannot estimate: {fit.error}"]
    m = fit.report
    lines = [head,
             (f"  parameters {human_bytes(m.parameters_bytes)}   gradients "
             f"{human_bytes(m.gradients_bytes)}   optimizer {human_bytes(m.optimizer_bytes)}   "
             f"buffers {human_bytes(m.buffers_bytes)}"),
             f"  activations kept for backward {human_bytes(m.activations_train_bytes)}; "
             f"inference peak {human_bytes(m.activations_inference_peak_bytes)}"
             + (f" (at {m.peak_node})" if m.peak_node else "")]
    largest = ", ".join(f"{n.node_id} {human_bytes(n.activation_bytes)}" for n in m.largest(3))
    if largest:
        lines.append(f"  largest activations: {largest}")
    budget = r.device_memory
    for what, total, fits in (("training", m.total_train_bytes, fit.fits_train),
                              ("inference", m.total_inference_bytes, fit.fits_inference)):
        verdict = ""
        if fits is not None and budget is not None:
            verdict = (f" — fits in {human_bytes(budget)}" if fits else
                       f" — does NOT fit in {human_bytes(budget)}")
        lines.append(f"  {what} total {human_bytes(total)}{verdict}")
    if fit.batch_searched and budget is not None:
        lines.append(_largest_batch_line(fit, budget))
    if m.undeclared:
        lines.append(f"  note: {', '.join(sorted(set(m.undeclared)))} declare no saved-tensor "
                     "rule; assumed to save their inputs")
    if fit.flops is not None and fit.flops.forward:
        lines.append(f"  FLOPs forward {human_flops(fit.flops.forward)}, training step "
                     f"{human_flops(fit.flops.train)} (1 MAC = 2 FLOPs)")
    return lines


def _largest_batch_line(fit: Fit, budget: int) -> str:
    """How far the batch can grow; "any" where the total does not grow with the batch."""
    counts = [(what, count) for what, count in (("training", fit.largest_batch_train),
                                                ("inference", fit.largest_batch_inference))]
    line = f"  largest batch that fits in {human_bytes(budget)}: " + ", ".join(
        f"{what} {'any' if count is None else f'{count:,}'}" for what, count in counts)
    flat = [what for what, count in counts if count is None]
    if flat:
        line += (f" (the {' and '.join(flat)} total{'s do' if len(flat) > 1 else ' does'} "
                 f"not grow with the batch {', '.join(sorted(fit.batch))})")
    return line
