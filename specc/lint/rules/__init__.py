"""Every lint rule; each module registers its rules on import."""
from specc.lint.rules import architecture, implicit_dim, loss  # noqa: F401
