"""Measure with torch what :mod:`specc.analyses.memory` predicts (imports torch; used by
the oracle tests and the README's "will it fit" benchmark, never by ``check``).

- saved activations: run a training forward under ``saved_tensors_hooks`` and add up
  the unique storages autograd keeps (parameters and buffers excluded: they are counted
  as such); blocks run under ``torch.utils.checkpoint`` keep their inputs instead.
- optimizer state: take one real step and add up ``optimizer.state``.
- inference peak: record every aten op's input and output storages in order
  (TorchDispatchMode) and replay their lifetimes: a storage is live from the op that
  creates it to the last op that reads it.
"""
from __future__ import annotations


def example_inputs(graph, dims: dict, dtype, seed: int = 0, device: str = "cpu"):
    """Inputs of the inferred shapes: floats in ``dtype`` (positive, so that ReLUs pass
    gradients), token ids in range, every sequence at full length (what the static
    analysis assumes). On the meta device (sizes without data) only the floats move
    there."""
    import torch

    from specc.analyses.memory import concrete

    generator = torch.Generator().manual_seed(seed)
    inputs = []
    for node in graph.inputs:
        t = node.out_types[0]
        shape = [concrete(d, dims, f"the size of {node.id}") for d in t.shape]
        if t.is_float:
            inputs.append(torch.empty(shape, dtype=dtype, device="meta") if device == "meta"
                          else torch.rand(shape, generator=generator).to(dtype))
        elif len(shape) == 1:  # lengths
            longest = max(int(dims.get("T", 1)), 1)
            inputs.append(torch.full(shape, longest, dtype=torch.int64))
        else:
            inputs.append(torch.zeros(shape, dtype=getattr(torch, t.dtype)))
    return inputs


def saved_bytes(model, inputs, checkpointed=()) -> int:
    """Bytes of the unique storages autograd keeps after a training forward."""
    import torch

    # storages are told apart by their StorageImpl (alive while saved), which also
    # works on the meta device, where every data pointer is 0
    skip = {t.untyped_storage()._cdata for t in list(model.parameters())
            + list(model.buffers())}
    kept: dict = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage._cdata not in skip and storage.nbytes():
            kept[storage._cdata] = storage.nbytes()
        return tensor

    def keep_inputs(_module, args):
        for value in args:
            if isinstance(value, torch.Tensor):
                pack(value)

    handles = [m.register_forward_pre_hook(keep_inputs) for m in checkpointed]
    model.train()
    try:
        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            out = model(*inputs)
    finally:
        for handle in handles:
            handle.remove()
    del out
    return sum(kept.values())


def optimizer_state_bytes(model, optimizer: str, amp: bool = False) -> dict:
    """One real optimizer step; the bytes of parameters, gradients and optimizer state
    (with ``amp``, fp32 master copies of the parameters are the optimizer's params)."""
    import torch

    params = [p for p in model.parameters()]
    for p in params:
        p.grad = torch.ones_like(p)
    targets = params
    if amp:
        targets = [p.detach().float().requires_grad_() for p in params]
        for master, p in zip(targets, params):
            master.grad = p.grad.float()
    kind = {"sgd": lambda ps: torch.optim.SGD(ps, lr=0.1),
            "sgd-momentum": lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9),
            "adam": lambda ps: torch.optim.Adam(ps), "adamw": lambda ps: torch.optim.AdamW(ps)}
    opt = kind[optimizer](targets)
    opt.step()
    state = sum(value.numel() * value.element_size() for s in opt.state.values()
                for value in s.values() if isinstance(value, torch.Tensor))
    if amp:
        state += sum(t.numel() * t.element_size() for t in targets)
    return {"parameters_bytes": sum(p.numel() * p.element_size() for p in params),
            "gradients_bytes": sum(p.grad.numel() * p.grad.element_size() for p in params),
            "optimizer_bytes": state,
            "buffers_bytes": sum(b.numel() * b.element_size() for b in model.buffers())}


def inference_peak_bytes(model, inputs) -> int:
    """Peak of live activation storages in an eval forward under no_grad, from the real
    sequence of aten ops (parameters and buffers excluded)."""
    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils._pytree import tree_flatten

    skip = {t.untyped_storage()._cdata for t in list(model.parameters())
            + list(model.buffers())}
    events: list = []  # per op: (read storages, written storages)
    sizes: dict = {}

    def storages(values):
        found = []
        for v in tree_flatten(values)[0]:
            if isinstance(v, torch.Tensor):
                s = v.untyped_storage()
                if s._cdata not in skip and s.nbytes():
                    sizes[s._cdata] = max(sizes.get(s._cdata, 0), s.nbytes())
                    found.append(s._cdata)
        return found

    alive: list = []

    class Recorder(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            events.append((storages((args, kwargs)), storages(out)))
            alive.append(out)
            return out

    model.eval()
    for value in inputs:
        storages(value)
    with torch.no_grad(), Recorder():
        out = model(*inputs)
    # lifetimes: inputs and outputs are live from start to end (the caller holds them).
    # `alive` keeps every tensor referenced while recording, so no StorageImpl is freed
    # and reused: its address names one storage (on the meta device too).
    first, last = {}, {}
    for value in inputs:
        for address in storages(value):
            first[address] = -1
    for step, (read, written) in enumerate(events):
        for address in read + written:
            first.setdefault(address, step)
            last[address] = step
    for address in storages(out) + [a for v in inputs for a in storages(v)]:
        last[address] = len(events)
    delta = [0] * (len(events) + 3)
    for key, start in first.items():
        delta[start + 1] += sizes[key]
        delta[last.get(key, start) + 2] -= sizes[key]
    live = peak = 0
    for change in delta:
        live += change
        peak = max(peak, live)
    return peak
