"""Differential tests: every op's static shape rule against torch itself.

For random configurations (valid and invalid), a one-layer spec is analysed by specc and
the same layer is built and run by torch on small CPU tensors:
  * specc accepts  → torch runs, and shapes, dtypes and parameter counts are equal;
  * specc rejects  → torch raises too.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import specc
from tests import torchvision_swin

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
small = st.integers(1, 4)
size = st.integers(1, 9)


def _ints(n, lo=1, hi=4):
    return st.one_of(st.integers(lo, hi), st.lists(st.integers(lo, hi), min_size=n, max_size=n))


@st.composite
def conv_case(draw, nd: int, transposed: bool):
    groups = draw(st.sampled_from([1, 1, 2]))
    cin = groups * draw(small)
    cout = groups * draw(small)
    shape = [draw(small), cin] + [draw(size) for _ in range(nd)]
    if draw(st.booleans()):
        shape = shape[1:]  # unbatched
    kw = {"in_channels": cin, "out_channels": cout, "kernel_size": draw(_ints(nd, 1, 4)),
          "stride": draw(_ints(nd, 1, 3)), "dilation": draw(_ints(nd, 1, 2)),
          "groups": groups, "bias": draw(st.booleans())}
    if transposed:
        kw["padding"] = draw(_ints(nd, 0, 2))
        kw["output_padding"] = draw(_ints(nd, 0, 2))
    else:
        kw["padding"] = draw(st.one_of(_ints(nd, 0, 2), st.sampled_from(["same", "valid"])))
        kw["padding_mode"] = draw(st.sampled_from(["zeros", "zeros", "reflect", "replicate",
                                                   "circular"]))
    if draw(st.integers(0, 9)) == 0:
        kw["in_channels"] += 1  # a channel mismatch both must reject
    return kw, [shape]


@st.composite
def pool_case(draw, kind: str, nd: int):
    shape = [draw(small), draw(small)] + [draw(st.integers(1, 12)) for _ in range(nd)]
    kw = {"kernel_size": draw(_ints(nd, 1, 4)), "padding": draw(_ints(nd, 0, 2)),
          "ceil_mode": draw(st.booleans())}
    if draw(st.booleans()):
        kw["stride"] = draw(_ints(nd, 1, 3))
    if kind == "Max":
        kw["dilation"] = draw(_ints(nd, 1, 2))
    else:
        kw["count_include_pad"] = draw(st.booleans())
    return kw, [shape]


@st.composite
def adaptive_case(draw, nd: int):
    shape = [draw(small), draw(small)] + [draw(size) for _ in range(nd)]
    out = draw(st.one_of(st.integers(1, 5), st.lists(st.one_of(st.none(), st.integers(1, 5)),
                                                     min_size=nd, max_size=nd)))
    return {"output_size": out}, [shape]


@st.composite
def norm_case(draw, op: str):
    c = draw(small)
    if op == "BatchNorm1d":
        shape = [draw(st.integers(2, 3)), c] + ([draw(size)] if draw(st.booleans()) else [])
    elif op.startswith("BatchNorm"):
        nd = int(op[-2])
        shape = [draw(st.integers(2, 3)), c] + [draw(size) for _ in range(nd)]
    else:  # InstanceNorm: needs more than one spatial value
        nd = int(op[-2])
        shape = [draw(small), c] + [draw(st.integers(2, 5)) for _ in range(nd)]
    kw = {"num_features": c, "affine": draw(st.booleans())}
    if draw(st.integers(0, 7)) == 0:
        kw["num_features"] = c + 1
        kw["affine"] = True
    return kw, [shape]


@st.composite
def linear_case(draw):
    shape = [draw(small) for _ in range(draw(st.integers(1, 3)))]
    fin = shape[-1] if draw(st.integers(0, 7)) else shape[-1] + 1
    return {"in_features": fin, "out_features": draw(small), "bias": draw(st.booleans())}, [shape]


@st.composite
def rnn_case(draw, op: str):
    batch_first = draw(st.booleans())
    t, n, f = draw(small), draw(small), draw(small)
    shape = [n, t, f] if batch_first else [t, n, f]
    if draw(st.integers(0, 4)) == 0:
        shape = [t, f]
    kw = {"input_size": f, "hidden_size": draw(small), "num_layers": draw(st.integers(1, 3)),
          "bidirectional": draw(st.booleans()), "batch_first": batch_first,
          "bias": draw(st.booleans())}
    if op == "LSTM" and draw(st.booleans()):
        kw["proj_size"] = draw(st.integers(0, 3))
    return kw, [shape]


@st.composite
def mha_case(draw):
    heads = draw(st.integers(1, 3))
    e = heads * draw(small)
    if draw(st.integers(0, 6)) == 0:
        e += 1
    bf = draw(st.booleans())
    n, lq, lk = draw(small), draw(small), draw(small)
    q = [n, lq, e] if bf else [lq, n, e]
    k = [n, lk, e] if bf else [lk, n, e]
    kw = {"embed_dim": e, "num_heads": heads, "batch_first": bf, "bias": draw(st.booleans())}
    shapes = [q, k, k]
    masks = draw(_masks({"key_padding_mask": [n, lk],
                         "attn_mask": draw(st.sampled_from([[lq, lk], [n * heads, lq, lk]]))},
                        {"attn_mask": "is_causal"}))
    return {**kw, **masks[0]}, shapes + masks[1]


@st.composite
def _masks(draw, shapes: dict, hints: dict):
    """Some of the masks (flags, input shapes), a causal hint now and then (torch requires
    its mask with it), and now and then a wrong shape both must refuse."""
    flags, inputs = {}, []
    for name, shape in shapes.items():
        if draw(st.booleans()):
            flags[name] = True
            if draw(st.integers(0, 8)) == 0:
                shape = shape[:-1] + [shape[-1] + 1]
            inputs.append((shape, draw(st.sampled_from(["bool", "float32"]))))
        if name in hints and draw(st.integers(0, 3)) == 0:
            flags[hints[name]] = True
    return flags, inputs


@st.composite
def transformer_case(draw, decoder: bool):
    heads = draw(st.integers(1, 3))
    d = heads * draw(small)
    bf = draw(st.booleans())
    n, l = draw(small), draw(small)
    x = [n, l, d] if bf else [l, n, d]
    kw = {"d_model": d, "nhead": heads, "dim_feedforward": draw(st.integers(1, 8)),
          "batch_first": bf, "norm_first": draw(st.booleans()), "dropout": 0.0}
    if decoder:
        s = draw(small)
        memory = [n, s, d] if bf else [s, n, d]
        flags, masks = draw(_masks({"tgt_mask": [l, l], "memory_mask": [l, s],
                                    "tgt_key_padding_mask": [n, l],
                                    "memory_key_padding_mask": [n, s]},
                                   {"tgt_mask": "tgt_is_causal", "memory_mask": "memory_is_causal"}))
        return {**kw, **flags}, [x, memory] + masks
    flags, masks = draw(_masks({"src_mask": [l, l], "src_key_padding_mask": [n, l]},
                               {"src_mask": "is_causal"}))
    return {**kw, **flags}, [x] + masks


@st.composite
def upsample_case(draw):
    nd = draw(st.integers(1, 3))
    shape = [draw(small), draw(small)] + [draw(size) for _ in range(nd)]
    mode = draw(st.sampled_from(["nearest", {1: "linear", 2: "bilinear", 3: "trilinear"}[nd]]))
    if draw(st.booleans()):
        return {"scale_factor": draw(st.sampled_from([1, 2, 3, 1.5, 0.5])), "mode": mode}, [shape]
    return {"size": draw(st.integers(1, 6)), "mode": mode}, [shape]


@st.composite
def embedding_case(draw):
    n = draw(st.integers(2, 10))
    shape = [draw(small) for _ in range(draw(st.integers(1, 2)))]
    return {"num_embeddings": n, "embedding_dim": draw(small)}, [(shape, "int64")]


@st.composite
def reshape_case(draw):
    shape = [draw(small) for _ in range(draw(st.integers(1, 4)))]
    total = 1
    for d in shape:
        total *= d
    target = [total] if draw(st.booleans()) else [1, total]
    if draw(st.booleans()):
        target = [-1] + [d for d in shape[1:]]
    if draw(st.integers(0, 6)) == 0:
        target = [total + 1]
    return {"shape": target}, [shape]


@st.composite
def merge_case(draw, op: str):
    rank = draw(st.integers(1, 3))
    a = [draw(small) for _ in range(rank)]
    b = list(a)
    dim = draw(st.integers(-rank, rank - 1))
    if op == "cat":
        b[dim] = draw(small)
    if op in ("add", "mul") and draw(st.booleans()):
        b[draw(st.integers(0, rank - 1))] = 1
    if draw(st.integers(0, 6)) == 0:
        b[0] += 1
    kw = {"dim": dim} if op in ("cat", "stack") else {}
    return kw, [a, b]


@st.composite
def matmul_case(draw):
    def shape():
        return [draw(small) for _ in range(draw(st.integers(1, 4)))]
    a, b = shape(), shape()
    if draw(st.booleans()) and len(b) >= 2:
        b[-2] = a[-1]
    return {}, [a, b]


@st.composite
def index_case(draw, op: str):
    shape = [draw(small) for _ in range(draw(st.integers(1, 4)))]
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    if op == "select":
        return {"dim": dim, "index": draw(st.integers(-4, 4))}, [shape]
    if op == "slice":
        return {"dim": dim % len(shape), "start": draw(st.one_of(st.none(), st.integers(-3, 3))),
                "end": draw(st.one_of(st.none(), st.integers(-3, 5))),
                "step": draw(st.integers(1, 2))}, [shape]
    if op == "chunk":
        return {"chunks": draw(st.integers(1, 3)), "dim": dim}, [shape]
    if op in ("mean", "sum"):
        return {"dim": dim, "keepdim": draw(st.booleans())}, [shape]
    if op == "transpose":
        return {"dim0": dim, "dim1": draw(st.integers(-len(shape), len(shape) - 1))}, [shape]
    if op == "flatten":
        return {"start_dim": dim, "end_dim": -1}, [shape]
    if op == "permute":
        return {"dims": draw(st.permutations(range(len(shape))))}, [shape]
    raise AssertionError(op)


@st.composite
def elementwise_case(draw):
    shape = [draw(small) for _ in range(draw(st.integers(1, 4)))]
    return {}, [shape]


@st.composite
def softmax_case(draw):
    shape = [draw(small) for _ in range(draw(st.integers(1, 3)))]
    return {"dim": draw(st.integers(-4, 3))}, [shape]


@st.composite
def misc_case(draw, op: str):
    if op == "PixelShuffle":
        r = draw(st.integers(1, 3))
        c = r * r * draw(small) + (1 if draw(st.integers(0, 5)) == 0 else 0)
        return {"upscale_factor": r}, [[draw(small), c, draw(small), draw(small)]]
    if op == "ZeroPad2d":
        return {"padding": draw(_ints(4, 0, 2))}, [[draw(small), draw(small), draw(size), draw(size)]]
    if op == "GroupNorm":
        g = draw(st.integers(1, 3))
        c = g * draw(small) + (1 if draw(st.integers(0, 5)) == 0 else 0)
        return {"num_groups": g, "num_channels": c}, [[2, c, draw(size)]]
    if op == "LayerNorm":
        shape = [draw(small) for _ in range(draw(st.integers(1, 3)))]
        return {"normalized_shape": shape[-1:] if draw(st.booleans()) else shape}, [shape]
    if op == "LayerNorm2d":
        c = draw(small)
        shape = [draw(small), c, draw(size), draw(size)][:draw(st.sampled_from([4, 4, 3]))]
        return {"normalized_shape": [c + (1 if draw(st.integers(0, 5)) == 0 else 0)],
                "eps": 1e-6}, [shape]
    if op == "StochasticDepth":
        return {"p": draw(st.sampled_from([0.0, 0.2, 1.0, 1.5])),
                "mode": draw(st.sampled_from(["row", "batch"]))}, \
            [[draw(small) for _ in range(draw(st.integers(1, 4)))]]
    if op == "Unflatten":
        return {"dim": 1, "unflattened_size": [2, -1]}, [[draw(small), 2 * draw(small)]]
    if op == "Bilinear":
        n = draw(small)
        return {"in1_features": 2, "in2_features": 3, "out_features": draw(small)}, \
            [[n, 2], [n, 3]]
    raise AssertionError(op)


CASES = {f"Conv{n}d": conv_case(n, False) for n in (1, 2, 3)}
CASES.update({f"ConvTranspose{n}d": conv_case(n, True) for n in (1, 2, 3)})
CASES.update({f"{k}Pool{n}d": pool_case(k, n) for k in ("Max", "Avg") for n in (1, 2, 3)})
CASES.update({f"Adaptive{k}Pool{n}d": adaptive_case(n) for k in ("Max", "Avg") for n in (1, 2, 3)})
CASES.update({op: norm_case(op) for op in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d",
                                           "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d")})
CASES.update({"Linear": linear_case(), "Embedding": embedding_case(),
              "MultiheadAttention": mha_case(), "Upsample": upsample_case(),
              "TransformerEncoderLayer": transformer_case(False),
              "TransformerDecoderLayer": transformer_case(True)})
CASES.update({op: rnn_case(op) for op in ("RNN", "LSTM", "GRU")})
CASES.update({op: misc_case(op) for op in ("PixelShuffle", "ZeroPad2d", "GroupNorm", "LayerNorm",
                                           "Unflatten", "Bilinear", "LayerNorm2d",
                                           "StochasticDepth")})
CASES.update({op: merge_case(op) for op in ("add", "mul", "cat", "stack")})
CASES.update({"reshape": reshape_case(), "matmul": matmul_case()})
CASES.update({op: index_case(op) for op in ("select", "slice", "chunk", "mean", "sum",
                                            "transpose", "flatten", "permute")})
CASES.update({op: elementwise_case() for op in ("ReLU", "GELU", "Sigmoid", "Tanh", "SiLU",
                                                "Hardswish", "ELU", "Dropout", "Identity")})
CASES.update({op: softmax_case() for op in ("Softmax", "LogSoftmax", "Softmin")})


@st.composite
def rank_case(draw, ranks, params=None):
    shape = [draw(small) for _ in range(draw(st.sampled_from(ranks)))]
    return (draw(params) if params is not None else {}), [shape]


@st.composite
def pad_case(draw, kind: str, nd: int):
    spatial = [draw(size) for _ in range(nd)]
    shape = ([draw(small)] if draw(st.booleans()) else []) + [draw(small)] + spatial
    kw = {"padding": draw(_ints(2 * nd, 0, 3))}
    if kind == "Constant":
        kw["value"] = 0.5
    return kw, [shape]


@st.composite
def tensor_case(draw, op: str):
    shape = [draw(small) for _ in range(draw(st.integers(1, 4)))]
    rank = len(shape)
    dim = draw(st.integers(-rank, rank - 1))
    if op == "unsqueeze":
        return {"dim": draw(st.integers(-rank - 1, rank))}, [shape]
    if op == "squeeze":
        return {"dim": dim}, [shape]
    if op == "view":
        return {"shape": [-1]}, [shape]
    if op == "expand":
        target = [draw(st.sampled_from([d, -1, d if d != 1 else 3])) for d in shape]
        return {"size": [2] + target}, [shape]
    if op == "split":
        return {"split_size_or_sections": [1, shape[dim % rank] - 1] if shape[dim % rank] > 1
                else [1], "dim": dim}, [shape]
    if op in ("amax", "amin"):
        return {"dim": dim, "keepdim": draw(st.booleans())}, [shape]
    if op in ("sub", "div"):
        return {}, [shape, shape[-1:]]
    raise AssertionError(op)


CASES.update({op: elementwise_case() for op in (
    "ReLU6", "LeakyReLU", "CELU", "SELU", "Mish", "Softplus", "Softsign", "Hardtanh",
    "Hardsigmoid", "Tanhshrink", "Softshrink", "Hardshrink", "LogSigmoid", "AlphaDropout",
    "FeatureAlphaDropout")})
CASES.update({"Dropout1d": rank_case([2, 3, 4]), "Dropout2d": rank_case([3, 4, 5]),
              "Dropout3d": rank_case([4, 5, 6]), "Flatten": rank_case([2, 3, 4]),
              "PReLU": rank_case([2, 3], st.fixed_dictionaries({"num_parameters": st.integers(1, 3)})),
              "GLU": rank_case([1, 2, 3], st.fixed_dictionaries({"dim": st.integers(-1, 0)})),
              "LocalResponseNorm": rank_case([3, 4, 5], st.fixed_dictionaries({"size": st.integers(1, 4)})),
              "Threshold": rank_case([1, 2], st.just({"threshold": 0.1, "value": 0.0})),
              "PixelUnshuffle": rank_case([4], st.fixed_dictionaries({"downscale_factor": st.integers(1, 2)}))})
CASES.update({f"{k}Pad{n}d": pad_case(k, n) for k in ("Zero", "Constant", "Reflection", "Replication")
              for n in (1, 2, 3)})
CASES.update({op: tensor_case(op) for op in ("unsqueeze", "squeeze", "view", "expand", "split",
                                             "amax", "amin", "sub", "div")})

@st.composite
def math_case(draw, op: str):
    shape = [draw(small) for _ in range(draw(st.integers(1, 4)))]
    dtype = draw(st.sampled_from(["float32", "float32", "int64"]))
    if op == "pow":
        return {"exponent": draw(st.sampled_from([2, 3, 0.5, -1, 2.0]))}, [(shape, dtype)]
    if op == "clamp":
        kw = {"min": draw(st.sampled_from([None, -1, -0.5])),
              "max": draw(st.sampled_from([None, 1, 0.5]))}
        return kw, [(shape, dtype)]
    if op == "to":
        if draw(st.booleans()):
            return {"dtype": draw(st.sampled_from(["float32", "bfloat16", "int64", "bool"]))}, \
                [(shape, dtype)]
        return {}, [(shape, dtype), (shape[-1:], draw(st.sampled_from(["bfloat16", "int32"])))]
    if op in ("eq", "ne", "lt", "le", "gt", "ge"):
        if draw(st.booleans()):
            return {"other": 0.0}, [(shape, dtype)]
        return {}, [(shape, dtype), (shape[-1:], dtype)]
    return {}, [(shape, dtype)]


@st.composite
def mask_case(draw, op: str):
    shape = [draw(small) for _ in range(draw(st.integers(2, 4)))]
    rank = len(shape)
    if op == "masked_fill":
        mask = shape[-draw(st.integers(1, rank)):]
        if draw(st.integers(0, 6)) == 0:
            mask = shape[:-1] + [3, 1]  # does not broadcast: both refuse
        value = draw(st.sampled_from([0.0, -1, "-inf", "min"]))
        dtype = "int64" if value == -1 and draw(st.booleans()) else "float32"
        return {"value": value}, [(shape, dtype), (mask, "bool")]
    if op == "where":
        return {}, [(shape, "bool"), (shape[-1:], "float32"), (shape, "float32")]
    if op in ("tril", "triu"):
        return {"diagonal": draw(st.integers(-2, 2))}, [shape[-draw(st.integers(1, rank)):]]
    dim = draw(st.integers(-rank, rank - 1))
    if op == "index_select":
        return {"dim": dim}, [shape, ([draw(small)], "int64")]
    if op == "gather":
        index = [max(1, d - draw(st.integers(0, 1))) for d in shape]
        return {"dim": dim}, [shape, (index, "int64")]
    if op == "roll":
        if draw(st.booleans()):
            return {"shifts": draw(st.integers(-3, 3))}, [shape]
        return {"shifts": [1, -2], "dims": [dim, draw(st.integers(-rank, rank - 1))]}, [shape]
    raise AssertionError(op)


@st.composite
def llm_case(draw, op: str):
    n, t = draw(small), draw(small)
    if op == "RMSNorm":
        shape = [draw(small) for _ in range(draw(st.integers(1, 3)))]
        kw = {"normalized_shape": shape[-1:] if draw(st.booleans()) else shape,
              "elementwise_affine": draw(st.booleans())}
        if draw(st.integers(0, 6)) == 0:
            kw["normalized_shape"] = [shape[-1] + 1]
        return kw, [shape]
    if op == "positions":
        return {"dim": draw(st.integers(-2, 1)), "offset": draw(st.integers(0, 5))}, \
            [([n, t], "int64")]
    if op == "RotaryEmbedding":
        kw = {"head_dim": 2 * draw(small), "rope_theta": draw(st.sampled_from([10000.0, 1e6])),
              "partial_rotary_factor": draw(st.sampled_from([1.0, 0.5]))}
        return kw, [([n, t] if draw(st.booleans()) else [t], "int64")]
    if op == "scaled_dot_product_attention":
        heads, kv_heads, d = draw(st.sampled_from([(2, 2), (4, 2), (2, 1)])), None, draw(small)
        heads, kv_heads = heads
        s = draw(small)
        q, k = [n, heads, t, d], [n, kv_heads, s, d]
        kw = {"is_causal": draw(st.booleans()), "enable_gqa": heads != kv_heads,
              "scale": draw(st.sampled_from([None, 1.0]))}
        shapes = [q, k, k]
        if not kw["is_causal"] and draw(st.booleans()):
            shapes.append(([n, 1, t, s], draw(st.sampled_from(["bool", "float32"]))))
        return kw, shapes
    if op == "Attention":
        heads, kv_heads = draw(st.sampled_from([(2, 2), (4, 2), (4, 1), (3, 2)]))
        head_dim = 2 * draw(small)
        hidden = draw(st.sampled_from([heads * head_dim, 8]))
        s = t
        kw = {"hidden_size": hidden if draw(st.integers(0, 6)) else hidden + 1,
              "num_heads": heads, "num_key_value_heads": kv_heads, "head_dim": head_dim,
              "bias": draw(st.booleans()), "causal": draw(st.booleans()),
              "rotary": draw(st.sampled_from(["none", "half", "interleaved"])),
              "mask": draw(st.booleans()), "cross": draw(st.booleans()),
              "bias_input": draw(st.booleans()),
              "o_proj": draw(st.sampled_from(["o_proj", "dense", None]))}
        shapes = [[n, t, hidden]]
        if kw["cross"]:
            s, kv_size = draw(small), draw(small)
            kw["kv_size"] = kv_size
            shapes.append([n, s, kv_size])
        if kw["rotary"] != "none":
            shapes += [[t, head_dim], [t, head_dim]]
        if kw["mask"]:
            shapes.append(([n, s], "int64"))
        if kw["bias_input"]:
            shapes.append([1, heads, t, s])
        return kw, shapes
    raise AssertionError(op)


@st.composite
def window_case(draw, op: str):
    """Swin's window ops on [N, H, W, C] maps that windows tile or that need padding, with
    shifts below, at and past the window (torchvision then zeroes them on small maps)."""
    shape = [draw(small), draw(st.integers(1, 12)), draw(st.integers(1, 12)), draw(small)]
    window = draw(st.one_of(st.integers(1, 5), st.lists(st.integers(1, 5), min_size=2,
                                                         max_size=2)))
    shift = draw(st.one_of(st.integers(0, 6), st.lists(st.integers(0, 6), min_size=2,
                                                       max_size=2)))
    kw = {"window_size": window, "shift_size": shift}
    if draw(st.integers(0, 9)) == 0:
        shape = shape[1:]  # not a 4-D map: both refuse
    if op != "window_merge":
        return kw, [shape]
    wh, ww = _pair(window)
    windows = [shape[0] * -(-shape[1] // wh) * -(-shape[2] // ww), wh * ww, draw(small)] \
        if len(shape) == 4 else [1, 1, 1]
    if draw(st.integers(0, 6)) == 0:
        windows[draw(st.integers(0, 1))] += 1  # windows that do not tile the map
    return kw, [windows, shape]


def _pair(value):
    return tuple(value) if isinstance(value, list) else (value, value)


def _window_args(kw):
    return _pair(kw["window_size"]), _pair(kw.get("shift_size", 0))


FUNCTIONS = {
    "add": lambda kw, a, b: a + b, "mul": lambda kw, a, b: a * b,
    "cat": lambda kw, *xs: torch.cat(xs, **kw), "stack": lambda kw, *xs: torch.stack(xs, **kw),
    "reshape": lambda kw, x: x.reshape(kw["shape"]), "matmul": lambda kw, a, b: a @ b,
    "select": lambda kw, x: x.select(kw["dim"], kw["index"]),
    "slice": lambda kw, x: x[(slice(None),) * kw["dim"] + (slice(kw["start"], kw["end"], kw["step"]),)],
    "chunk": lambda kw, x: torch.chunk(x, kw["chunks"], kw["dim"]),
    "sub": lambda kw, a, b: a - b, "div": lambda kw, a, b: a / b,
    "unsqueeze": lambda kw, x: x.unsqueeze(kw["dim"]), "squeeze": lambda kw, x: x.squeeze(kw["dim"]),
    "view": lambda kw, x: x.view(kw["shape"]), "expand": lambda kw, x: x.expand(*kw["size"]),
    "split": lambda kw, x: torch.split(x, kw["split_size_or_sections"], kw["dim"]),
    "amax": lambda kw, x: x.amax(**kw), "amin": lambda kw, x: x.amin(**kw),
    "mean": lambda kw, x: x.mean(**kw), "sum": lambda kw, x: x.sum(**kw),
    "transpose": lambda kw, x: x.transpose(kw["dim0"], kw["dim1"]),
    "flatten": lambda kw, x: torch.flatten(x, kw["start_dim"], kw["end_dim"]),
    "permute": lambda kw, x: x.permute(*kw["dims"]),
    "positions": lambda kw, x: torch.arange(kw["offset"], kw["offset"] + x.size(kw["dim"])),
    "scaled_dot_product_attention": lambda kw, q, k, v, *m: F.scaled_dot_product_attention(
        q, k, v, *m, **kw),
    **{op: (lambda kw, x, op=op: getattr(torch, op)(x))
       for op in ("exp", "log", "sin", "cos", "rsqrt", "sqrt", "abs", "neg")},
    "pow": lambda kw, x: torch.pow(x, kw["exponent"]),
    "clamp": lambda kw, x: torch.clamp(x, **kw),
    "to": lambda kw, x, *like: x.to(getattr(torch, kw["dtype"]) if kw else like[0].dtype),
    **{op: (lambda kw, a, *b, op=op: getattr(torch, op)(a, b[0] if b else kw["other"]))
       for op in ("eq", "ne", "lt", "le", "gt", "ge")},
    "masked_fill": lambda kw, x, m: x.masked_fill(m, {"-inf": float("-inf"), "min": torch.finfo(
        x.dtype).min if x.dtype.is_floating_point else 0}.get(kw["value"], kw["value"])),
    "where": lambda kw, c, a, b: torch.where(c, a, b),
    "tril": lambda kw, x: torch.tril(x, **kw), "triu": lambda kw, x: torch.triu(x, **kw),
    "index_select": lambda kw, x, i: torch.index_select(x, kw["dim"], i),
    "gather": lambda kw, x, i: torch.gather(x, kw["dim"], i),
    "roll": lambda kw, x: torch.roll(x, kw["shifts"], kw.get("dims")),
    "window_partition": lambda kw, x: torchvision_swin.partition(x, *_window_args(kw)),
    "window_merge": lambda kw, w, x: torchvision_swin.merge(w, x, *_window_args(kw)),
    "shifted_window_mask": lambda kw, x: torchvision_swin.attention_mask(x, *_window_args(kw)),
}
# ops whose modules are specc's own (specc/compile/runtime.py): the static rules are
# checked against what that code really builds and runs; the values against transformers
# in tests/test_hf_specs.py
RUNTIME_MODULES = {"Attention", "RotaryEmbedding", "Conv1D"}
CASES.update({op: math_case(op) for op in ("exp", "log", "sin", "cos", "rsqrt", "sqrt", "abs",
                                           "neg", "pow", "clamp", "to", "eq", "ne", "lt", "le",
                                           "gt", "ge")})
CASES.update({op: mask_case(op) for op in ("masked_fill", "where", "tril", "triu",
                                           "index_select", "gather", "roll")})
CASES.update({"Conv1D": linear_case()})
CASES.update({op: window_case(op) for op in ("window_partition", "window_merge",
                                             "shifted_window_mask")})
CASES.update({op: llm_case(op) for op in ("RMSNorm", "positions", "RotaryEmbedding",
                                          "scaled_dot_product_attention", "Attention")})



class TorchvisionLayerNorm2d(nn.LayerNorm):
    """torchvision/models/convnext.py (0.29), typed here: torchvision does not load with
    this CPU torch build."""

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)
        x = torch.nn.functional.layer_norm(x, self.normalized_shape, self.weight, self.bias,
                                           self.eps)
        x = x.permute(0, 3, 1, 2)
        return x


def torchvision_stochastic_depth(input, p, mode, training=True):
    """torchvision/ops/stochastic_depth.py (0.29), typed here."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"drop probability has to be between 0 and 1, but got {p}")
    if mode not in ["batch", "row"]:
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    if not training or p == 0.0:
        return input
    survival_rate = 1.0 - p
    if mode == "row":
        size = [input.shape[0]] + [1] * (input.ndim - 1)
    else:
        size = [1] * input.ndim
    noise = torch.empty(size, dtype=input.dtype, device=input.device)
    noise = noise.bernoulli_(survival_rate)
    if survival_rate > 0.0:
        noise.div_(survival_rate)
    return input * noise


