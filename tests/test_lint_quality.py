"""The lint benchmark (tests/lint_cases, benchmarks/lint_quality.py): every case is well formed."""
import pytest

from benchmarks import lint_quality


@pytest.mark.parametrize("path", lint_quality.buggy_cases(), ids=lambda p: p.name)
def test_buggy_case_names_its_mistake(path):
    expect, mistake = lint_quality.expectation(path)
    assert expect and mistake, path
    # a model, not a two-line toy
    assert sum(1 for line in path.read_text().splitlines() if line.strip().startswith("- ")) >= 3


def test_benchmark_is_large_enough():
    assert len(lint_quality.buggy_cases()) >= 50
    assert len(lint_quality.clean_cases()) >= 40


def test_benchmark_meets_the_targets():
    """Issue 15's targets: the right rule on ≥ 95% of the mistakes a rule owns, some finding on
    ≥ 90% of all mistakes, a warning on at most 1 in 40 clean models."""
    result = lint_quality.measure()
    assert result["right_rule"] >= lint_quality.TARGETS["right_rule"], result["misses"]
    assert result["any_finding"] >= lint_quality.TARGETS["any_finding"], result["silent"]
    assert result["false_positive"] <= lint_quality.TARGETS["false_positive"], \
        result["false_positives"]


def test_benchmark_script_prints_the_table():
    import subprocess
    import sys

    from tests.helpers import ROOT

    out = subprocess.run([sys.executable, "benchmarks/lint_quality.py"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    assert "| right rule on mistakes a rule owns |" in out.stdout and "| rnn-readout |" in out.stdout
