"""Stage 5 — lint: rules over the inferred graph (see :mod:`specc.lint.registry`)."""
from specc.lint.registry import RULES, Rule, run_lints

__all__ = ["RULES", "Rule", "run_lints"]