class TorchvisionStochasticDepth(nn.Module):
    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        return torchvision_stochastic_depth(input, self.p, self.mode, self.training)


TORCHVISION = {"LayerNorm2d": TorchvisionLayerNorm2d, "StochasticDepth": TorchvisionStochasticDepth}


def _torch_outputs(op: str, kw: dict, tensors):
    if op in FUNCTIONS:
        out = FUNCTIONS[op](kw, *tensors)
        return list(out) if isinstance(out, tuple) else [out], 0
    forward_kw = {}
    if op in RUNTIME_MODULES:
        from specc.compile import runtime
        from specc.ops.base import get_op

        module = getattr(runtime, get_op(op).runtime_class)(**kw).eval()
    else:
        from specc.ops.attention import _MASKS

        if op in _MASKS:  # mask flags and causal hints are forward arguments in torch
            names = [m for m, _ in _MASKS[op] if kw.get(m)]
            tensors, masks = tensors[:len(tensors) - len(names)], tensors[len(tensors) - len(names):]
            forward_kw = dict(zip(names, masks))
            forward_kw.update({c: True for _, c in _MASKS[op] if c and kw.get(c)})
            kw = {k: v for k, v in kw.items()
                  if k not in {m for pair in _MASKS[op] for m in pair if m}}
        module = (TORCHVISION.get(op) or getattr(nn, op))(**kw).eval()
    with torch.no_grad():
        out = module(*tensors, **forward_kw)
    flat = []

    def walk(value):
        if isinstance(value, (tuple, list)):
            for v in value:
                walk(v)
        elif value is not None:
            flat.append(value)
    walk(out)
    return flat, sum(p.numel() for p in module.parameters())


