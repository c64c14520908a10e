"""Differential test of every op at its edges (issue 14): random parameters for each op in
the registry — edge values included (size 1, one-element lists, negative dims, 0-D inputs
from a reduction without dim, symbolic last dims, extreme floats) — on random inputs.

The one assertion: whenever `check` is clean, the model builds, a forward pass on the meta
device succeeds, and every node's shape and dtype are exactly what check inferred. (When
check reports an error there is nothing to build; torch is free to disagree.)

CI runs a few hundred models; `SPECC_RANDOM_OPS=10000 pytest tests/test_random_ops.py`
runs more (issue 14 asked for 10,000 once: see the commit message for the result).
"""
from __future__ import annotations

import os
import random

import pytest

import specc
from specc.ops.base import REQUIRED, all_ops
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")

MODELS = int(os.environ.get("SPECC_RANDOM_OPS", "400"))
OPS = sorted(all_ops())
SIZES = (1, 1, 2, 3, 4, 5, 8)  # concrete sizes carry the edge values
# Symbolic sizes run at values large enough for any index or slice start the generator
# writes: check assumes a symbol is as large as the spec needs (x[:, 3] on (N, T) is T >= 4),
# and cannot know otherwise.
SYMBOL_SIZES = (5, 6, 8)


def _int_list(rng, low, high, n_max=3):
    return [rng.randint(low, high) for _ in range(rng.randint(1, n_max))]


def random_value(rng: random.Random, param, rank: int):
    """A value of the param's type, biased towards the edges torch is strict about."""
    if param.choices is not None:
        return rng.choice(list(param.choices))
    t = param.type
    if t == "bool":
        return rng.random() < 0.5
    if t in ("posint", "optpos"):
        return rng.choice([1, 1, 2, 3, 4, 8]) if t == "posint" or rng.random() < 0.8 else None
    if t == "nonneg":
        return rng.choice([0, 0, 1, 2])
    if t in ("int", "dim", "optint"):
        if t == "optint" and rng.random() < 0.3:
            return None
        return rng.randint(-max(rank, 1), max(rank, 1))
    if t in ("float", "optfloat", "number_or_none"):
        if t != "float" and rng.random() < 0.3:
            return None
        return rng.choice([0.0, 0.1, 0.5, 1.0, 2.0, -1.0, 1e-5, 1e30, -3.0])
    if t == "prob":
        return rng.choice([0.0, 0.1, 0.5, 1.0])
    if t in ("posints", "optposints", "sections"):
        if t == "optposints" and rng.random() < 0.3:
            return None
        return rng.choice([1, 2, 3]) if rng.random() < 0.5 else _int_list(rng, 1, 3)
    if t in ("nonnegints", "padding"):
        if t == "padding" and rng.random() < 0.2:
            return rng.choice(["same", "valid"])
        return rng.choice([0, 1]) if rng.random() < 0.5 else _int_list(rng, 0, 2)
    if t == "dims":
        return rng.randint(-rank, max(rank - 1, 0)) if rng.random() < 0.5 else \
            sorted({rng.randint(0, max(rank - 1, 0)) for _ in range(rng.randint(1, 2))})
    if t == "ints":
        return _int_list(rng, -2, 4)
    if t == "shape":
        return rng.choice([[-1], ["N", -1], [-1, 2], [2, -1], [1, -1, 1]])
    if t == "outsize":
        return rng.choice([1, 2, 3]) if rng.random() < 0.5 else _int_list(rng, 1, 3)
    if t == "scale":
        return rng.choice([1, 2, 0.5, 1.5]) if rng.random() < 0.7 else [2] * rng.randint(1, 3)
    if t == "names":
        return [f"p{i}" for i in range(rng.randint(1, 3))]
    return None


def random_input(rng: random.Random, dims: dict):
    """A shape of rank 0..5; the first dim is often the batch symbol N, the last often a
    symbol T that check keeps symbolic."""
    rank = rng.choice([1, 2, 2, 3, 3, 4, 4, 5])
    shape: list = [rng.choice(SIZES) for _ in range(rank)]
    if rng.random() < 0.6:
        shape[0] = "N"
    if rank > 1 and rng.random() < 0.25:
        shape[-1] = "T"
        dims["T"] = rng.choice(SYMBOL_SIZES)
    return shape


