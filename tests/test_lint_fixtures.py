"""Each lint rule against its fixtures, ruff-style: ``tests/lint_fixtures/<rule_name>/``
holds ``bad*.yaml`` specs whose lines marked ``# expect: rule-name`` are exactly where the
rule reports, and ``ok*.yaml`` near misses where it must stay silent. Adding a rule means
adding its directory (``test_every_rule_has_fixtures`` says which are missing)."""
import re
from pathlib import Path

import pytest

import specc
from specc.lint.registry import RULES, find_rule

FIXTURES = Path(__file__).resolve().parent / "lint_fixtures"
_EXPECT = re.compile(r"#\s*expect:\s*([a-z0-9-]+)")


def _fixtures(kind: str) -> list:
    return sorted((path.parent.name.replace("_", "-"), path)
                  for path in FIXTURES.glob(f"*/{kind}*.yaml"))


def test_every_rule_has_fixtures():
    find_rule("load the registry")
    expected = {r.name for r in RULES.values()} - {"unused-suppression"}  # tested on its own
    for kind in ("bad", "ok"):
        assert {name for name, _ in _fixtures(kind)} == expected, kind


@pytest.mark.parametrize("name, path", _fixtures("bad"), ids=lambda v: getattr(v, "name", v))
def test_rule_reports_exactly_the_marked_lines(name, path):
    text = path.read_text()
    marked = {number for number, line in enumerate(text.splitlines(), 1)
              if (m := _EXPECT.search(line)) and m.group(1) == name}
    assert marked, f"{path}: no line marked `# expect: {name}`"
    found = [d for d in specc.check(text).diagnostics if d.rule == name]
    assert {d.loc.line for d in found} == marked, [d.format() for d in specc.check(text).diagnostics]
    rule = find_rule(name)
    for d in found:
        assert d.loc.col > 0 and d.node and d.code == rule.code and d.severity == rule.severity


@pytest.mark.parametrize("name, path", _fixtures("ok"), ids=lambda v: getattr(v, "name", v))
def test_rule_is_silent_on_the_near_miss(name, path):
    found = specc.check(path.read_text()).diagnostics
    assert name not in [d.rule for d in found], [d.format() for d in found]
