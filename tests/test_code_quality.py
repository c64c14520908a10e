"""The code habits of issue 12, as tests so the README's test command and CI run them:
`ruff check` (pyflakes, bugbear, unused arguments) and `mypy`, both configured in
pyproject.toml. Skipped only where the tool is not installed."""
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _tool(name: str) -> list[str]:
    """The tool next to this Python (a venv), else on PATH."""
    local = ROOT.parent / "venv" / "bin" / name
    beside = __import__("pathlib").Path(sys.executable).with_name(name)
    for candidate in (beside, local):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [found]


def test_ruff_check_passes():
    out = subprocess.run(_tool("ruff") + ["check", "specc"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_passes():
    out = subprocess.run(_tool("mypy"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
