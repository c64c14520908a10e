"""Names in a spec: which module and input names are allowed, and 'did you mean' hints."""
from __future__ import annotations

import keyword
import re

from specc.errors import Loc

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Attributes of torch.nn.Module: a submodule with one of these names would shadow them.
# tests/test_names.py checks this list against dir(torch.nn.Module).
MODULE_ATTRS = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda
double dump_patches eval extra_repr float forward get_buffer get_extra_state get_parameter
get_submodule half ipu load_state_dict modules mtia named_buffers named_children
named_modules named_parameters parameters register_backward_hook register_buffer
register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook
register_load_state_dict_pre_hook register_module register_parameter
register_state_dict_post_hook register_state_dict_pre_hook requires_grad_
set_extra_state set_submodule share_memory smooth_l1_loss state_dict to to_empty train
training type xpu zero_grad
""".split())


class NodeError(Exception):
    """One node cannot be expanded; the expander reports it and carries on with the next."""

    def __init__(self, code: str, message: str, loc: Loc, hint: str | None = None):
        self.code, self.loc, self.hint = code, loc, hint
        super().__init__(message)


def check_name(name, loc: Loc, what: str) -> None:
    if not isinstance(name, str) or not IDENTIFIER.match(name):
        raise NodeError("E203", f"{what} name {name!r} is not a valid identifier "
                        "(letters, digits and _, not starting with a digit)", loc)
    # `self`, `torch` and `nn` are fine as attribute names (BERT's attention.self): the
    # generated code renames its local variables, never the modules
    if keyword.iskeyword(name) or name.startswith("__") or name in MODULE_ATTRS:
        raise NodeError("E203", f"{what} name '{name}' is reserved (a Python keyword or "
                        "an nn.Module attribute)", loc,
                        hint=f"rename it, e.g. '{name}_'")


def suggest(word: str, options) -> str | None:
    import difflib  # only on the error path

    close = difflib.get_close_matches(str(word), [str(o) for o in options], n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def join(prefix: str, name: str) -> str:
    """A module path: `name` inside the module at `prefix` ("" is the model)."""
    return f"{prefix}.{name}" if prefix else name
