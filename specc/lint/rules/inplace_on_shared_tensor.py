"""L306 inplace-on-shared-tensor: an in-place op overwrites a tensor another node still reads."""
from specc import codes
from specc.lint.registry import rule
from specc.lint.rules._paths import op_of


@rule(codes.INPLACE_ON_SHARED_TENSOR)
def inplace_on_shared(graph, facts):
    for node in graph.nodes:
        if not node.attrs.get("inplace") or not node.inputs:
            continue
        source = node.inputs[0].node
        readers = [u for u in facts.users(source) if u is not node]
        if source.op == "input" or op_of(source).category == "parameter":
            yield node, f"{node.op}(inplace) overwrites {source.op} '{source.id}'", \
                node.attr_locs.get("inplace")
        elif readers:
            yield node, (f"{node.op}(inplace) overwrites the output of {source.id}, which "
                         f"{readers[0].id} also reads"), node.attr_locs.get("inplace")
