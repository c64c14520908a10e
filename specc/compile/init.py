"""`init:` entries → torch.nn.init calls (as generated code, so --emit-python keeps them).

A node's own ``init:`` wins over the spec's per-op-type ``init: {Conv2d: …}``.
Forms: ``kaiming_normal`` (weight only), ``{method: normal, std: 0.01}`` (weight only),
or ``{weight: …, bias: …}``.
"""
from __future__ import annotations

from specc.ir import Graph, Node
from specc.ops.base import get_op

_METHODS = {
    "kaiming_normal": ("kaiming_normal_", ("a", "mode", "nonlinearity")),
    "kaiming_uniform": ("kaiming_uniform_", ("a", "mode", "nonlinearity")),
    "xavier_normal": ("xavier_normal_", ("gain",)),
    "xavier_uniform": ("xavier_uniform_", ("gain",)),
    "normal": ("normal_", ("mean", "std")),
    "trunc_normal": ("trunc_normal_", ("mean", "std", "a", "b")),  # timm/torchvision ViTs, Swin
    "uniform": ("uniform_", ("a", "b")),
    "zeros": ("zeros_", ()),
    "ones": ("ones_", ()),
    "constant": ("constant_", ("value",)),
    "orthogonal": ("orthogonal_", ("gain",)),
}


_TORCH_NAMES = {("constant", "value"): "val"}  # spec option -> torch.nn.init argument


class InitError(Exception):
    pass


def _tensor_specs(spec) -> dict:
    """Normalise an init entry to {tensor name: (method, kwargs)}."""
    if spec is None or spec == "default":
        return {}
    if isinstance(spec, str):
        return {"weight": (spec, {})}
    if "weight" in spec or "bias" in spec:
        out = {}
        for tensor in ("weight", "bias"):
            if tensor in spec:
                out.update({tensor: _tensor_specs(spec[tensor]).get("weight")})
        return {k: v for k, v in out.items() if v}
    kwargs = {k: v for k, v in spec.items() if k != "method"}
    return {"weight": (spec.get("method", "normal"), kwargs)}


def init_code(graph: Graph) -> list[str]:
    lines = []
    for node in graph.nodes:
        spec = node.init if node.init is not None else graph.init.get(node.op)
        for tensor, (method, kwargs) in _tensor_specs(spec).items():
            if tensor == "bias" and node.init is None and not node.attrs.get("bias", True):
                continue  # a per-type bias init is for the layers that have one (torchvision)
            lines.append(_call(node, tensor, method, kwargs))
    return lines


def _call(node: Node, tensor: str, method: str, kwargs: dict) -> str:
    if method not in _METHODS:
        raise InitError(f"{node.id}: unknown init method {method!r} "
                        f"(known: {', '.join(_METHODS)})")
    fn, allowed = _METHODS[method]
    bad = set(kwargs) - set(allowed)
    if bad:
        raise InitError(f"{node.id}: init {method} takes {', '.join(allowed) or 'no options'}, "
                        f"not {', '.join(sorted(bad))}")
    op = get_op(node.op)
    if op.kind == "parameter":
        target = f"model.get_parameter({node.id!r})"
    else:
        if tensor == "bias" and not node.attrs.get("bias", True):
            raise InitError(f"{node.id}: init sets a bias but the layer has bias: false")
        target = f"model.get_submodule({node.id!r}).{tensor}"
    renamed = {_TORCH_NAMES.get((method, k), k): v for k, v in kwargs.items()}
    args = "".join(f", {k}={v!r}" for k, v in renamed.items())
    return f"nn.init.{fn}({target}{args})"
