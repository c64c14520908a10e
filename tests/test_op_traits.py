"""What lint and render know about an op is declared on its OpDef (issue 12): every op of a
category carries its category's traits, checked here against torch where torch can say."""
import re

import pytest

import specc
from specc.ops.base import all_ops

OPS = all_ops()
RANGES = {"real", "nonneg", "nonpos", "bounded", "unit"}


def by_category(category):
    return [op for op in OPS.values() if op.category == category]


def test_every_dropout_passes_through_and_is_a_dropout():
    assert len(by_category("dropout")) >= 6
    for op in by_category("dropout"):
        assert op.is_dropout and op.passes_through, op.name


def test_every_activation_declares_its_output_range():
    for op in by_category("activation"):
        assert op.output_range in RANGES, op.name
    for op in OPS.values():
        if op.output_range is not None:
            assert op.category == "activation", op.name


def test_every_conv_and_linear_layer_is_weighted_and_nothing_else_is():
    for op in OPS.values():
        assert op.weighted == (op.category in ("conv", "linear")), op.name


def test_every_n_d_op_declares_its_spatial_rank():
    for op in OPS.values():
        match = re.search(r"(\d)d$", op.name)
        assert op.spatial_rank == (int(match.group(1)) if match else None), op.name


def test_windows_that_floor_are_the_convs_and_max_avg_pools():
    floors = {op.name for op in OPS.values() if op.floors_windows}
    assert floors == {f"{k}{n}d" for k in ("Conv", "MaxPool", "AvgPool") for n in (1, 2, 3)}


def test_channel_norms_and_normalisations():
    assert {op.name for op in OPS.values() if op.channel_norm} == \
        {f"{k}{n}d" for k in ("BatchNorm", "InstanceNorm") for n in (1, 2, 3)} | {"GroupNorm"}
    assert {op.name: op.normalizes for op in OPS.values() if op.normalizes} == {
        "Softmax": "softmax", "Softmin": "softmax", "LogSoftmax": "log_softmax",
        "Sigmoid": "sigmoid"}


def test_output_ranges_against_torch():
    """Each declared range holds for what torch computes on a spread of inputs."""
    torch = pytest.importorskip("torch")
    x = torch.linspace(-50, 50, 2001).reshape(1, -1)
    inside = {"real": lambda y: True, "nonneg": lambda y: bool((y >= 0).all()),
              "nonpos": lambda y: bool((y <= 0).all()),
              "unit": lambda y: bool(((y >= 0) & (y <= 1)).all()),
              "bounded": lambda y: bool(y.abs().max() < 50)}
    for op in by_category("activation"):
        if op.name in ("GLU", "Threshold"):
            continue  # need arguments of their own; both are "real"
        module = getattr(torch.nn, op.name)(**({"dim": 1} if "dim" in op.param_map else {}))
        assert inside[op.output_range](module(x)), op.name


def test_pass_through_ops_keep_values():
    """passes_through: the output holds the input's values (reshaped at most), in eval."""
    torch = pytest.importorskip("torch")
    for op in OPS.values():
        if not op.passes_through:
            continue
        x = torch.randn(2, 3, 4) if op.name == "Dropout1d" else torch.randn(2, 3, 4, 5)
        if op.kind == "module":
            cls = getattr(torch.nn, op.name, None)
            if cls is None:  # specc's own module (StochasticDepth): tested in test_ops_vs_torch
                continue
            module = cls(0.5) if op.is_dropout else cls()
            y = module.eval()(x)
        else:
            y = {"flatten": lambda: torch.flatten(x), "reshape": lambda: x.reshape(6, -1),
                 "view": lambda: x.view(6, -1), "squeeze": lambda: x.squeeze(),
                 "unsqueeze": lambda: x.unsqueeze(0)}[op.name]()
        assert torch.equal(y.flatten(), x.flatten()), op.name


@pytest.mark.parametrize("dropout", ["Dropout", "AlphaDropout", "FeatureAlphaDropout"])
def test_dropout_on_output_fires_for_every_dropout(dropout):
    text = ("inputs: {x: {shape: [N, 16]}}\nloss: cross_entropy\nlayers:\n"
            f"  - {{op: Linear, out_features: 4}}\n  - {{op: {dropout}, p: 0.5}}\n")
    fired = [d.rule for d in specc.check(text).diagnostics]
    assert fired == ["dropout-on-output"], fired


