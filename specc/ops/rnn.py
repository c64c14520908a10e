"""RNN, LSTM and GRU.

Inputs: ``x``, then optionally ``lengths`` (a 1-D integer tensor: the built module packs
the batch with ``pack_padded_sequence(enforce_sorted=False)`` and pads it back to the
input's length), then optionally the initial state ``h_0`` (and ``c_0`` for LSTM).
Outputs: ``output``, ``h_n`` (and ``c_n`` for LSTM).
"""
from __future__ import annotations

from specc import codes
from specc.ops._util import numel
from specc.ops.activation import check_dropout
from specc.ops.base import (EmitCtx, InferCtx, Layout, LayoutCtx, OpDef, Param, Saved, SaveCtx,
                            register)
from specc.tensor import INT_DTYPES, TensorType

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _params(name: str) -> list[Param]:
    params = [Param("input_size", "posint", inferred=True, doc="features per step (inferred)"),
              Param("hidden_size", "posint"), Param("num_layers", "posint", 1)]
    if name == "RNN":
        params.append(Param("nonlinearity", "str", "tanh", choices=("tanh", "relu")))
    params += [Param("bias", "bool", True), Param("batch_first", "bool", False),
               Param("dropout", "float", 0.0), Param("bidirectional", "bool", False)]
    if name == "LSTM":
        params.append(Param("proj_size", "nonneg", 0))
    return params


def split_inputs(inputs: list[TensorType]):
    """(x, lengths or None, initial states) from the node's inputs."""
    x, rest = inputs[0], list(inputs[1:])
    lengths = None
    if rest and rest[0].dtype in INT_DTYPES and rest[0].rank == 1:
        lengths = rest.pop(0)
    return x, lengths, rest


def _infer(name: str):
    def infer(ctx: InferCtx):
        x, lengths, states = split_inputs(ctx.inputs)
        ctx.need_float()
        a = ctx.attrs
        if x.rank not in (2, 3):
            ctx.fail(f"{name} expects a 3-D input ({'N, T' if a['batch_first'] else 'T, N'}, "
                     f"features) or 2-D unbatched (T, features), got {x}")
        ctx.infer_attr("input_size", x.shape[-1], "feature size (last dim)")
        check_dropout(ctx)
        proj = a.get("proj_size", 0)
        if proj and proj >= a["hidden_size"]:
            ctx.fail("LSTM: proj_size has to be smaller than hidden_size", "proj_size",
                     code=codes.TORCH_REJECTS)
        h_out = proj or a["hidden_size"]
        dirs = 2 if a["bidirectional"] else 1
        if x.rank == 3:
            batch = x.shape[0] if a["batch_first"] else x.shape[1]
            state_batch: tuple = (batch,)
        else:
            state_batch = ()
        if lengths is not None:
            if x.rank != 3:
                ctx.fail(f"{name}: lengths need a batched 3-D input")
            if lengths.shape[0] != state_batch[0]:
                ctx.fail(f"{name}: lengths has {lengths.shape[0]} entries for a batch of "
                         f"{state_batch[0]}")
        h_shape = (dirs * a["num_layers"], *state_batch, h_out)
        c_shape = (dirs * a["num_layers"], *state_batch, a["hidden_size"])
        want = [h_shape, c_shape] if name == "LSTM" else [h_shape]
        if states and len(states) != len(want):
            ctx.fail(f"{name} takes {len(want)} initial state tensor(s), got {len(states)}")
        for got, shape in zip(states, want):
            if got.shape != shape:
                ctx.fail(f"{name}: initial state {got} does not match the expected "
                         f"{TensorType(shape)}", code=codes.SIZE_DISAGREES)
        outs = [x.with_shape((*x.shape[:-1], dirs * h_out)), x.with_shape(h_shape)]
        if name == "LSTM":
            outs.append(x.with_shape(c_shape))
        return outs
    return infer


def _layer_sizes(a: dict):
    """(input size, output size) of each layer × direction."""
    h_out = a.get("proj_size", 0) or a["hidden_size"]
    dirs = 2 if a["bidirectional"] else 1
    for layer in range(a["num_layers"]):
        size_in = a["input_size"] if layer == 0 else dirs * h_out
        for _ in range(dirs):
            yield size_in, h_out


def _count(name: str):
    def count(a: dict) -> int:
        g, h = _GATES[name], a["hidden_size"]
        total = 0
        for size_in, h_out in _layer_sizes(a):
            total += g * h * (size_in + h_out) + (2 * g * h if a["bias"] else 0)
            if a.get("proj_size", 0):
                total += h * a["proj_size"]
        return total
    return count


