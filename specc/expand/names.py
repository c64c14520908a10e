"""Names in a spec: which module and input names are allowed, and 'did you mean' hints."""
from __future__ import annotations

import keyword
import re
import unicodedata

from specc.errors import Loc

# always .fullmatch: `$` would let a name end in "\n"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A module name is an attribute name, as torch's add_module takes it: any non-empty string
# without '.' (torchvision's RegNet has "block1-0", nn.Sequential "0"). specc refuses
# besides only what collides with the spec's own syntax, and characters no one can see.
SYNTAX_CHARACTERS = {
    ".": "'.', which separates the parts of a module path (`from: block.output`, "
         "state_dict keys); torch refuses it too",
    "$": "'$', which starts an expression in a spec, so `from:` could not name the module",
}
# Unicode categories refused in module names: C0/C1 controls (Cc), format characters such
# as bidi overrides and zero-width joiners (Cf), line/paragraph separators (Zl, Zp),
# surrogates (Cs): they would reach terminals, diagrams and reports unseen or reorder them
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
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


def module_name_problem(name) -> str | None:
    """Why ``name`` cannot name a module, parameter or buffer (None: it can)."""
    if not isinstance(name, str) or not name:
        return "a module name is a non-empty string"
    for ch in name:
        if ch in SYNTAX_CHARACTERS:
            return f"it contains {SYNTAX_CHARACTERS[ch]}"
        if unicodedata.category(ch) in INVISIBLE_CATEGORIES:
            what = unicodedata.name(ch, "a control character")
            return (f"it contains U+{ord(ch):04X} ({what}), a control or format character: "
                    "it would reach terminals, diagrams and reports unseen")
    return None


def identifier_problem(name) -> str | None:
    """Why ``name`` cannot be an input, var, block or symbol name: those become Python
    names (forward's parameters) or are read in expressions (None: it can)."""
    if isinstance(name, str) and IDENTIFIER.fullmatch(name):
        return None
    return "it is not a Python-style name (letters, digits and _, not starting with a digit)"


def check_name(name, loc: Loc, what: str, attribute: bool = True) -> None:
    """Inputs become Python parameters (identifiers); a module's name is an attribute name
    (:func:`module_name_problem`). A name that is not an ``attribute`` of the generated
    module (a functional node's: only a value in forward) may also be one of nn.Module's
    attribute names (`half`, `float`)."""
    problem = identifier_problem(name) if what == "input" else module_name_problem(name)
    if problem is not None:
        raise NodeError("E203", f"{what} name {name!r} is not allowed: {problem}", loc)
    # `self`, `torch`, `nn` and keywords are fine as module names (BERT's attention.self):
    # the generated code renames its local variables and uses getattr, never renames modules
    if name.startswith("__") or (attribute and name in MODULE_ATTRS) or (
            what == "input" and (keyword.iskeyword(name) or name in ("self", "torch", "nn"))):
        raise NodeError("E203", f"{what} name '{name}' is reserved (a Python keyword, a "
                        "name starting with __ or an nn.Module attribute)", loc,
                        hint=f"rename it, e.g. '{name.lstrip('_') or 'x'}_'")


def plain_attribute(name: str) -> bool:
    """Whether generated Python may write ``obj.name``: an identifier that is no keyword,
    not mangled (``__x`` inside a class) and unchanged by NFKC (Python reads ``self.ﬁ`` as
    ``self.fi``). Other names are reached with getattr/setattr."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__") \
        and unicodedata.normalize("NFKC", name) == name


SUGGEST_CANDIDATES = 2_000  # names one "did you mean" compares with, at most


def suggest(word: str, options) -> str | None:
    """"did you mean 'x'?" for the closest option, or None."""
    match = closest(word, options)
    return f"did you mean '{match}'?" if match is not None else None


def misspelt_required(word: str, options, missing) -> str | None:
    """The required parameter that the unknown ``word`` most likely misspells: its closest
    option when that is one of ``missing`` (required and not given), else None. Unknown
    'out_featurs' and missing 'out_features' are then one mistake: its diagnostic (E103)
    says both, and the missing parameter gets no E105 of its own."""
    if not missing:
        return None
    match = closest(word, options)
    return match if match is not None and match in missing else None


def unknown_misspelling(what: str, word: str, required: str) -> str:
    """The E103 message of an unknown ``word`` that misspells a missing ``required`` one."""
    return f"{what} '{word}' — did you mean '{required}' (required, missing)?"


def closest(word: str, options) -> str | None:
    """The option closest to ``word`` (difflib, cutoff 0.6), or None.

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
    return close[0] if close else None


def join(prefix: str, name: str) -> str:
    """A module path: `name` inside the module at `prefix` ("" is the model)."""
    return f"{prefix}.{name}" if prefix else name
