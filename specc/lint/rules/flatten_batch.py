"""L315 flatten-batch: a flatten that folds the batch into the features."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import is_batch_dim


@rule(codes.FLATTEN_BATCH)
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
        if is_batch_dim(t.shape[0], facts) or t.shape[0] in batch_sizes:
            yield node, (f"{node.op} from dim 0 turns the batch {t} into one vector "
                         f"{node.out_types[0]}: the samples are mixed"), \
                node.attr_locs.get("start_dim")