def _macs(name: str):
    def macs(ctx: InferCtx, _outs):
        a, g, h = ctx.attrs, _GATES[name], ctx.attrs["hidden_size"]
        x = ctx.inputs[0]
        steps = x.shape[:-1]  # every (batch, time) position runs every layer
        per_step = sum(g * h * (si + ho) + (h * a.get("proj_size", 0))
                       for si, ho in _layer_sizes(a))
        total = per_step
        for d in steps:
            total = total * d
        return total
    return macs


# Bytes of oneDNN's LSTM workspace per layer direction, measured on CPU (torch 2.x) over
# T = 3..31, N = 1..5, input 16..600, hidden 64..512 (least squares over the larger
# buffers): an opaque buffer of ~61 B per (step + 1, sample, hidden unit) in float32
# (43.5 B in bfloat16/float16), plus ~24 B (20 B) per (step + 1, sample) and input
# feature beyond the hidden size (its state buffers are max(input, hidden) wide); in 4 KiB
# pages, at least 28 KiB, which only tiny shapes notice (within 3% from ~400 KiB up).
# CUDA (cuDNN) keeps a different reserve.
_LSTM_WORKSPACE = {"float32": 61.0, "float64": 122.0, "bfloat16": 43.5, "float16": 43.5}
_LSTM_WIDE_INPUT = {"float32": 24.0, "float64": 48.0, "bfloat16": 20.0, "float16": 20.0}


def _saves(name: str):
    """What the CPU kernels keep for backward, measured per layer and direction:
    RNN one hidden state per step plus the initial one (T·N·H + N·H), GRU seven gate
    values per step (7·T·N·H), LSTM (oneDNN) its output, four N·H state tensors and a
    workspace (see ``_LSTM_WORKSPACE``: "ws" items, sized by memory analysis). Each layer
    also keeps its input once (the data; a transposed copy when batch_first), and
    dropout between layers its mask and result. With ``lengths`` the batch is packed:
    counted at full length, where torch takes the same kernels (ragged lengths switch
    LSTM to a per-step kernel that keeps other, in probes fewer, bytes)."""
    def saves(ctx: SaveCtx) -> list:
        a = ctx.attrs
        x, lengths, _ = split_inputs(ctx.inputs)
        steps, batch = _steps_and_batch(a, x)
        h = a["hidden_size"]
        per_step = steps * batch * h
        dirs = 2 if a["bidirectional"] else 1
        # batch_first: each direction keeps its own time-major copy of the input, unless
        # the transpose is already contiguous (one step or one sample)
        copies = a["batch_first"] and x.rank == 3 and not (steps == 1 or batch == 1)
        out: list = [Saved("new", numel=dirs * numel(x.shape)) if copies
                     else Saved("input", 0)]
        sizes = list(_layer_sizes({**a, "input_size": x.shape[-1]}))
        for layer in range(a["num_layers"]):
            if layer:  # this layer's input (dropout's result), and dropout's mask
                out.append(Saved("new", numel=dirs * per_step))
                if a["dropout"] > 0:
                    out.append(Saved("new", numel=dirs * per_step))
            for _ in range(dirs):
                if name == "RNN":
                    out.append(Saved("new", numel=per_step + batch * h))
                elif name == "GRU":
                    out.append(Saved("new", numel=7 * per_step))
                else:
                    wide = max(sizes[layer * dirs][0] - h, 0)
                    out += [Saved("new", numel=per_step + 4 * batch * h),
                            Saved("new", numel=(steps + 1) * batch * h, dtype=_LSTM_WORKSPACE),
                            Saved("new", numel=(steps + 1) * batch * wide,
                                  dtype=_LSTM_WIDE_INPUT)]
        if lengths is not None:  # the packed batch's batch_sizes and (un)sorted indices
            out.append(Saved("new", numel=steps + 2 * batch, dtype="int64"))
        return out
    return saves


