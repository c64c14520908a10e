"""Every lint rule, one module per rule named after it (``bias-before-norm`` is
``bias_before_norm.py``); each registers its check on import. Modules starting with ``_``
are helpers the rules share."""
import importlib
import pkgutil

RULE_MODULES = sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))
for _name in RULE_MODULES:
    importlib.import_module(f"{__name__}.{_name}")