def _inputs(shapes):
    tensors = []
    for entry in shapes:
        shape, dtype = entry if isinstance(entry, tuple) else (entry, "float32")
        if dtype in ("int64", "int32"):
            tensors.append(torch.zeros(shape, dtype=getattr(torch, dtype)))
        elif dtype == "bool":
            tensors.append(torch.rand(shape) > 0.5)
        elif dtype == "bfloat16":
            tensors.append(torch.randn(shape, dtype=torch.bfloat16))
        else:
            tensors.append(torch.randn(shape))
    return tensors


def _spec(op: str, kw: dict, shapes) -> dict:
    inputs = {}
    for i, entry in enumerate(shapes):
        shape, dtype = entry if isinstance(entry, tuple) else (entry, "float32")
        inputs[f"in{i}"] = {"shape": list(shape), "dtype": dtype}
    node = {"op": op, **kw}
    if len(shapes) > 1:
        node["from"] = list(inputs)
    return {"inputs": inputs, "layers": [node], "outputs": ["0"]}


def _compare(op: str, kw: dict, shapes) -> None:
    analysis = specc.check(_spec(op, kw, shapes), lint=False)
    tensors = _inputs(shapes)
    try:
        outs, params = _torch_outputs(op, kw, tensors)
        torch_error = None
    except Exception as exc:  # torch's own rejection
        torch_error = exc
    if not analysis.ok:
        if op == "chunk" and "parts" in analysis.diagnostics[0].message:
            return  # deliberate: specc needs a static number of outputs (see docs/errors.md)
        assert torch_error is not None, (
            f"specc rejected but torch accepted {op}{kw} on {shapes}: "
            + "; ".join(d.message for d in analysis.diagnostics))
        return
    assert torch_error is None, f"specc accepted but torch raised for {op}{kw} on {shapes}: {torch_error}"
    node = analysis.graph.nodes[0]
    got = [(list(t.shape), t.dtype) for t in node.out_types]
    want = [(list(t.shape), str(t.dtype).replace("torch.", "")) for t in outs]
    if op == "MultiheadAttention":
        got = got[:len(want)]
    assert got == want, f"{op}{kw} on {shapes}: specc {got} vs torch {want}"
    if op not in FUNCTIONS:
        assert node.params == params, f"{op}{kw}: params specc {node.params} vs torch {params}"


