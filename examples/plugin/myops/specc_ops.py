"""specc declarations of this project's ops. `specc check` imports this module, so it
imports no torch: the module class is named by its import path and imported by `build`."""
from specc.plugin import InferCtx, Param, SaveCtx, Saved, function_op, module_op


def _gate_hidden(attrs: dict) -> int:
    return max(1, attrs["channels"] // attrs["reduction"])


def _gate_infer(ctx: InferCtx):
    t = ctx.need_rank(4)  # (N, C, H, W)
    ctx.need_float()
    ctx.infer_attr("channels", t.shape[1], "channel count")
    if ctx.attrs["reduction"] > ctx.attrs["channels"]:
        ctx.fail(f"ChannelGate: reduction {ctx.attrs['reduction']} is larger than the "
                 f"{ctx.attrs['channels']} channels", "reduction")
    return [t]  # the gate rescales channels: same shape and dtype


def _gate_params(attrs: dict) -> int:
    c, h = attrs["channels"], _gate_hidden(attrs)
    return c * h + h + h * c + c  # two 1×1 convs with biases


def _gate_macs(ctx: InferCtx, _outs) -> int:
    c, h = ctx.attrs["channels"], _gate_hidden(ctx.attrs)
    return 2 * c * h * ctx.inputs[0].shape[0]  # two 1×1 convs on the pooled (N, C, 1, 1)


def _gate_saves(ctx: SaveCtx) -> list:
    """What autograd keeps in training (for `specc check --memory`): the input (for the
    final product), and the small pooled, hidden and gate tensors."""
    t = ctx.inputs[0]
    n, c, h = t.shape[0], ctx.attrs["channels"], _gate_hidden(ctx.attrs)
    return [Saved("input", 0), Saved("new", numel=n * c), Saved("new", numel=n * h),
            Saved("new", numel=n * c)]


def _clip_infer(ctx: InferCtx):
    if ctx.attrs["low"] > ctx.attrs["high"]:
        ctx.fail("clip: low must not be above high", "low")
    return [ctx.inputs[0]]


def _clip_emit(ctx) -> list[str]:
    a = ctx.attrs
    return [f"{ctx.outs[0]} = torch.clamp({ctx.args[0]}, {a['low']!r}, {a['high']!r})"]


def specc_ops():
    return [
        module_op(
            "ChannelGate", "myops.layers:ChannelGate",
            [Param("channels", "posint", inferred=True, doc="channels of the input (inferred)"),
             Param("reduction", "posint", 4, doc="hidden width = channels // reduction")],
            _gate_infer, doc="Squeeze-and-excitation channel gate: x * sigmoid(MLP(mean(x)))",
            count_params=_gate_params, macs=_gate_macs, saves=_gate_saves,
            param_tensors=lambda attrs: 4),
        function_op(
            "clip", [Param("low", "float", doc="lower bound"),
                     Param("high", "float", doc="upper bound")],
            _clip_infer, _clip_emit, doc="torch.clamp(x, low, high)",
            saves=lambda ctx: [Saved("input", 0)]),
    ]
