"""The static type of a tensor: shape (ints and symbols) and dtype."""
from __future__ import annotations

from specc.dims import Dim, Sym, dim_json, shape_str
from specc.values import Value

FLOAT_DTYPES = ("float32", "float16", "bfloat16", "float64")
INT_DTYPES = ("int64", "int32", "int16", "int8", "uint8")
DTYPES = FLOAT_DTYPES + INT_DTYPES + ("bool",)
HALF_DTYPES = ("float16", "bfloat16")  # what autocast / --amp run in
ITEMSIZE = {"float64": 8, "float32": 4, "bfloat16": 2, "float16": 2, "int64": 8, "int32": 4,
            "int16": 2, "int8": 1, "uint8": 1, "bool": 1}  # bytes per element
# torch.finfo(dtype).max: a constant beyond it overflows to inf when the model is built in
# that dtype (float32's min is -inf in bfloat16), see EmitCtx.constant
FLOAT_MAX = {"float16": 65504.0, "bfloat16": 3.3895313892515355e38,
             "float32": 3.4028234663852886e38, "float64": 1.7976931348623157e308}


class TensorType(Value):
    """A tensor's shape (ints and symbols) and dtype."""

    __slots__ = ("shape", "dtype")
    shape: tuple
    dtype: str

    def __init__(self, shape: tuple, dtype: str = "float32"):
        self._set_fields(shape, dtype)

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    def with_shape(self, shape) -> "TensorType":
        return TensorType(tuple(shape), self.dtype)

    def __str__(self) -> str:
        text = shape_str(self.shape)
        return text if self.dtype == "float32" else f"{text} {self.dtype}"

    def to_json(self) -> dict:
        return {"shape": [dim_json(d) for d in self.shape], "dtype": self.dtype}


class BroadcastError(Exception):
    pass


def broadcast_shapes(*shapes) -> tuple:
    """torch's broadcasting: align on the right; each pair equal or one of them 1."""
    rank = max(len(s) for s in shapes)
    out: list[Dim] = []
    for axis in range(-rank, 0):
        size: Dim = 1
        for shape in shapes:
            if -axis > len(shape):
                continue
            d = shape[axis]
            if d == 1:
                continue
            if size == 1:
                size = d
            elif d != size:
                if isinstance(d, Sym) or isinstance(size, Sym):
                    raise BroadcastError(
                        f"cannot tell whether {size} and {d} match at dim {axis} "
                        f"(bind the symbols with --dim)")
                raise BroadcastError(f"sizes {size} and {d} differ at dim {axis}")
        out.append(size)
    return tuple(out)


def promote_dtypes(*dtypes: str) -> str:
    """torch.result_type for tensors of these dtypes (no scalars)."""
    order = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16",
             "float32", "float64"]
    present = set(dtypes)
    if {"float16", "bfloat16"} <= present and not present & {"float32", "float64"}:
        return "float32"
    return max(dtypes, key=order.index)
