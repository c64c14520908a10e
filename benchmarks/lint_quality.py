"""How much can people trust `specc check`'s findings? Recall and false positives on real models.

    python3 benchmarks/lint_quality.py            # the table (Markdown), then any misses
    python3 benchmarks/lint_quality.py --json     # the figures as JSON

The cases live in ``tests/lint_cases/``:

- ``buggy/*.yaml``: a realistic model with one real mistake, or a few independent ones
  (from course notes' mistake lists and well-known PyTorch pitfalls). Its first lines say
  which rule should report it —
  ``# expect: rule-name`` (or an error code such as ``E301`` for a mistake inference catches,
  or ``-`` when no rule exists for it yet; several, comma-separated, for a model with
  independent mistakes that one run must all report) — and ``# mistake: …`` what is wrong.
- ``clean/*.yaml``: a correct model that is tricky for a linter (PPO heads with zero-init
  before softmax, LoRA adapters, a module without a loss ending in Dropout, …).
  The shipped examples in ``specs/`` count as clean models too.

Figures: *recall per rule* (of the mistakes that rule owns, how many it reported), the
*right-rule rate* (of the mistakes some rule owns, how many got that rule), the
*any-finding rate* (of all mistakes, how many got at least one finding of any severity) and the
*false-positive rate* (of the clean models, how many got a warning or an error; `info`
findings are advice and are counted separately).
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CASES = ROOT / "tests" / "lint_cases"
TARGETS = {"right_rule": 0.95, "any_finding": 0.90, "false_positive": 1 / 40}


def expectation(path: Path) -> tuple[str, str]:
    """(expected rule or code, or '-') and the mistake's description, from the header."""
    expect, mistake = None, ""
    for line in path.read_text(encoding="utf-8").splitlines()[:5]:
        if line.startswith("# expect:"):
            expect = line.split(":", 1)[1].strip()
        elif line.startswith("# mistake:"):
            mistake = line.split(":", 1)[1].strip()
    if expect is None:
        raise ValueError(f"{path}: no '# expect:' line")
    return expect, mistake


def clean_cases() -> list[Path]:
    return sorted((CASES / "clean").glob("*.yaml")) + sorted((ROOT / "specs").glob("*.yaml"))


def buggy_cases() -> list[Path]:
    return sorted((CASES / "buggy").glob("*.yaml"))


def findings(path: Path) -> list:
    import specc

    return specc.check(path).diagnostics


def measure() -> dict:
    per_rule: dict = defaultdict(lambda: [0, 0])  # rule -> [reported, owned]
    misses, silent, owned, right, found = [], [], 0, 0, 0
    buggy = buggy_cases()
    for path in buggy:
        expect, mistake = expectation(path)
        got = findings(path)
        names = {d.rule or d.code for d in got} | {d.code for d in got}
        found += bool(got)
        if not got:
            silent.append(path.name)
        if expect == "-":
            continue
        owned += 1
        expected = [e.strip() for e in expect.split(",")]  # independent mistakes: all of them
        for e in expected:
            per_rule[e][1] += 1
            per_rule[e][0] += e in names
        if all(e in names for e in expected):
            right += 1
        else:
            misses.append(f"{path.name}: expected {expect}, got {sorted(names) or 'nothing'}")
    warned, advised = [], 0
    clean = clean_cases()
    for path in clean:
        got = findings(path)
        loud = [d for d in got if d.severity != "info"]
        advised += bool(got) and not loud
        if loud:
            warned.append(f"{path.relative_to(ROOT)}: "
                          + "; ".join(f"{d.rule or d.code} ({d.message})" for d in loud))
    return {
        "buggy": len(buggy), "owned": owned, "clean": len(clean),
        "right_rule": right / max(owned, 1),
        "any_finding": found / max(len(buggy), 1),
        "false_positive": len(warned) / max(len(clean), 1),
        "clean_with_info_only": advised,
        "per_rule": {r: {"reported": a, "cases": b} for r, (a, b) in sorted(per_rule.items())},
        "misses": misses, "silent": silent, "false_positives": warned,
    }


def table(result: dict) -> str:
    lines = [
        f"{result['buggy']} buggy models ({result['owned']} with a mistake a rule owns), "
        f"{result['clean']} clean models",
        "",
        "| measure | value | target |",
        "|---|---|---|",
        f"| right rule on mistakes a rule owns | {result['right_rule']:.1%} | "
        f"≥ {TARGETS['right_rule']:.0%} |",
        f"| some finding on all mistakes | {result['any_finding']:.1%} | "
        f"≥ {TARGETS['any_finding']:.0%} |",
        f"| clean models warned (false positives) | "
        f"{len(result['false_positives'])}/{result['clean']} = "
        f"{result['false_positive']:.1%} | ≤ 1 in 40 |",
        f"| clean models with only `info` advice | {result['clean_with_info_only']} | — |",
        "",
        "| rule | recall |",
        "|---|---|",
    ]
    for name, r in result["per_rule"].items():
        lines.append(f"| {name} | {r['reported']}/{r['cases']} |")
    for title, items in (("missed", result["misses"]), ("no finding at all", result["silent"]),
                         ("false positives", result["false_positives"])):
        if items:
            lines += ["", f"{title}:"] + [f"  {item}" for item in items]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    result = measure()
    print(json.dumps(result, indent=2) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
