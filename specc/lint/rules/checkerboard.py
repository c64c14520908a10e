"""L318 checkerboard: a transposed convolution whose kernel the stride does not divide."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import op_of
from specc.ops.ptypes import as_tuple


@rule(codes.CHECKERBOARD)
def checkerboard(graph, facts):
    for node in graph.nodes:
        op = op_of(node)
        # a transposed convolution: a conv whose windows spread out instead of flooring
        if op.category != "conv" or op.floors_windows or node.out_types is None:
            continue
        nd = op.spatial_rank
        kernels = as_tuple(node.attrs["kernel_size"], nd)
        strides = as_tuple(node.attrs.get("stride", 1), nd)
        uneven = [(k, s) for k, s in zip(kernels, strides) if s > 1 and k % s]
        if uneven:
            k, s = uneven[0]
            yield node, (f"{node.id}: kernel {k} is not divisible by stride {s}, so the output "
                         "patches overlap unevenly (checkerboard artifacts)"), \
                node.attr_locs.get("kernel_size")
