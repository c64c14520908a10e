"""Every op specc knows. Importing this package registers them all (see base.REGISTRY)."""
from specc.ops import (  # noqa: F401  (imported for their register() calls)
    activation, attention, conv, linear, math, norm, pool, resample, rnn, tensor,
    transformer, window)
from specc.ops.base import REGISTRY, OpDef, Param, get_op

__all__ = ["REGISTRY", "OpDef", "Param", "get_op"]
