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
