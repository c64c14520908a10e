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
LLAMA = str(ROOT / "specs" / "llama.yaml")
# a small Llama: grouped-query attention (4 heads, 2 KV heads), rotary, SwiGLU, 3 layers
SMALL = {"vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
         "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64}
WORLD = 2
LLAMA_TP_PLAN = {"q_proj": "colwise", "k_proj": "colwise", "v_proj": "colwise",
                 "o_proj": "rowwise", "gate_proj": "colwise", "up_proj": "colwise",
                 "down_proj": "rowwise"}


def _llama(**kwargs):
    return specc.build(LLAMA, vars=SMALL, **kwargs)


def _batch():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, 64, (4, 8), generator=g)
    targets = torch.randint(0, 64, (4, 8), generator=g)
    return ids, targets


def _loss(model, ids, targets):
    logits = model(ids, torch.ones_like(ids))["logits"]
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def _reference(state):
    model = _llama()
    model.load_state_dict(state)
    ids, targets = _batch()
    loss = _loss(model, ids, targets)
    loss.backward()
    return model, loss.item(), {n: p.grad.clone() for n, p in model.named_parameters()}


def _worker(rank, init_file, state_file, out_file, mode):
    from torch.distributed.device_mesh import init_device_mesh

    import datetime

    # a timeout: a stuck collective fails the test instead of hanging the suite
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD, timeout=datetime.timedelta(seconds=120))
    try:
        model = _llama()
        model.load_state_dict(torch.load(state_file))
        ids, targets = _batch()
        if mode == "tp":
            mesh = init_device_mesh("cpu", (WORLD,), mesh_dim_names=("tp",))
            specc.parallelize(model, mesh, fsdp=False, tp_plan=LLAMA_TP_PLAN)
            with torch.no_grad():
                result = {"logits": model(ids, torch.ones_like(ids))["logits"]}
        elif mode == "fsdp+tp":  # a 2-D mesh: FSDP2 over dp (size 1), TP over tp (size 2)
            mesh = init_device_mesh("cpu", (1, WORLD), mesh_dim_names=("dp", "tp"))
            specc.parallelize(model, mesh, tp_plan=LLAMA_TP_PLAN)
            loss = _loss(model, ids, targets)  # every rank sees the whole batch (dp = 1)
            loss.backward()
            result = {"loss": loss.item(),
                      "grads": {n: p.grad.full_tensor() for n, p in model.named_parameters()},
                      "types": {n: type(p).__name__ for n, p in model.named_parameters()}}
        else:
            mesh = init_device_mesh("cpu", (WORLD,))
            specc.parallelize(model, mesh, checkpoint=(mode == "fsdp+checkpoint"))
            half = ids.shape[0] // WORLD
            rows = slice(rank * half, (rank + 1) * half)
            loss = _loss(model, ids[rows], targets[rows])
            loss.backward()
            total = loss.detach().clone()
            dist.all_reduce(total)
            result = {"loss": total.item() / WORLD,
                      "grads": {n: p.grad.full_tensor() for n, p in model.named_parameters()},
                      "types": {n: type(p).__name__ for n, p in model.named_parameters()}}
        if rank == 0:
            torch.save(result, out_file)
        dist.barrier()
    except BaseException:
        dist.destroy_process_group()
        raise
    # The results are on disk and both ranks passed the barrier. Leave without tearing down
    # gloo or running the interpreter's shutdown: a gloo thread still joinable there aborts
    # the process now and then ("terminate called without an active exception", SIGABRT),
    # which failed a passing CI run.
    os._exit(0)


def _run(mode):
    torch.manual_seed(0)
    state = _llama().state_dict()
    with tempfile.TemporaryDirectory() as tmp:
        state_file, out_file = os.path.join(tmp, "state.pt"), os.path.join(tmp, "out.pt")
        torch.save(state, state_file)
        mp.spawn(_worker, args=(os.path.join(tmp, "init"), state_file, out_file, mode),
                 nprocs=WORLD, join=True)
        return state, torch.load(out_file)


@pytest.mark.parametrize("mode", ["fsdp", "fsdp+checkpoint", "fsdp+tp"])
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
    model = _llama()
    model.load_state_dict(state)
    with torch.no_grad():
        ids = _batch()[0]
        expected = model(ids, torch.ones_like(ids))["logits"]
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
    plain = _llama(dims={"T": 8})
    wrapped = _llama(dims={"T": 8})
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
    graph = specc.load(LLAMA, vars=SMALL)
    layers = ["model.layers.0", "model.layers.1", "model.layers.2"]
    assert [u.path for u in block_units(graph)] == layers
    assert [u.path for u in block_units(graph, "LlamaDecoderLayer")] == layers
    assert [u.path for u in block_units(graph, ["model.layers.*.mlp"])] == [
        f"{p}.mlp" for p in layers]
    with pytest.raises(ParallelizeError, match="no 'Nope'"):
        block_units(graph, "Nope")
    with pytest.raises(ParallelizeError, match="matches"):
        block_units(graph, ["decoder.*"])


def test_bad_plans_are_clean_errors():
    model = _llama()
    with pytest.raises(ParallelizeError, match="'tp' dimension"):
        specc.parallelize(model, None, fsdp=False, tp_plan={"up_proj": "colwise"})
    with pytest.raises(ParallelizeError):
        specc.parallelize(_llama(), None, units="Nope", fsdp=False)
    with pytest.raises(ParallelizeError, match="not built by specc"):
        specc.parallelize(torch.nn.Linear(2, 2), None)


def _stats(model):
    return {n: (p.float().mean().item(), p.float().std().item() if p.numel() > 1 else 0.0)
            for n, p in model.named_parameters()}


@pytest.mark.parametrize("spec", ["llama", "transformer_classifier", "resnet18", "vit_b_16"])
def test_materialize_matches_a_direct_build(spec):
    path = str(ROOT / "specs" / f"{spec}.yaml")
    config = SMALL if spec == "llama" else None
    torch.manual_seed(0)
    direct = specc.build(path, vars=config)
    meta = specc.build(path, device="meta", vars=config)
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


def test_regional_compile_wraps_each_unit_and_keeps_the_output():
    """compile= compiles every block unit in place (names kept), torch.compile's own API;
    the eager backend keeps the test fast — the wiring, not inductor, is under test."""
    torch.manual_seed(0)
    plain = _llama()
    compiled = _llama()
    compiled.load_state_dict(plain.state_dict())
    specc.parallelize(compiled, None, fsdp=False, compile={"backend": "eager"})
    units = [u.path for u in block_units(specc.load(LLAMA, vars=SMALL))]
    assert all(compiled.get_submodule(p)._compiled_call_impl is not None for p in units)
    assert compiled._compiled_call_impl is None  # regional: the root stays eager
    assert list(compiled.state_dict()) == list(plain.state_dict())
    ids = _batch()[0]
    with torch.no_grad():
        expected = plain(ids, torch.ones_like(ids))["logits"]
        got = compiled(ids, torch.ones_like(ids))["logits"]
    assert torch.allclose(got, expected, atol=1e-6)
