"""L315 flatten-batch: a flatten that folds the batch into the features."""
from specc.lint.registry import rule
from specc.lint.rules._flow import is_batch_dim


@rule("L315", "flatten-batch", "warning",
      "flatten from dim 0 swallows the batch",
      """
torch.flatten starts at dim 0 by default (nn.Flatten starts at 1). On a batch the result is
one long vector: the next Linear mixes samples, and needs in_features = batch × features,
which breaks (or silently learns nonsense) at any other batch size.

Bad:   [{op: AdaptiveAvgPool2d, output_size: 1}, {op: flatten}, {op: Linear, out_features: 10}]
Good:  [{op: AdaptiveAvgPool2d, output_size: 1}, {op: flatten, start_dim: 1}, {op: Linear, out_features: 10}]
""", "flatten with start_dim: 1 (or use Flatten, which starts at 1)")
def flatten_batch(graph, facts):
    batch_sizes = {n.out_types[0].shape[0] for n in graph.inputs
                   if n.out_types and n.out_types[0].rank >= 2}
    for node in graph.nodes:
        if node.op not in ("flatten", "Flatten") or node.out_types is None:
            continue
        t = node.inputs[0].type
        if t.rank < 2 or node.attrs.get("start_dim", 0) % t.rank != 0 \
                or node.out_types[0].rank != 1:
            continue
        if is_batch_dim(t.shape[0], graph) or t.shape[0] in batch_sizes:
            yield node, (f"{node.op} from dim 0 turns the batch {t} into one vector "
                         f"{node.out_types[0]}: the samples are mixed"), \
                node.attr_locs.get("start_dim")
