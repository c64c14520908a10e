"""Test configuration: deterministic Hypothesis runs (no example database, fixed seeds),
so CI on a fresh clone runs exactly what ran here."""
from hypothesis import settings

settings.register_profile("specc", database=None, derandomize=True, deadline=None)
settings.load_profile("specc")