@pytest.mark.parametrize("op", sorted(CASES))
def test_op_matches_torch(op):
    @SETTINGS
    @given(CASES[op])
    def run(case):
        kw, shapes = case
        _compare(op, kw, shapes)
    run()


def test_every_registered_module_op_has_torch_defaults():
    """Param defaults in the registry equal torch's constructor defaults (codegen omits them)."""
    import inspect

    from specc.ops.base import REQUIRED, all_ops

    for op in all_ops().values():
        if op.kind != "module":
            continue
        if op.runtime_class is not None:
            from specc.compile import runtime

            cls = getattr(runtime, op.runtime_class)
        else:
            cls = TORCHVISION.get(op.name) or getattr(nn, op.torch_class)
        signature = inspect.signature((nn.RNNBase if issubclass(cls, nn.RNNBase) else cls).__init__)
        for param in op.params:
            if not param.to_torch:  # forward arguments (masks) and specc's own options
                continue
            if param.name == "nonlinearity":  # RNN takes it through **kwargs
                continue
            assert param.name in signature.parameters, f"{op.name}.{param.name} is not torch's"
            default = signature.parameters[param.name].default
            if param.default is REQUIRED or default is inspect.Parameter.empty:
                continue
            if param.name in ("normalized_shape", "activation"):  # torch: F.relu ≡ "relu"
                continue
            assert param.default == default, f"{op.name}.{param.name}: {param.default} vs {default}"


