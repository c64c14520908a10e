"""Every lint rule; each module registers its rules on import."""
from specc.lint.rules import architecture, config, loss, meta  # noqa: F401
