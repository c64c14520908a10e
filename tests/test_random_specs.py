"""Differential test over random models: for each of 300+ generated specs (chains and DAGs of
the supported ops, random parameters, branches, skips, training-only aux heads, symbolic dims
bound at random), the module built on the meta device produces exactly the shapes and dtypes
specc inferred for every node (in eval, and in training for the aux heads), and exactly the
parameter count."""
from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from tests.helpers import assert_matches_torch

torch = pytest.importorskip("torch")


NAME_STYLES = ["n{}", "{}a", "conv {}", "stage+{}", "ß{}", "block{}-0", "n{}", "if{}", "[{}]"]


class Generator:
    """Writes a random but mostly valid spec, tracking the (concrete) shape as it goes."""

    def __init__(self, rng: random.Random):
        self.rng = rng
        self.layers: list[dict] = []
        self.names: list[tuple[str, tuple]] = []  # named nodes and their shape
        self.count = 0

    def name(self) -> str:
        """Module names of every kind torch accepts (issue 12), in turn (no rng draw, so the
        seeds keep their specs): identifiers, a digit first, a space, '+', '-', non-ASCII,
        brackets."""
        self.count += 1
        return NAME_STYLES[self.count % len(NAME_STYLES)].format(self.count)

    def add(self, node: dict, shape: tuple, keep: bool = False) -> tuple:
        if keep or self.rng.random() < 0.3:
            node["name"] = self.name()
            self.names.append((node["name"], shape))
        self.layers.append(node)
        return shape

    def last(self) -> str:
        """The name of the latest node (naming it if needed), or the input."""
        return self.layers[-1].setdefault("name", self.name()) if self.layers else "x"

    def skip_from(self, shape: tuple):
        matches = [n for n, s in self.names if s == shape]
        return self.rng.choice(matches) if matches else None

    # -- per-kind steps -------------------------------------------------------
    def image_step(self, shape):
        n, c, h, w = shape
        r = self.rng
        choice = r.choice(["conv", "conv", "bn", "act", "pool", "skip", "branch", "convT",
                           "upsample", "adaptive", "gn", "pad", "shuffle", "ln", "dropout"])
        if choice == "conv":
            g = r.choice([d for d in (1, 2, 4) if c % d == 0])
            out = g * r.randint(1, 4)
            k, s, p = r.randint(1, 3), r.randint(1, 2), r.randint(0, 1)
            if min(h, w) + 2 * p < k:
                return shape
            node = {"op": "Conv2d", "out_channels": out, "kernel_size": k, "stride": s,
                    "padding": p, "groups": g, "bias": r.random() < 0.5}
            return self.add(node, (n, out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1))
        if choice == "bn":
            return self.add({"op": "BatchNorm2d"}, shape)
        if choice == "act":
            return self.add({"op": r.choice(["ReLU", "GELU", "SiLU", "Tanh", "Hardswish"])}, shape)
        if choice == "pool" and min(h, w) >= 2:
            op = r.choice(["MaxPool2d", "AvgPool2d"])
            ceil = r.random() < 0.3
            out = (lambda x: -(-(x - 2) // 2) + 1) if ceil else (lambda x: (x - 2) // 2 + 1)
            return self.add({"op": op, "kernel_size": 2, "ceil_mode": ceil}, (n, c, out(h), out(w)))
        if choice == "skip":
            source = self.skip_from(shape)
            if source:
                prev = self.last()
                return self.add({"op": "add", "from": [prev, source]}, shape)
        if choice == "branch":
            prev = self.last()
            out = r.randint(1, 4)
            self.add({"op": "Conv2d", "from": prev, "out_channels": out, "kernel_size": 1},
                     (n, out, h, w), keep=True)
            branch = self.layers[-1]["name"]
            return self.add({"op": "cat", "from": [prev, branch], "dim": 1}, (n, c + out, h, w))
        if choice == "convT":
            out = r.randint(1, 4)
            return self.add({"op": "ConvTranspose2d", "out_channels": out, "kernel_size": 2,
                             "stride": 2}, (n, out, 2 * h, 2 * w))
        if choice == "upsample" and max(h, w) <= 16:
            return self.add({"op": "Upsample", "scale_factor": 2}, (n, c, 2 * h, 2 * w))
        if choice == "adaptive":
            size = r.randint(1, 4)
            return self.add({"op": r.choice(["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"]),
                             "output_size": size}, (n, c, size, size))
        if choice == "gn":
            groups = r.choice([g for g in (1, 2, 4) if c % g == 0])
            return self.add({"op": "GroupNorm", "num_groups": groups}, shape)
        if choice == "pad":
            return self.add({"op": "ZeroPad2d", "padding": 1}, (n, c, h + 2, w + 2))
        if choice == "shuffle" and c % 4 == 0:
            return self.add({"op": "PixelShuffle", "upscale_factor": 2}, (n, c // 4, 2 * h, 2 * w))
        if choice == "ln":
            return self.add({"op": "LayerNorm", "normalized_shape": [w]}, shape)
        if choice == "dropout":
            return self.add({"op": "Dropout2d", "p": 0.1}, shape)
        return shape

    def flat_step(self, shape):
        n, f = shape
        r = self.rng
        choice = r.choice(["linear", "linear", "act", "bn", "ln", "skip", "dropout", "bilinear"])
        if choice == "linear":
            out = r.randint(1, 12)
            return self.add({"op": "Linear", "out_features": out, "bias": r.random() < 0.7},
                            (n, out))
        if choice == "act":
            return self.add({"op": r.choice(["ReLU", "ELU", "Sigmoid", "LeakyReLU"])}, shape)
        if choice == "bn":
            return self.add({"op": "BatchNorm1d"}, shape)
        if choice == "ln":
            return self.add({"op": "LayerNorm"}, shape)
        if choice == "skip":
            source = self.skip_from(shape)
            if source:
                prev = self.last()
                return self.add({"op": r.choice(["add", "mul"]), "from": [prev, source]}, shape)
        if choice == "bilinear":
            prev = self.last()
            out = r.randint(1, 6)
            return self.add({"op": "Bilinear", "from": [prev, prev], "out_features": out}, (n, out))
        if choice == "dropout":
            return self.add({"op": "Dropout", "p": 0.2}, shape)
        return shape

    def seq_step(self, shape):
        n, t, f = shape
        r = self.rng
        choice = r.choice(["rnn", "attn", "encoder", "linear", "conv1d", "act"])
        if choice == "rnn":
            op, hidden = r.choice(["LSTM", "GRU", "RNN"]), r.randint(1, 6)
            bi, layers = r.random() < 0.5, r.randint(1, 2)
            node = {"op": op, "hidden_size": hidden, "num_layers": layers, "bidirectional": bi,
                    "batch_first": True, "name": self.name()}
            self.layers.append(node)
            return (n, t, hidden * (2 if bi else 1))
        if choice == "attn":
            heads = r.choice([h for h in (1, 2, 4) if f % h == 0])
            return self.add({"op": "MultiheadAttention", "num_heads": heads, "batch_first": True},
                            shape)
        if choice == "encoder":
            heads = r.choice([h for h in (1, 2) if f % h == 0])
            return self.add({"op": "TransformerEncoderLayer", "nhead": heads,
                             "dim_feedforward": 8, "batch_first": True, "dropout": 0.0}, shape)
        if choice == "linear":
            out = r.choice([2, 4, 6, 8])
            return self.add({"op": "Linear", "out_features": out}, (n, t, out))
        if choice == "conv1d":
            out = r.randint(1, 6)
            self.add({"op": "transpose", "dim0": 1, "dim1": 2}, (n, f, t))
            self.add({"op": "Conv1d", "out_channels": out, "kernel_size": 3, "padding": 1},
                     (n, out, t))
            return self.add({"op": "transpose", "dim0": 1, "dim1": 2}, (n, t, out))
        return self.add({"op": "GELU"}, shape)


def random_spec(seed: int):
    rng = random.Random(seed)
    gen = Generator(rng)
    kind = rng.choice(["image", "image", "flat", "seq"])
    dims = {"N": rng.randint(1, 4)}
    if kind == "image":
        h = rng.randint(4, 12)
        symbolic = rng.random() < 0.5
        if symbolic:
            dims["H"] = dims["W"] = h
        shape = ("N", rng.randint(1, 6), "H" if symbolic else h, "W" if symbolic else h)
        concrete = (dims["N"], shape[1], h, h)
        for _ in range(rng.randint(1, 10)):
            concrete = gen.image_step(concrete)
        if rng.random() < 0.6:
            gen.add({"op": "flatten", "start_dim": 1}, None)
            flat = (concrete[0], concrete[1] * concrete[2] * concrete[3])
            for _ in range(rng.randint(0, 3)):
                flat = gen.flat_step(flat)
    elif kind == "flat":
        shape = ("N", rng.randint(1, 16))
        concrete = (dims["N"], shape[1])
        for _ in range(rng.randint(1, 10)):
            concrete = gen.flat_step(concrete)
    else:
        dims["T"] = rng.randint(1, 6)
        shape = ("N", "T", rng.choice([2, 4, 8]))
        concrete = (dims["N"], dims["T"], shape[2])
        for _ in range(rng.randint(1, 6)):
            concrete = gen.seq_step(concrete)
    if not gen.layers:
        gen.layers.append({"op": "Identity"})
    spec = {"inputs": {"x": {"shape": list(shape)}}, "layers": gen.layers}
    wrap = rng.random()
    if wrap < 0.3:
        _wire_by_expressions(spec["layers"], rng)
        spec = _wrapped(spec, rng, inline=wrap < 0.1)
    else:  # aux heads in the unwrapped models (a wrapped block's outputs are its own)
        _add_aux_heads(spec, dims, random.Random(seed ^ 0xA0C5))
    return spec, dims


def _wire_by_expressions(layers: list, rng: random.Random) -> None:
    """Some `from` entries become expressions that pick the same name."""
    for node in layers:
        if isinstance(node.get("from"), str) and rng.random() < 0.5:
            node["from"] = "${'%s'}" % node["from"]
        elif isinstance(node.get("from"), list):
            node["from"] = [f"${{'{e}' if True else 'nothing'}}" if rng.random() < 0.5 else e
                            for e in node["from"]]


def _wrapped(spec: dict, rng: random.Random, inline: bool) -> dict:
    """The model's layers as a block with two outputs (its last node and a named one),
    used once (or inline, named); the model returns both, read by name or position."""
    layers = spec["layers"]
    layers[-1].setdefault("name", "last")
    named = [node["name"] for node in layers[:-1] if "name" in node]
    other = rng.choice(named) if named else layers[-1]["name"]
    use = {"name": "body", "block": "Body", **({"inline": True} if inline else {})}
    read = f"body.{other}" if rng.random() < 0.5 else "body.1"
    return {"inputs": spec["inputs"],
            "blocks": {"Body": {"layers": layers, "outputs": [layers[-1]["name"], other]}},
            "layers": [use], "outputs": ["body", read]}


def _add_aux_heads(spec: dict, dims: dict, rng: random.Random) -> None:
    """Sometimes insert `training_only` side branches (Inception's aux heads) between the
    items of the chain, from a stream of their own so the chains stay what they were. A
    side branch changes nothing the chain reads; a later aux head may read an earlier one;
    a random subset of them are outputs (returned in training only)."""
    if rng.random() >= 0.3:
        return
    layers, heads = spec["layers"], []
    for _ in range(rng.randint(1, 2)):
        at = rng.randint(1, len(layers))
        source = layers[at - 1].setdefault("name", f"src{at}_{len(heads)}")
        out = rng.randint(1, 5)
        head = rng.choice([
            {"op": "Linear", "out_features": out},  # on the last dim: any rank
            {"layers": [{"op": "flatten", "start_dim": 1},
                        {"op": "Linear", "out_features": out}]}])
        head.update({"name": f"aux{len(heads)}", "from": source, "training_only": True})
        layers.insert(at, head)
        heads.append(head["name"])
    main = next(item for item in reversed(layers) if not item.get("training_only"))
    spec["outputs"] = [main.setdefault("name", "main")] + \
        [name for name in heads if rng.random() < 0.6]
    dims["N"] = max(dims["N"], 2)  # BatchNorm in training needs two values per channel


def test_generator_is_mostly_valid():
    valid = 0
    for seed in range(200):
        spec, dims = _bound(random_spec(seed))
        valid += specc.check(spec, dims=dims, lint=False).ok
    assert valid >= 180, valid


def _bound(case):
    spec, dims = case
    return spec, {k: v for k, v in dims.items() if k != "N"}  # N stays symbolic


@settings(max_examples=320, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2 ** 32 - 1))
def test_random_specs_match_torch_on_meta(seed):
    spec, dims = random_spec(seed)
    analysis = specc.check(spec, dims={k: v for k, v in dims.items() if k != "N"}, lint=False)
    if not analysis.ok:  # the generator overshoots sometimes (a map shrunk to nothing)
        messages = [d.message for d in analysis.diagnostics]
        assert all(d.code in ("E303", "E304", "E302") for d in analysis.diagnostics), messages
        return
    try:
        assert_matches_torch(analysis.graph, dims)
    except AssertionError:
        raise
    except Exception as exc:  # torch rejected the bound sizes (e.g. GroupNorm on 1 value)
        bound = specc.check(spec, dims=dims, lint=False)
        assert not bound.ok, f"torch raised {exc!r} but specc accepts the bound sizes {dims}"
