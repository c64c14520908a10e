"""L204 activation-on-output: a range-restricting activation on logits or a regression output."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._flow import PASS_THROUGH
from specc.lint.rules._losses import CLASSIFICATION_TASKS, LOGIT_LOSSES, REGRESSION_LOSSES
from specc.lint.rules._paths import OUTPUT_RANGE, SOFTMAX_LIKE, producer

_RESTRICTING = {op for op, r in OUTPUT_RANGE.items() if r in ("nonneg", "bounded", "nonpos")}


@rule(codes.ACTIVATION_ON_OUTPUT)
def activation_on_output(graph, facts):
    for name, ref in graph.outputs:
        loss = graph.loss.get(name)
        logits = loss in LOGIT_LOSSES or (loss is None and graph.task in CLASSIFICATION_TASKS)
        regression = loss in REGRESSION_LOSSES or (loss is None and graph.task == "regression")
        last = producer(ref.node, through=PASS_THROUGH)
        if logits and last.op in SOFTMAX_LIKE:
            continue  # softmax-before-loss reports these
        if (logits or regression) and last.op in _RESTRICTING:
            use = "logits" if logits else "a regression output"
            via = "" if last is ref.node else f" (through {ref.node.op})"
            yield last, f"{last.op} restricts output '{name}'{via}, which is used as {use}"
