"""Smoke runs of the benchmarks with tiny sizes: they still work end to end.
(No timing is asserted — timings are reported in the README, not tested.)"""
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def test_check_speed_quick():
    out = subprocess.run([sys.executable, "benchmarks/check_speed.py", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "| deep MLP | 100 |" in out.stdout and "ResNet-like" in out.stdout


def test_build_overhead_quick():
    pytest.importorskip("torch")
    out = subprocess.run([sys.executable, "benchmarks/build_overhead.py", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "ResNet-18, batch 8" in out.stdout


@pytest.mark.parametrize("argv,heavy", [
    (["--version"], ("yaml", "torch", "jsonschema", "graphviz")),
    (["check", "specs/resnet50.yaml", "-q"], ("torch", "jsonschema", "graphviz")),
])
def test_commands_import_only_what_they_use(argv, heavy):
    code = ("import sys, specc.cli\n"
            f"try:\n    specc.cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr


def test_scaling_quick():
    """benchmarks/scaling.py runs end to end (it reports ratios; nothing is timed here)."""
    out = subprocess.run([sys.executable, "benchmarks/scaling.py", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "| check |" in out.stdout and "| render (DOT) |" in out.stdout