@pytest.mark.parametrize("mode,size,ok", [("reflect", 2, False), ("reflect", 3, True),
                                          ("circular", 1, False), ("circular", 2, True)])
def test_regression_padding_mode_needs_input_size(mode, size, ok):
    """Found by hand after the random tests missed it: F.pad's reflect/circular limits."""
    kw = {"in_channels": 1, "out_channels": 1, "kernel_size": 1, "padding": 2,
          "padding_mode": mode}
    _compare("Conv1d", kw, [[1, 1, size]])
    assert specc.check(_spec("Conv1d", kw, [[1, 1, size]]), lint=False).ok is ok


@pytest.mark.parametrize("op,kw,shape", [
    ("GroupNorm", {"num_groups": 2, "num_channels": 2}, [1, 2, 1, 1]),
    ("InstanceNorm2d", {"num_features": 3}, [2, 3, 1, 1]),
])
def test_regression_norms_need_more_than_one_value(op, kw, shape):
    """Found by the random-model test (seed 180): torch checks these even in eval mode."""
    _compare(op, kw, [shape])
    assert not specc.check(_spec(op, kw, [shape]), lint=False).ok


def test_every_op_has_a_differential_case():
    """`parameter` has no input; it is covered by the ViT and Transformer specs."""
    from specc.ops.base import all_ops

    assert set(all_ops()) - set(CASES) == {"parameter", "buffer"}  # buffer: test_buffers.py


