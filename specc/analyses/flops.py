"""FLOPs of a forward pass and of a training step, by op family.

Conventions: one multiply-accumulate (MAC) = 2 FLOPs, so forward FLOPs = 2 × MACs (as
torch.utils.flop_counter counts). The backward of a matrix product costs one product
per gradient it must produce: the weight gradient when the op has parameters, the input
gradient when its input needs one (each op declares this as ``backward_macs`` on its
OpDef; matmul pays once per input that needs a gradient). The first layer, whose input
is data, so pays 1× instead of 2×. The common rule of thumb, training = 3 × forward
(= 6 × MACs), is the upper bound this reaches when every op needs both gradients.
Only MAC-carrying ops (convolutions, linear layers, matmuls, attention, recurrent
layers) are counted, as by torch's flop counter.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from specc.analyses.memory import input_grads, learns, needs_grad, op_of, type_of
from specc.dims import Dim
from specc.ir import Graph
from specc.ops.base import SaveCtx


@dataclass
class Flops:
    forward: Dim = 0  # an eval forward: training-only branches (aux heads) do not run
    backward: Dim = 0
    by_family: dict = field(default_factory=dict)  # category -> {"forward", "backward"}
    training_only_forward: Dim = 0  # what training-only branches add to a training forward

    @property
    def train(self) -> Dim:
        return self.forward + self.training_only_forward + self.backward

    def bound(self, env: dict) -> Flops:
        """The counts with symbols (the batch) bound."""
        from specc.dims import substitute

        def bind(value):
            return substitute(value, env) if env else value

        return Flops(bind(self.forward), bind(self.backward),
                     {k: {"forward": bind(v["forward"]), "backward": bind(v["backward"])}
                      for k, v in self.by_family.items()}, bind(self.training_only_forward))

    def to_json(self) -> dict:
        from specc.dims import dim_json

        return {"convention": "1 MAC = 2 FLOPs; backward = one product per needed gradient",
                "forward": dim_json(self.forward), "backward": dim_json(self.backward),
                "training_only_forward": dim_json(self.training_only_forward),
                "train": dim_json(self.train),
                "by_family": {k: {"forward": dim_json(v["forward"]),
                                  "backward": dim_json(v["backward"])}
                              for k, v in sorted(self.by_family.items())}}


def count_flops(graph: Graph) -> Flops:
    grad = needs_grad(graph)
    result = Flops()
    for node in graph.nodes:
        if node.out_types is None or not node.macs:
            continue
        op = op_of(node)
        forward = 2 * node.macs
        ctx = SaveCtx(node.attrs, [type_of(r) for r in node.inputs], node.out_types,
                      input_grads(node, grad))
        backward = 2 * op.backward_macs(ctx, node.macs, learns(node))
        if node.training_only:
            result.training_only_forward = result.training_only_forward + forward
        else:
            result.forward = result.forward + forward
        result.backward = result.backward + backward
        family = result.by_family.setdefault(op.category, {"forward": 0, "backward": 0})
        if not node.training_only:  # the families split the eval forward, as `forward`
            family["forward"] = family["forward"] + forward
        family["backward"] = family["backward"] + backward
    return result
