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


def test_version_imports_nothing_heavy():
    code = ("import sys, runpy; sys.argv = ['specc', '--version']\n"
            "try:\n    runpy.run_module('specc', run_name='__main__')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('yaml', 'torch', 'jsonschema', 'graphviz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr


def test_check_imports_neither_torch_nor_jsonschema():
    code = ("import sys, specc.cli\n"
            "specc.cli.main(['check', 'specs/resnet50.yaml', '-q'])\n"
            "print(sorted(m for m in ('torch', 'jsonschema', 'graphviz') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr
