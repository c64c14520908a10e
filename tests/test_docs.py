"""Generated docs are current, and the documented codes are the ones the code uses."""
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_generated_docs_are_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_docs", ROOT / "docs" / "make_docs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "errors.md").read_text() == module.render(), \
        "run: python3 docs/make_docs.py"
    assert (ROOT / "docs" / "ops.md").read_text() == module.render_ops(), \
        "run: python3 docs/make_docs.py"


def test_every_error_code_in_the_source_is_documented():
    from specc.errors import ERROR_CODES

    used = set()
    for path in (ROOT / "specc").rglob("*.py"):
        used |= set(re.findall(r'"(E\d{3})"', path.read_text()))
    assert used <= set(ERROR_CODES), used - set(ERROR_CODES)


def test_reserved_names_cover_nn_module_attributes():
    pytest.importorskip("torch")
    import subprocess
    import sys

    from specc.expand import MODULE_ATTRS

    # torch's own nn.Module, in a fresh interpreter: importing transformers (the HF tests)
    # adds attributes such as smart_apply to nn.Module in this process
    names = subprocess.run([sys.executable, "-c", "import torch; print(*dir(torch.nn.Module))"],
                           capture_output=True, text=True, check=True).stdout.split()
    public = {n for n in names if not n.startswith("_")}
    assert public <= MODULE_ATTRS, sorted(public - MODULE_ATTRS)
