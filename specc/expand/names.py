"""Names in a spec: which module and input names are allowed, and 'did you mean' hints."""
from __future__ import annotations

import keyword
import re

from specc.errors import Loc

# always .fullmatch: `$` would let a name end in "\n"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A module name may also hold '-' after its first character: torch allows any name without
# a '.', and torchvision's RegNet names its blocks "block1-0" (AnyStage.add_module)
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
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


def check_name(name, loc: Loc, what: str, attribute: bool = True) -> None:
    """Inputs become Python parameters (identifiers); modules may also use '-'. A name
    that is not an ``attribute`` of the generated module (a functional node's: only a
    value in forward) may also be one of nn.Module's attribute names (`half`, `float`)."""
    pattern = IDENTIFIER if what == "input" else MODULE_NAME
    if not isinstance(name, str) or not pattern.fullmatch(name):
        allowed = "letters, digits and _" if what == "input" else "letters, digits, _ and -"
        raise NodeError("E203", f"{what} name {name!r} is not a valid name "
                        f"({allowed}, not starting with a digit)", loc)
    # `self`, `torch` and `nn` are fine as module names (BERT's attention.self): the
    # generated code renames its local variables, never the modules
    if keyword.iskeyword(name) or name.startswith("__") or (attribute and name in MODULE_ATTRS) \
            or (what == "input" and name in ("self", "torch", "nn")):
        raise NodeError("E203", f"{what} name '{name}' is reserved (a Python keyword or "
                        "an nn.Module attribute)", loc,
                        hint=f"rename it, e.g. '{name}_'")


SUGGEST_CANDIDATES = 2_000  # names one "did you mean" compares with, at most


def suggest(word: str, options) -> str | None:
    """"did you mean 'x'?" for the closest option, or None.

    Bounded work: only options of about the same length can pass difflib's 0.6 cutoff, and
    of those at most SUGGEST_CANDIDATES (the ones sharing the first letter first) are
    compared, so a model with 50,000 names does not make one typo cost seconds."""
    import difflib  # only on the error path

    word = str(word)
    close_length = [str(o) for o in options if abs(len(str(o)) - len(word)) <= max(2, len(word) // 2)]
    if len(close_length) > SUGGEST_CANDIDATES:
        first = [o for o in close_length if o[:1] == word[:1]]
        close_length = (first + [o for o in close_length if o[:1] != word[:1]])[
            :SUGGEST_CANDIDATES]
    close = difflib.get_close_matches(word, close_length, n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else None


def join(prefix: str, name: str) -> str:
    """A module path: `name` inside the module at `prefix` ("" is the model)."""
    return f"{prefix}.{name}" if prefix else name