def random_op_spec(seed: int):
    """(spec, dims for running): one op on random inputs, sometimes after a reduction to
    0-D, sometimes a second op after it."""
    rng = random.Random(seed)
    op = all_ops()[rng.choice(OPS)]
    dims = {"N": rng.choice(SYMBOL_SIZES)}
    shape = random_input(rng, dims)
    dtype = "int64" if rng.random() < 0.1 else "float32"
    layers = []
    if rng.random() < 0.08:
        layers.append({"name": "r", "op": "mean"})  # no dim: a 0-D tensor
    rank = 0 if layers else len(shape)
    node = {"op": op.name}
    for param in op.params:
        if param.name in ("in_features", "in_channels", "num_features", "num_channels",
                          "embed_dim", "input_size", "d_model", "in1_features", "in2_features",
                          "normalized_shape", "num_parameters") and rng.random() < 0.8:
            continue  # mostly inferred (given, they usually disagree with the input)
        required = param.default is REQUIRED and not param.inferred
        if required or rng.random() < 0.5:
            value = random_value(rng, param, rank)
            if value is None and required:
                return None
            if value is not None or param.default is None:
                node[param.name] = value
    low, high = op.n_inputs
    count = rng.randint(max(low, 1), max(low, min(high or 3, 3)))
    if op.kind == "parameter" or low == 0:
        count = 0
    if count > 1:
        sources = ["x"] * count if rng.random() < 0.7 else ["x"] + ["y"] * (count - 1)
        node["from"] = [layers[0]["name"] if layers and s == "x" else s for s in sources]
    layers.append(node)
    if rng.random() < 0.3:
        layers.append({"op": rng.choice(["ReLU", "Identity", "flatten"])})
    inputs = {"x": {"shape": shape, "dtype": dtype}}
    if count > 1:
        inputs["y"] = {"shape": random_input(rng, dims), "dtype": dtype}
    return {"inputs": inputs, "layers": layers}, dims


def check_one(seed: int):
    """'clean', 'rejected' or 'skipped'; AssertionError when check and torch disagree."""
    made = random_op_spec(seed)
    if made is None:
        return "skipped"
    spec, dims = made
    bound = {k: v for k, v in dims.items() if k not in ("N", "T")}  # N, T stay symbolic
    try:
        analysis = specc.check(spec, dims=bound, lint=False)
    except Exception as exc:
        raise AssertionError(f"seed {seed}: check raised {type(exc).__name__}: {exc}\n"
                             f"spec: {spec}") from None
    crashed = [d.message for d in analysis.diagnostics if "cannot compute" in d.message]
    assert not crashed, f"seed {seed}: a shape rule crashed: {crashed}\nspec: {spec}"
    if not analysis.ok:
        return "rejected"
    try:
        assert_matches_torch(analysis.graph, dims)
    except AssertionError as exc:
        raise AssertionError(f"seed {seed}: {exc}\nspec: {spec}") from None
    except Exception as exc:  # torch refused what check accepted
        raise AssertionError(f"seed {seed}: check is clean but torch raised "
                             f"{type(exc).__name__}: {str(exc)[:300]}\nspec: {spec}") from None
    return "clean"


def test_every_op_is_generated():
    ops = set()
    for seed in range(3000):
        made = random_op_spec(seed)
        if made:
            ops |= {layer["op"] for layer in made[0]["layers"]}
    # issue 13's LLM ops (attention, rotary, masks, gather family, buffer) have no random
    # generator here yet: tests/test_ops_vs_torch.py and tests/test_hf_specs.py cover them
    no_generator_yet = {"Attention", "RotaryEmbedding", "RMSNorm", "positions", "Conv1D",
                        "scaled_dot_product_attention", "buffer", "exp", "log", "sin", "cos",
                        "rsqrt", "sqrt", "abs", "neg", "pow", "clamp", "to", "eq", "ne", "lt",
                        "le", "gt", "ge", "masked_fill", "where", "tril", "triu",
                        "index_select", "gather", "roll"}
    assert set(OPS) - no_generator_yet <= ops


def test_random_ops_check_clean_means_torch_agrees():
    outcomes = {"clean": 0, "rejected": 0, "skipped": 0}
    failures = []
    for seed in range(MODELS):
        try:
            outcomes[check_one(seed)] += 1
        except AssertionError as exc:
            failures.append(str(exc)[:600])
    assert not failures, f"{len(failures)} of {MODELS}:\n" + "\n\n".join(failures[:8])
    assert outcomes["clean"] >= MODELS // 5, outcomes  # the generator is not all rejected
