"""Symbolic MACs read like concrete ones in the table and the HTML view (`2,048·T + 32·T²`,
not `2048*T+32*T*T`), from one formatting function; JSON keeps the exact machine form."""
import json
import re
import subprocess
import sys

import pytest

import specc
from specc.diagram_html import render_html
from specc.dims import Sym
from specc.report.summary import count_text
from tests.helpers import ROOT

# a projection (MACs linear in T) and the T×T scores of attention (MACs quadratic in T)
SCORES = """\
specc: 1
name: symbolic_scores
inputs:
  x: {shape: [N, T, 512]}
layers:
  - {name: proj, op: Linear, out_features: 2048}
  - {name: keys, op: transpose, dim0: 1, dim1: 2}
  - {name: scores, op: matmul, from: [proj, keys]}
"""
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")


def _evaluate(text: str, env: dict) -> int:
    """The number a formatted count stands for, read back from its text (`·` products,
    superscript powers, thousands separators, ` + ` / ` - ` between terms)."""
    pieces = re.split(r" ([+-]) ", text)  # [term, sign, term, sign, term, ...]
    signs = ["-" if pieces[0].startswith("-") else "+", *pieces[1::2]]
    total = 0
    for sign, term in zip(signs, pieces[::2]):
        value = 1
        for factor in term.lstrip("-").split("·"):
            match = re.fullmatch(r"([\w,]+?)([⁰¹²³⁴⁵⁶⁷⁸⁹]*)", factor)
            assert match, factor
            base, power = match.groups()
            number = int(base.replace(",", "")) if base[0].isdigit() else env[base]
            value *= number ** int(power.translate(_SUPERSCRIPT_DIGITS) or 1)
        total += -value if sign == "-" else value
    return total


def test_count_text_formats_like_a_concrete_count_and_stays_exact():
    T, H = Sym.symbol("T"), Sym.symbol("H")
    assert count_text(1814073344) == "1,814,073,344"
    assert count_text(7504658432 * T + 262144 * T * T) == "7,504,658,432·T + 262,144·T²"
    assert count_text(H * T * T * T - 1000) == "H·T³ - 1,000"
    assert count_text(-T + 3) == "-T + 3"
    # a floor-division size is bracketed where it is a factor, as the machine form does
    assert count_text(3 * ((H + 1) // 2)) == "3·((H+1)//2)"
    for value in (7504658432 * T + 262144 * T * T, H * T * T * T - 1000, -T + 3, 12 * H * T):
        for env in ({"T": 7, "H": 3}, {"T": 128, "H": 1}):
            assert _evaluate(count_text(value), env) == value.substitute(env)


def test_table_html_and_json_of_a_symbolic_spec_agree_with_torch(tmp_path):
    """The counts the table and the HTML view print, read back at T = 8 and 16, equal the
    MACs torch's flop counter measures on the built module; JSON keeps `2048*T+...`."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    spec = tmp_path / "scores.yaml"
    spec.write_text(SCORES)
    table = subprocess.run([sys.executable, "-m", "specc", "check", str(spec)], cwd=ROOT,
                           capture_output=True, text=True).stdout
    total = re.search(r"MACs/sample: (.+?)   ", table).group(1)
    assert total == "1,048,576·T + 2,048·T²"
    assert re.search(r"scores\s+matmul\s+\[N, T, T\]\s+–\s+2,048·T²$", table, re.M)
    page = render_html(specc.check(spec))
    assert f"{total} MACs per sample" in page
    assert "1,048,576·T MACs per sample" in page  # the projection's hover text
    assert "*" not in table.split("MACs")[-1] and "T*T" not in page

    report = json.loads(subprocess.run([sys.executable, "-m", "specc", "check", str(spec),
                                        "--format", "json"], cwd=ROOT, capture_output=True,
                                       text=True).stdout)
    model = report["files"][0]["model"]
    assert model["macs"] == "1048576*T+2048*T*T"  # machine-readable, exact
    module = specc.build(spec)
    for length in (8, 16):
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module(torch.randn(1, length, 512))
        assert _evaluate(total, {"T": length}) == counter.get_total_flops() // 2