@pytest.mark.parametrize("mode", ["row", "batch"])
def test_torchvision_modules_compute_what_torchvision_computes(mode):
    """Values, not only shapes: LayerNorm2d and StochasticDepth (train and eval) equal the
    torchvision code with the same weights and the same random stream."""
    model = specc.build({"inputs": {"x": {"shape": [3, 6, 5, 4]}}, "layers": [
        {"op": "LayerNorm2d", "eps": 1e-6}, {"op": "StochasticDepth", "p": 0.4, "mode": mode}]})
    norm = TorchvisionLayerNorm2d(6, eps=1e-6)
    with torch.no_grad():
        norm.weight.normal_()
        norm.bias.normal_()
    model.load_state_dict({"0.weight": norm.weight, "0.bias": norm.bias})
    depth = TorchvisionStochasticDepth(0.4, mode)
    x = torch.randn(3, 6, 5, 4)
    for training in (True, False):
        model.train(training)
        depth.train(training)
        torch.manual_seed(7)
        got = model(x)
        torch.manual_seed(7)
        want = depth(norm(x))
        assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(model.eval()(x), norm(x), atol=1e-6)


@pytest.mark.parametrize("shape,window,shift", [
    ([2, 14, 14, 6], [7, 7], [3, 3]),  # Swin's shifted block: windows tile the map
    ([1, 9, 11, 4], [7, 7], [3, 3]),  # padded to 14 x 14 first
    ([2, 7, 16, 3], [7, 4], [3, 2]),  # one window high: no shift along H (torchvision)
    ([1, 5, 5, 2], [7, 7], [3, 3]),  # one window in all: no shift, a zero mask
    ([1, 12, 12, 2], [4, 4], [6, 5]),  # shifts past the window
    ([3, 8, 8, 5], [4, 4], [0, 0]),
])
def test_swin_window_ops_compute_what_torchvision_computes(shape, window, shift):
    """Values, not only shapes: partition, mask and merge against torchvision's steps, and
    merge undoes partition."""
    window_kw = {"window_size": window, "shift_size": shift}
    model = specc.build({"inputs": {"x": {"shape": ["N", *shape[1:]]}}, "layers": [
        {"name": "windows", "op": "window_partition", **window_kw},
        {"name": "mask", "op": "shifted_window_mask", "from": "x", **window_kw},
        {"name": "back", "op": "window_merge", "from": ["windows", "x"], **window_kw}],
        "outputs": ["windows", "mask", "back"]})
    x = torch.randn(shape)
    windows, mask, back = model(x)
    assert torch.equal(windows, torchvision_swin.partition(x, window, shift))
    assert torch.equal(mask, torchvision_swin.attention_mask(x, window, shift))
    assert torch.equal(back, x)
    assert torch.equal(back, torchvision_swin.merge(windows, x, window, shift))