LAYOUT_OF_CATEGORY = {"conv": "channels-first", "pool": "channels-first",
                      "linear": "features-last", "embedding": "features-last",
                      "recurrent": "features-last", "activation": "keeps", "dropout": "keeps",
                      "math": "keeps"}


def test_every_op_of_a_category_declares_its_layout():
    """Where an op keeps its features (channels-first, features-last, or its input's): the
    layout rules (channels-layout, class-axis, softmax-axis) read it, never op names."""
    for op in OPS.values():
        if op.category in LAYOUT_OF_CATEGORY:
            assert op.layout == LAYOUT_OF_CATEGORY[op.category], op.name
        if op.channel_norm or op.batch_stats:
            assert op.layout == "channels-first", op.name
        if op.sequence_masks is not None:
            assert op.category == "attention" and op.layout == "features-last", op.name
        if op.category in ("shape", "merge", "reduce", "parameter"):
            assert op.layout is None, op.name  # they move or mix axes: layout unknown after
    assert {op.name for op in OPS.values() if op.category == "norm"
            and op.layout == "features-last"} == {"LayerNorm", "RMSNorm"}


def test_look_through_traits():
    """keeps_meaning: pooling and upsampling keep the sign and per-channel meaning;
    batch_stats: exactly the BatchNorms; saturates: sigmoid and tanh."""
    assert {op.name for op in OPS.values() if op.keeps_meaning} == \
        {op.name for op in by_category("pool")} | {"Upsample"}
    assert {op.name for op in OPS.values() if op.batch_stats} == \
        {f"BatchNorm{n}d" for n in (1, 2, 3)}
    assert {op.name for op in OPS.values() if op.saturates} == {"Sigmoid", "Tanh"}
    assert {op.name for op in OPS.values() if op.encodes_position} == \
        {"RotaryEmbedding", "positions"}


def test_every_attention_op_declares_its_masks_as_torch_names_them():
    """sequence_masks are the op's own flags, named as torch's forward arguments."""
    import inspect

    torch = pytest.importorskip("torch")
    attending = {op.name for op in by_category("attention") if op.sequence_masks is not None}
    assert attending == {op.name for op in by_category("attention")} - {"RotaryEmbedding"}
    for name in attending:
        op = OPS[name]
        assert op.sequence_masks and all(flag in op.param_map for flag in op.sequence_masks), name
        cls = getattr(torch.nn, name, None)
        if cls is not None:
            forward = inspect.signature(cls.forward).parameters
            assert all(flag in forward for flag in op.sequence_masks), name
    assert OPS["TransformerDecoderLayer"].self_and_cross
    assert OPS["scaled_dot_product_attention"].mask_input == 3  # query, key, value, attn_mask


_REQUIRED_ARGS = {"GroupNorm": ", num_groups: 2", "LocalResponseNorm": ", size: 3",
                  "Threshold": ", threshold: 0.1, value: 0.0", "Softmax": ", dim: 1",
                  "LogSoftmax": ", dim: 1", "Softmin": ", dim: 1",
                  "StochasticDepth": ", p: 0.2, mode: row"}


def test_keeps_shape_ops_give_back_their_input_shape_in_torch():
    """keeps_shape lets inference go on past a refused size (issue 15): torch must really
    give back the input's shape and dtype for every op that declares it."""
    torch = pytest.importorskip("torch")
    kept = [op for op in OPS.values() if op.keeps_shape]
    assert {op.category for op in kept} == {"activation", "dropout", "norm", "misc"}
    for category in ("dropout", "norm"):
        assert all(op.keeps_shape for op in by_category(category)), category
    assert {op.name for op in by_category("activation") if not op.keeps_shape} == {"GLU"}
    for op in kept:
        shape = [2, 4] + [6] * (op.spatial_rank or 2)
        text = (f"inputs:\n  x: {{shape: {shape}}}\nlayers:\n"
                f"  - {{op: {op.name}{_REQUIRED_ARGS.get(op.name, '')}}}\n")
        model = specc.build(text).eval()
        x = torch.randn(*shape)
        with torch.no_grad():
            y = model(x)
        assert y.shape == x.shape and y.dtype == x.dtype, op.name