def _workspace(name: str):
    """What the CPU kernels allocate and free inside the layer in eval (no_grad), beyond
    its input and outputs, at their peak, the last layer (a liveness replay of the aten
    ops: within 10% on the bundled specs): zero initial states unless given, and the
    last layer's input — the previous layer's output, or for one layer a time-major
    copy of a batch_first or packed input; GRU's composite kernel also projects every
    step's gates at once (x·W and + b: 2·T·N·3H per direction) and keeps the per-step
    hidden states until it stacks them (T·N·H)."""
    def workspace(ctx: SaveCtx) -> list:
        a = ctx.attrs
        x, lengths, states = split_inputs(ctx.inputs)
        steps, batch = _steps_and_batch(a, x)
        h, layers = a["hidden_size"], a["num_layers"]
        dirs = 2 if a["bidirectional"] else 1
        items = []
        if not states:
            count = 2 if name == "LSTM" else 1
            items.append(Saved("new", numel=count * layers * dirs * batch * h))
        if layers > 1:
            items.append(Saved("new", numel=steps * batch * dirs * h))
        elif a["batch_first"] and x.rank == 3 or lengths is not None:
            items.append(Saved("new", numel=numel(x.shape)))
        if name == "GRU":
            items.append(Saved("new", numel=dirs * steps * batch * 7 * h))
        return items
    return workspace


def _steps_and_batch(a: dict, x: TensorType) -> tuple:
    """(time steps, batch) of the recurrent input: [N, T, F] with batch_first, [T, N, F]
    or unbatched [T, F]."""
    if x.rank == 3:
        return (x.shape[1], x.shape[0]) if a["batch_first"] else tuple(x.shape[:2])
    return x.shape[0], 1


def _emit(name: str):
    def emit(ctx: EmitCtx) -> list[str]:
        x_type, lengths, states = split_inputs(ctx.in_types)
        x, args = ctx.args[0], list(ctx.args[1:])
        lengths_arg = args.pop(0) if lengths is not None else None
        state = ""
        if args:
            state = f", ({', '.join(args)})" if name == "LSTM" else f", {args[0]}"
        result = ctx.outs[0] if lengths_arg is None else f"_{ctx.outs[0]}_packed"
        unpack = f"{result}, ({ctx.outs[1]}, {ctx.outs[2]})" if name == "LSTM" \
            else f"{result}, {ctx.outs[1]}"
        if lengths_arg is None:
            return [f"{unpack} = {ctx.module}({x}{state})"]
        bf = ctx.attrs["batch_first"]
        time_axis = 1 if bf else 0
        return [
            f"_{ctx.outs[0]}_in = torch.nn.utils.rnn.pack_padded_sequence({x}, "
            f"{lengths_arg}.cpu(), batch_first={bf}, enforce_sorted=False)",
            f"{unpack} = {ctx.module}(_{ctx.outs[0]}_in{state})",
            f"{ctx.outs[0]}, _ = torch.nn.utils.rnn.pad_packed_sequence({result}, "
            f"batch_first={bf}, total_length={x}.size({time_axis}))",
        ]
    return emit


def _output_layout(ctx: LayoutCtx) -> dict:
    """batch_first: the output is the time-major result transposed, [N, T, H] with the
    strides of [T, N, H] (a packed batch, with 1-D lengths, is padded into a fresh
    tensor)."""
    x = ctx.inputs[0]
    packed = len(ctx.inputs) > 1 and len(ctx.inputs[1].sizes) == 1
    if not ctx.attrs["batch_first"] or len(x.sizes) != 3 or packed:
        return {}
    batch, time, features = ctx.outputs[0]
    return {0: Layout.contiguous((time, batch, features)).permuted((1, 0, 2))}


for _name in ("RNN", "LSTM", "GRU"):
    register(OpDef(
        _name, "module", _params(_name), _infer(_name),
        doc=f"torch.nn.{_name}. Inputs: x [, lengths] [, initial state]. "
            f"Outputs: output, h_n{', c_n' if _name == 'LSTM' else ''}.",
        category="recurrent", n_inputs=(1, 4), layout="features-last",
        outputs=("output", "h_n", "c_n") if _name == "LSTM" else ("output", "h_n"),
        count_params=_count(_name), macs=_macs(_name), emit=_emit(_name), saves=_saves(_name),
        workspace=_workspace(_name),
        layouts=_output_layout,
        param_tensors=lambda a: (2 * a["num_layers"] * (2 if a["bidirectional"] else 1)
                                 * (2 if a["bias"] else 1)
                                 + (a["num_layers"] * (2 if a["bidirectional"] else 1)
                                    if a.get("proj_size") else 0)),
        key_args=lambda a: f"{a['hidden_size']}×{a['num_layers']}"
                           + (" bi" if a["bidirectional"] else "")))
