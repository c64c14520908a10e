"""The one table of diagnostic codes (specc/codes.py) and how selection treats them.

Configurations torch refuses to build or run are errors however rules are selected:
`--ignore L102` must not turn a conv torch rejects into `ok: true` (issue 12).
"""
import ast
import json
import subprocess
import sys

import pytest

import specc
from specc import codes
from specc.config import Config
from specc.lint import rules as _registers_rules  # noqa: F401
from specc.lint.registry import CHECKS, RULES
from tests.helpers import ROOT

GROUPED = """\
inputs: {x: {shape: [N, 64, 8, 8]}}
layers:
  - {op: Conv2d, out_channels: 30, kernel_size: 3, groups: 4}
  - {op: Conv2d, out_channels: 8, kernel_size: 1}
"""

# one spec per code torch rejects, each with a later node so "every later shape unknown"
# would show
TORCH_REJECTS = {
    "L101": "inputs: {x: {shape: [N, 3, 8, 8]}}\nlayers:\n"
            "  - {op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: same}\n"
            "  - ReLU\n",
    "L102": GROUPED,
    "L103": "inputs: {x: {shape: [N, 5, 100]}}\nlayers:\n"
            "  - {op: MultiheadAttention, embed_dim: 100, num_heads: 8, batch_first: true}\n",
    "L104": "inputs: {x: {shape: [N, 8]}}\nlayers:\n  - {op: Dropout, p: 50}\n  - ReLU\n",
    "L106": "inputs: {x: {shape: [N, 5]}}\nlayers:\n"
            "  - {op: Embedding, num_embeddings: 10, embedding_dim: 4}\n  - ReLU\n",
}


def test_codes_imports_nothing_from_specc():
    tree = ast.parse((ROOT / "specc" / "codes.py").read_text())
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    imported += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in imported if m and m.startswith("specc")], imported


def test_table_is_complete_and_well_formed():
    for c in codes.CODES.values():
        assert c.severity in codes.SEVERITIES and c.summary and c.explanation, c
        if c.is_rule:
            assert "Bad:" in c.explanation and "Good:" in c.explanation and c.hint, c
    assert list(RULES) == sorted(RULES)
    # every lint rule is found somewhere: a check function, a shape rule raising its code
    # object, or (unused-suppression) the registry itself
    ops_source = "".join(p.read_text() for p in (ROOT / "specc" / "ops").glob("*.py"))
    consts = {c: name for name, c in vars(codes).items() if isinstance(c, codes.Code)}
    for code, rule in RULES.items():
        raised = f"codes.{consts[rule]}" in ops_source
        assert (code in CHECKS) != raised or code == "L001", (code, raised)
        assert rule.torch_rejects == raised, f"{code}: found by inference iff torch rejects it"


@pytest.mark.parametrize("code", sorted(TORCH_REJECTS))
def test_torch_rejected_configs_cannot_be_switched_off(code):
    text = TORCH_REJECTS[code]
    for config in (Config(ignore=[code]), Config(ignore=["L"]), Config(select=["L3"]),
                   Config(ignore=[codes.CODES[code].name])):
        a = specc.check(text, config=config)
        assert not a.ok and code in [d.code for d in a.diagnostics], (config, a.diagnostics)
    line = next(i for i, l in enumerate(text.splitlines()) if "op:" in l)
    lines = text.splitlines()
    lines[line] += f"  # specc: ignore[{codes.CODES[code].name}]"
    assert not specc.check("\n".join(lines) + "\n").ok


def test_ignore_L102_on_the_command_line_still_fails(tmp_path):
    path = tmp_path / "grouped.yaml"
    path.write_text(GROUPED)
    out = subprocess.run([sys.executable, "-m", "specc", "check", str(path), "--ignore", "L102",
                          "--format", "json"], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1, out.stdout + out.stderr
    report = json.loads(out.stdout)["files"][0]
    assert report["ok"] is False
    assert [d["code"] for d in report["diagnostics"]] == ["L102"]


def test_a_torch_config_error_is_what_torch_says():
    """The oracle: torch refuses the grouped conv that L102 reports."""
    torch = pytest.importorskip("torch")
    with pytest.raises(ValueError, match="divisible by groups"):
        torch.nn.Conv2d(64, 30, 3, groups=4)


def test_softmax_without_dim_can_be_ignored_and_then_builds():
    """softmax-without-dim is a style rule torch accepts: ignoring it leaves every shape
    known, and the model builds and runs with exactly those shapes."""
    text = ("inputs: {x: {shape: [N, 16]}}\nlayers:\n  - {op: Linear, out_features: 4}\n"
            "  - Softmax\n  - {op: Linear, out_features: 2}\n")
    assert [d.code for d in specc.check(text).diagnostics] == ["L105"]
    a = specc.check(text, config=Config(ignore=["softmax-without-dim"]))
    assert a.ok and a.diagnostics == []
    assert all(n.out_types is not None for n in a.graph.nodes)
    pytest.importorskip("torch")
    from tests.helpers import run_on_meta

    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        seen, _ = run_on_meta(a.graph, {"N": 3})
    assert seen[a.graph.nodes[-1].id] == [((3, 2), "float32")]


@pytest.mark.parametrize("key", ["E104", "e301", "L301", "bias-before-norm", "resource-limit"])
def test_explain_accepts_every_code(key):
    out = subprocess.run([sys.executable, "-m", "specc", "explain", key],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert codes.lookup(key).code in out.stdout and codes.lookup(key).summary in out.stdout


def test_rules_are_listed_by_code():
    out = subprocess.run([sys.executable, "-m", "specc", "rules", "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT)
    listed = [r["code"] for r in json.loads(out.stdout)]
    assert listed == sorted(listed) == sorted(c for c in codes.CODES if c.startswith("L"))


def test_inference_does_not_import_lint():
    code = ("import sys, specc\n"
            f"a = specc.check({GROUPED!r}, lint=False)\n"
            "assert not a.ok\n"
            "print(sorted(m for m in sys.modules if m.startswith('specc.lint')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
