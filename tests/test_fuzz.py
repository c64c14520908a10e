"""Fuzzing: mutated valid specs and random YAML trees never crash specc.

Every input gives exit code 0, 1 or 2, never a traceback or an "internal error", finishes
within a bounded time, and gives the same diagnostics when run again.
For a longer hunt: SPECC_FUZZ_EXAMPLES=5000 SPECC_FUZZ_RANDOM=1 python3 -m pytest tests/test_fuzz.py
"""
import contextlib
import io
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.cli import main
from tests.test_hostile import deadline

SPECS = sorted((Path(__file__).resolve().parent.parent / "specs").glob("*.yaml"))
TEXTS = [p.read_text() for p in SPECS]
FUZZ = settings(max_examples=int(__import__("os").environ.get("SPECC_FUZZ_EXAMPLES", 150)), deadline=None, derandomize=not __import__("os").environ.get("SPECC_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TOKENS = ["{", "}", "[", "]", ":", "- ", "&a ", "*a", "!!python/name:os.system ", "$", "${",
          "}", "'", '"', "\n", "  ", "\t", "0", "-1", "1e999", "null", "yes", "<<: ", "#",
          "op: ", "from: ", "repeat: ", "block: ", "layers:", "${i*}", "\x00", "é", "🙂"]


def check_bytes(data: bytes, tmp_path: Path):
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    results = []
    for _ in range(2):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), deadline(20):
            code = main(["check", str(path), "--format", "concise"])
        results.append((code, out.getvalue(), err.getvalue()))
    code, out, err = results[0]
    assert code in (0, 1, 2)
    assert "Traceback" not in err and "internal error" not in err, err
    assert results[0] == results[1], "diagnostics differ between two runs"


@st.composite
def mutated_spec(draw):
    text = draw(st.sampled_from(TEXTS))
    for _ in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(["delete", "insert", "swap_lines", "dup_line", "replace"]))
        if not text:
            break
        pos = draw(st.integers(0, len(text) - 1))
        if kind == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)):]
        elif kind == "insert":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos:]
        elif kind == "replace":
            text = text[:pos] + draw(st.sampled_from(TOKENS)) + text[pos + 1:]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if kind == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
    return text


@FUZZ
@given(mutated_spec())
def test_mutated_specs(tmp_path_factory, text):
    check_bytes(text.encode("utf-8", "surrogatepass"), tmp_path_factory.mktemp("f"))


scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
                    st.sampled_from(["Linear", "Conv2d", "ReLU", "add", "$x", "${1/0}", "N",
                                     "x", "layers", "op", "from"]))
keys = st.sampled_from(["inputs", "layers", "op", "from", "name", "shape", "block", "blocks",
                        "params", "repeat", "if", "outputs", "vars", "x", "out_features",
                        "kernel_size", "dtype", "loss", "init"])
trees = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=5)), max_leaves=40)


@FUZZ
@given(st.dictionaries(keys, trees, max_size=6))
def test_random_yaml_trees(tmp_path_factory, tree):
    text = yaml.safe_dump(tree, allow_unicode=True)
    check_bytes(text.encode("utf-8", "surrogatepass"), tmp_path_factory.mktemp("f"))


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes(tmp_path_factory, data):
    check_bytes(data, tmp_path_factory.mktemp("f"))
