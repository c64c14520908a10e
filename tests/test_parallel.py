"""specc.parallelize / specc.materialize against torch itself, on CPU with gloo.

Two processes (torch.multiprocessing) run FSDP2 per block instance and the root, with and
without activation checkpointing, and tensor parallelism on a 2-rank mesh; the oracle is
the same model run in one process with plain torch.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import specc  # noqa: E402
from specc.parallel import ParallelizeError, block_units  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TINY_LM = str(ROOT / "tests" / "data" / "specs" / "tiny_lm.yaml")
WORLD = 2


def _batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (4, 8), generator=g)
    targets = torch.randint(0, 64, (4, 8), generator=g)
    return ids, targets


def _loss(model, ids, targets):
    logits = model(ids)
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _reference(state):
    model = specc.build(TINY_LM)
    model.load_state_dict(state)
    ids, targets = _batch()
    loss = _loss(model, ids, targets)
    loss.backward()
    return model, loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _worker(rank, init_file, state_file, out_file, mode):
    from torch.distributed.device_mesh import init_device_mesh

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD)
    try:
        model = specc.build(TINY_LM)
        model.load_state_dict(torch.load(state_file))
        ids, targets = _batch()
        if mode == "tp":
            mesh = init_device_mesh("cpu", (WORLD,), mesh_dim_names=("tp",))
            specc.parallelize(model, mesh, fsdp=False,
                              tp_plan={"up_proj": "colwise", "down_proj": "rowwise"})
            with torch.no_grad():
                logits = model(ids)
            if rank == 0:
                torch.save({"logits": logits}, out_file)
            return
        mesh = init_device_mesh("cpu", (WORLD,))
        specc.parallelize(model, mesh, checkpoint=(mode == "fsdp+checkpoint"))
        half = ids.shape[0] // WORLD
        rows = slice(rank * half, (rank + 1) * half)
        loss = _loss(model, ids[rows], targets[rows])
        loss.backward()
        total = loss.detach().clone()
        dist.all_reduce(total)
        grads = {n: p.grad.full_tensor() for n, p in model.named_parameters()}
        sharded = {n: type(p).__name__ for n, p in model.named_parameters()}
        if rank == 0:
            torch.save({"loss": total.item() / WORLD, "grads": grads, "types": sharded},
                       out_file)
    finally:
        dist.destroy_process_group()


def _run(mode):
    torch.manual_seed(0)
    state = specc.build(TINY_LM).state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        state_file, out_file = os.path.join(tmp, "state.pt"), os.path.join(tmp, "out.pt")
        torch.save(state, state_file)
        mp.spawn(_worker, args=(os.path.join(tmp, "init"), state_file, out_file, mode),
                 nprocs=WORLD, join=True)
        return state, torch.load(out_file)


@pytest.mark.parametrize("mode", ["fsdp", "fsdp+checkpoint"])
def test_fsdp2_step_equals_single_process(mode):
    state, result = _run(mode)
    _, loss, grads = _reference(state)
    assert set(result["types"].values()) == {"DTensor"}  # every parameter really sharded
    assert abs(result["loss"] - loss) < 1e-5
    assert grads.keys() == result["grads"].keys()
    for name, grad in grads.items():
        assert torch.allclose(result["grads"][name], grad, atol=1e-5, rtol=1e-5), name


def test_tensor_parallel_gives_the_same_logits():
    state, result = _run("tp")
    model = specc.build(TINY_LM)
    model.load_state_dict(state)
    with torch.no_grad():
        expected = model(_batch()[0])
    assert torch.allclose(result["logits"], expected, atol=1e-5)


def _saved_bytes(model, ids, targets):
    seen, total = set(), [0]

    def pack(t):
        storage = t.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        if key not in seen:
            seen.add(key)
            total[0] += storage.nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        loss = _loss(model, ids, targets)
    return loss, total[0]


def test_checkpointing_keeps_the_loss_and_saves_less():
    torch.manual_seed(0)
    plain = specc.build(TINY_LM, dims={"T": 8})
    wrapped = specc.build(TINY_LM, dims={"T": 8})
    wrapped.load_state_dict(plain.state_dict())
    specc.parallelize(wrapped, None, fsdp=False, checkpoint=True)
    assert [k for k in wrapped.state_dict()] == [k for k in plain.state_dict()]  # names kept
    ids, targets = _batch()
    loss_a, bytes_a = _saved_bytes(plain, ids, targets)
    loss_b, bytes_b = _saved_bytes(wrapped, ids, targets)
    assert torch.equal(loss_a, loss_b)
    assert bytes_b < bytes_a
    loss_a.backward()
    loss_b.backward()
    for (name, a), b in zip(plain.named_parameters(), wrapped.parameters()):
        assert torch.allclose(a.grad, b.grad, atol=1e-6), name


def test_units_come_from_the_spec():
    graph = specc.load(TINY_LM)
    assert [u.path for u in block_units(graph)] == ["layers.0", "layers.1", "layers.2"]
    assert [u.path for u in block_units(graph, "Layer")] == ["layers.0", "layers.1", "layers.2"]
    assert [u.path for u in block_units(graph, ["layers.*.up_proj"])] == [
        "layers.0.up_proj", "layers.1.up_proj", "layers.2.up_proj"]
    with pytest.raises(ParallelizeError, match="no 'Nope'"):
        block_units(graph, "Nope")
    with pytest.raises(ParallelizeError, match="matches"):
        block_units(graph, ["decoder.*"])


def test_bad_plans_are_clean_errors():
    model = specc.build(TINY_LM)
    with pytest.raises(ParallelizeError, match="'tp' dimension"):
        specc.parallelize(model, None, fsdp=False, tp_plan={"up_proj": "colwise"})
    with pytest.raises(ParallelizeError):
        specc.parallelize(specc.build(TINY_LM), None, units="Nope", fsdp=False)


def _stats(model):
    return {n: (p.float().mean().item(), p.float().std().item() if p.numel() > 1 else 0.0)
            for n, p in model.named_parameters()}


@pytest.mark.parametrize("spec", ["transformer_classifier", "resnet18", "vit_b_16"])
def test_materialize_matches_a_direct_build(spec):
    path = str(ROOT / "specs" / f"{spec}.yaml")
    torch.manual_seed(0)
    direct = specc.build(path)
    meta = specc.build(path, device="meta")
    assert all(p.is_meta for p in meta.parameters())
    specc.materialize(meta, "cpu")
    assert not any(p.is_meta for p in meta.parameters())
    assert [(n, p.shape) for n, p in meta.named_parameters()] == [
        (n, p.shape) for n, p in direct.named_parameters()]
    a, b = _stats(direct), _stats(meta)
    for name, (mean, std) in a.items():
        m2, s2 = b[name]
        if std == 0.0:  # constant init (zeros, ones): exactly the same
            assert (mean, std) == (m2, s2), name
        else:  # random init: the same distribution
            n = dict(direct.named_parameters())[name].numel()
            assert abs(s2 - std) / std < (0.1 if n > 1000 else 0.5), name
    for (name, a_buf), b_buf in zip(direct.named_buffers(), meta.buffers()):
        assert torch.equal(a_buf, b_buf), name  # running stats reset as constructed
