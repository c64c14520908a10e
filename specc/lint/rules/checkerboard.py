"""L318 checkerboard: a transposed convolution whose kernel the stride does not divide."""
from specc.lint.registry import rule
from specc.ops.ptypes import as_tuple


@rule("L318", "checkerboard", "warning",
      "ConvTranspose kernel not divisible by its stride (checkerboard artifacts)",
      """
A strided transposed convolution paints each input onto a kernel-sized patch of the output,
`stride` apart. When the kernel is not a multiple of the stride the patches overlap unevenly:
some output positions get more contributions than their neighbours, a checkerboard pattern
that training has to fight (Odena et al., "Deconvolution and Checkerboard Artifacts", 2016).

Bad:   {op: ConvTranspose2d, out_channels: 64, kernel_size: 3, stride: 2, padding: 1, output_padding: 1}
Good:  {op: ConvTranspose2d, out_channels: 64, kernel_size: 4, stride: 2, padding: 1}
Good:  [{op: Upsample, scale_factor: 2}, {op: Conv2d, out_channels: 64, kernel_size: 3, padding: 1}]
""", "use a kernel divisible by the stride (4 with stride 2), or Upsample + Conv")
def checkerboard(graph, facts):
    for node in graph.nodes:
        if not node.op.startswith("ConvTranspose") or node.out_types is None:
            continue
        nd = int(node.op[-2])
        kernels = as_tuple(node.attrs["kernel_size"], nd)
        strides = as_tuple(node.attrs.get("stride", 1), nd)
        uneven = [(k, s) for k, s in zip(kernels, strides) if s > 1 and k % s]
        if uneven:
            k, s = uneven[0]
            yield node, (f"{node.id}: kernel {k} is not divisible by stride {s}, so the output "
                         "patches overlap unevenly (checkerboard artifacts)"), \
                node.attr_locs.get("kernel_size")
