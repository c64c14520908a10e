"""L313 rnn-readout: reading a recurrent layer's summary from the wrong place."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import RECURRENT


@rule(codes.RNN_READOUT)
def rnn_readout(graph, facts):
    for rnn in graph.nodes:
        if rnn.op not in RECURRENT or rnn.out_types is None:
            continue
        yield from _output_reads(rnn, facts)
        yield from _state_reads(rnn, facts)


def _selects(rnn, facts, output: str):
    index = rnn.output_names.index(output)
    for user, pos in facts.consumers.get(rnn.id, []):
        if user.op == "select" and user.inputs[pos].index == index and pos == 0:
            yield user


def _output_reads(rnn, facts):
    a = rnn.attrs
    time_axis = 1 if a.get("batch_first") else 0
    packed = any(r.type is not None and r.type.rank == 1 and r.type.dtype.startswith("int")
                 for r in rnn.inputs[1:])
    for sel in _selects(rnn, facts, "output"):
        rank = rnn.out_types[0].rank
        if sel.attrs["dim"] % rank != time_axis or sel.attrs["index"] != -1:
            continue
        if a.get("bidirectional"):
            yield sel, (f"{sel.id} takes the last step of {rnn.id}'s output, but {rnn.op} is "
                        "bidirectional: there the backward direction has seen only one step")
        elif packed:
            yield sel, (f"{sel.id} takes the last step of {rnn.id}'s output, but the sequences "
                        "are packed by lengths: for every shorter sequence that step is padding")


def _state_reads(rnn, facts):
    a = rnn.attrs
    directions = 2 if a.get("bidirectional") else 1
    layers = a.get("num_layers", 1)
    total = layers * directions
    reads = [s for s in _selects(rnn, facts, "h_n") if s.attrs["dim"] == 0]
    indices = {s.attrs["index"] % total for s in reads}
    for sel in reads:
        index = sel.attrs["index"] % total
        layer = index // directions
        if layer < layers - 1:
            yield sel, (f"{sel.id} reads h_n[{sel.attrs['index']}] of {rnn.id}: layer {layer + 1} "
                        f"of {layers}, not the top layer (h_n[-1])"), sel.attr_locs.get("index")
        elif directions == 2 and len({i for i in indices if i // 2 == layers - 1}) == 1:
            which = "backward" if index % 2 else "forward"
            yield sel, (f"{sel.id} reads only h_n[{sel.attrs['index']}] of the bidirectional "
                        f"{rnn.id}: the {which} direction alone; the top layer's summary is "
                        "both h_n[-2] and h_n[-1]"), sel.attr_locs.get("index")
