"""Every lint rule, one module per rule named after it (``bias-before-norm`` is
``bias_before_norm.py``); each registers its check on import. Modules starting with ``_``
are helpers the rules share."""
import importlib
import os

# The rule modules are the .py files here (a listing, not pkgutil.iter_modules: pkgutil
# imports typing, ~2.5 ms of every `specc check`).
RULE_MODULES = sorted(name[:-3] for name in os.listdir(os.path.dirname(__file__))
                      if name.endswith(".py") and not name.startswith("_"))
for _name in RULE_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
