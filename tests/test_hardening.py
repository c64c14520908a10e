"""Issue 14 (hardening round 2): each class of attack has one mechanism, tested here by
attacking it: budgets in the evaluator and in symbolic sizes, bounded reads, DOT and
terminal escaping, safe output writing, located configuration errors, the Python API on
values that are not specs."""
from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import specc
from specc.cli import main
from specc.expr import MAX_ITEMS, MAX_TEXT, ExprError, evaluate

ROOT = Path(__file__).resolve().parent.parent
OK = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, out_features: 2}\n"


def run(argv, cwd=None):
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([str(a) for a in argv])
    finally:
        os.chdir(old)
    assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()


# --- the evaluator bounds the work and size of every value --------------------------------
@pytest.mark.parametrize("text", [
    "${round(3, -10**17)}", "${[1] * 10**9}", "${[1, 2] * 5001}", "${[[1] * 100] * 100}",
    "${10 ** 10 ** 10}", "${2 ** 64}", "${int(1e308)}", "${-None}", "${-[1]}", "${+'a'}",
    "${(-8) ** 0.5}", "${2.0 ** 10000}",
])
def test_evaluator_refuses_before_computing(text):
    with pytest.raises(ExprError):
        evaluate(text, {})


def test_power_bound_is_exact():
    # ${2**33} and the literal 8589934592 are the same number: both accepted
    assert evaluate("${2 ** 33}", {}) == 2 ** 33
    assert evaluate("${2 ** 62}", {}) == 2 ** 62


@pytest.mark.parametrize("template", ["${a + a}", "${a}${a}${a}", "${a * 2}"])
def test_chains_of_vars_cannot_double_without_bound(template):
    env = {"a": ["x"] * 10} if "*" in template else {"a": "x" * 10}
    with pytest.raises(ExprError, match="limit"):
        for _ in range(40):
            env["a"] = evaluate(template, env)
    value = env["a"]
    assert len(value) <= max(MAX_TEXT, MAX_ITEMS)


def test_symbolic_sizes_are_bounded():
    lines = ["inputs: {x: {shape: [N, 2, H]}}", "layers:", "  - {name: a0, op: Identity}"]
    for i in range(1, 30):  # each cat nests the previous atoms: Fibonacci growth
        lines.append(f"  - {{name: p{i}, op: MaxPool1d, kernel_size: 3, stride: 2, "
                     f"from: a{i - 1}}}")
        lines.append(f"  - {{name: a{i}, op: cat, dim: 2, from: [p{i}, a{i - 1}]}}")
    analysis = specc.check("\n".join(lines) + "\n")
    assert "E004" in [d.code for d in analysis.diagnostics]


@pytest.mark.parametrize("body", [
    "inputs: {x: {shape: [N, 1000000000]}}\nlayers:\n  - {op: Linear, out_features: "
    "1000000000000}\n",
    "inputs: {x: {shape: [1099511627776, 1099511627776, 1099511627776, 1099511627776]}}\n"
    "layers: [ReLU]\n",
])
def test_counts_are_bounded(body):
    analysis = specc.check(body)
    assert [d.code for d in analysis.diagnostics if d.severity == "error"] == ["E004"]


# --- reads are bounded before they happen --------------------------------------------------
def test_device_fifo_and_directory_are_refused(tmp_path):
    (tmp_path / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "fifo.yaml")
    (tmp_path / "dir.yaml").mkdir()
    for name in ("zero.yaml", "fifo.yaml", "dir.yaml"):
        analysis = specc.check(tmp_path / name)
        assert [d.code for d in analysis.diagnostics] == ["E000"], name
        assert "regular file" in analysis.diagnostics[0].message


def test_max_file_bytes_applies_to_the_bytes_read(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * 6_000_000 + "\n" + OK)
    code, out, _ = run(["check", big, "--format", "json"])
    assert code == 2 and "max_file_bytes" in out


def test_a_byte_that_is_not_utf8_is_located_after_a_byte_order_mark():
    """The offset and line of the bad byte count from the file's first byte, mark or not
    (decoding with utf-8-sig counted from after the mark: 'byte 0x0a', one line early)."""
    for mark in (b"", b"\xef\xbb\xbf"):
        data = mark + b"inputs: {x: {shape: [1]}}\nlayers: [Identity]\n# \xff\n"
        (d,) = specc.check(data).diagnostics
        assert d.code == "E005" and d.loc.line == 3, d
        offset = data.index(b"\xff")
        assert f"byte 0xff at offset {offset}" in d.message, d


# --- DOT: no user text becomes DOT syntax --------------------------------------------------
HOSTILE_NAME = ('<<TABLE><TR><TD HREF="javascript:alert(1)"><IMG SRC="/etc/passwd"/></TD>'
                '</TR></TABLE>> ]; node [image="/etc/passwd" dpi=100000] // \\')


def test_rendered_dot_parses_and_carries_no_injected_attributes():
    pydot = pytest.importorskip("pydot")
    output_name = json.dumps(HOSTILE_NAME + " \\N")
    spec = (f"name: {json.dumps(HOSTILE_NAME)}\ninputs: {{x: {{shape: [N, 4]}}}}\n"
            "layers:\n  - {name: a, op: Linear, out_features: 2}\n"
            f"outputs: {{{output_name}: a}}\n")
    analysis = specc.check(spec)
    assert analysis.graph is not None
    from specc.diagram import render_graph

    source = render_graph(analysis).source
    graphs = pydot.graph_from_dot_data(source)
    assert graphs is not None and len(graphs) == 1
    graph = graphs[0]
    assert graph.get_name() == "model"
    allowed = {"label", "shape", "style", "fillcolor", "color", "penwidth", "fontname",
               "fontsize", "margin", "width", "fixedsize", "peripheries", "labelloc",
               "rankdir", "nodesep", "ranksep", "labeljust",
               # fixed layout settings of the paper-ready drawing (no user text in them)
               "ordering", "newrank", "size", "dpi"}
    everything = [graph] + graph.get_nodes() + graph.get_edges() + graph.get_subgraphs()
    for item in everything:
        assert set(item.get_attributes()) <= allowed, item.get_attributes()
    labels = " ".join(str(item.get_attributes().get("label", "")) for item in everything)
    assert "/etc/passwd" in labels  # the text is shown…
    for markup in ("<TABLE", "<IMG", 'HREF="', "\\N"):  # …but never as markup or escapes
        assert markup not in labels


# --- terminal escapes never reach a human-readable format -------------------------------------
@pytest.mark.parametrize("fmt", ["full", "concise", "github"])
def test_control_characters_are_escaped(fmt, tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text('name: "evil\\e]52;c;aGVsbG8=\\a\\e[2J"\ninputs: {x: {shape: [N, 4]}}\n'
                    'layers:\n  - {op: Linear, out_features: 2, "bad\\e[31mkey\\u202e": 1}\n')
    code, out, _ = run(["check", spec, "--format", fmt, "--color", "never"])
    assert code == 1
    assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out
    assert "\\x1b" in out


# --- writing outputs never destroys anything -----------------------------------------------
def _targets(tmp_path):
    spec = tmp_path / "m.yaml"
    spec.write_text(OK)
    (tmp_path / "elsewhere.dot").write_text("keep me")
    (tmp_path / "link.dot").symlink_to(tmp_path / "elsewhere.dot")
    os.mkfifo(tmp_path / "fifo.dot")
    readonly = tmp_path / "ro.dot"
    readonly.write_text("keep me")
    readonly.chmod(0o444)
    return spec, {"link.dot": "symbolic link", "fifo.dot": "not a regular file",
                  "ro.dot": "read-only", ".": "directory", "missing/x.dot": "does not exist",
                  "m.yaml": "input spec"}


def test_outputs_refuse_targets_they_would_destroy(tmp_path):
    spec, targets = _targets(tmp_path)
    for target, why in targets.items():
        code, _, err = run(["render", spec, "-o", tmp_path / target, "--format", "dot"])
        assert code == 2 and why in err, (target, err)
    assert (tmp_path / "elsewhere.dot").read_text() == "keep me"
    assert (tmp_path / "ro.dot").read_text() == "keep me"
    assert os.path.islink(tmp_path / "link.dot")
    assert spec.read_text() == OK
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".specc-")]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_write_removes_the_temporary_file(sig, tmp_path):
    program = (
        "import os, signal, sys\n"
        "from specc.files import atomic_write\n"
        "def write(p):\n"
        "    open(p, 'w').write('partial')\n"
        f"    os.kill(os.getpid(), {int(sig)})\n"
        "    open(p, 'a').write('never')\n"
        "try:\n"
        f"    atomic_write({str(tmp_path / 'out.pt')!r}, write)\n"
        "except KeyboardInterrupt:\n"
        "    sys.exit(130)\n")
    done = subprocess.run([sys.executable, "-c", program], env={**os.environ,
                          "PYTHONPATH": str(ROOT)}, capture_output=True, text=True)
    assert done.returncode in (-signal.SIGTERM, 130), done.stderr
    assert os.listdir(tmp_path) == []


def test_sarif_uri_is_percent_encoded(tmp_path):
    spec = tmp_path / "a b#%ü.yaml"
    spec.write_text(OK.replace("Linear, out_features: 2", "Linear, out_features: 0"))
    code, out, _ = run(["check", spec.name, "--format", "sarif"], cwd=tmp_path)
    uri = json.loads(out)["runs"][0]["results"][0]["locations"][0]["physicalLocation"][
        "artifactLocation"]["uri"]
    assert uri == "a%20b%23%25%C3%BC.yaml"


# --- configuration is validated with located errors ----------------------------------------
@pytest.mark.parametrize("table,needle", [
    ("limits = 5", "limits"), ("select = 5", "select"), ("[tool.specc.limits]\nmax_rpeat = 3",
                                                          "max_repeat"),
    ("[tool.specc.limits]\nmax_repeat = 'x'", "positive integer"), ("colour = 1", "colour"),
    ("select = ['L9999']", "names no rule"), ("fail-on = 'fatal'", "fail-on"),
])
def test_config_errors_are_located(table, needle, tmp_path):
    from specc.config import _find

    _find.cache_clear()
    header = "" if table.startswith("[") else "[tool.specc]\n"
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n" + header + table + "\n")
    (tmp_path / "m.yaml").write_text(OK)
    code, _, err = run(["check", tmp_path / "m.yaml"])
    _find.cache_clear()
    assert code == 2 and needle in err
    line = 3 + (1 if header else 0) + table.count("\n") + 1
    assert f"pyproject.toml:{line}:" in err, err


def test_unknown_select_is_a_usage_error(tmp_path):
    (tmp_path / "m.yaml").write_text(OK)
    code, _, err = run(["check", tmp_path / "m.yaml", "--select", "L1O1"])
    assert code == 2 and "names no rule" in err


# --- the Python API on values that are not specs ----------------------------------------------
def test_api_on_values_that_are_not_specs():
    cyclic: dict = {"inputs": {"x": {"shape": ["N", 4]}}}
    cyclic["layers"] = [cyclic]
    wide = [[[1] * 1000] * 1000] * 100  # shared lists, like YAML aliases
    huge = {"inputs": {"x": {"shape": ["N", 4]}}, "layers": [{"op": "Linear",
                                                              "out_features": 10 ** 5000}]}
    for source in (cyclic, {"x": wide}, huge):
        assert [d.code for d in specc.check(source).diagnostics] == ["E004"]
    assert [d.code for d in specc.check(Path("/dev/zero")).diagnostics] == ["E000"]
    assert specc.check(bytearray(OK.encode())).ok
    assert specc.check(memoryview(OK.encode())).ok
    for bad in (None, 5, 3.5):
        with pytest.raises(TypeError, match="takes a path"):
            specc.check(bad)


# --- build: outputs that hold what they claim ----------------------------------------------------
def test_build_refuses_meta_saves_and_huge_example_inputs(tmp_path):
    pytest.importorskip("torch")
    spec = tmp_path / "m.yaml"
    spec.write_text(OK)
    for flag in ("--save", "--export"):
        code, _, err = run(["build", spec, "--device", "meta", flag, tmp_path / "o"])
        assert code == 2 and "meta" in err
    big = tmp_path / "big.yaml"
    big.write_text("inputs: {x: {shape: [100000, 100000, 1000]}}\nlayers: [ReLU]\n")
    code, _, err = run(["build", big, "--export", tmp_path / "o.pt2"])
    assert code == 2 and "MiB" in err
    assert os.listdir(tmp_path) == ["m.yaml", "big.yaml"] or set(os.listdir(tmp_path)) == {
        "m.yaml", "big.yaml"}


def test_float16_export_takes_float16_inputs(tmp_path):
    torch = pytest.importorskip("torch")
    spec = tmp_path / "m.yaml"
    spec.write_text(OK)
    code, _, err = run(["build", spec, "--dtype", "float16", "--export", tmp_path / "o.pt2"])
    assert code == 0, err
    program = torch.export.load(str(tmp_path / "o.pt2"))
    example = program.example_inputs[0][0]
    assert example.dtype == torch.float16
    assert program.module()(torch.zeros(3, 4, dtype=torch.float16)).dtype == torch.float16


# --- expansion budgets ------------------------------------------------------------------------
def _nested(levels: int) -> str:
    lines, indent = ["inputs: {x: {shape: [N, 4]}}", "layers:"], "  "
    for i in range(levels):
        lines += [f"{indent}- name: s{i}", f"{indent}  layers:"]
        indent += "    "
    return "\n".join(lines + [f"{indent}- {{op: Linear, out_features: 2}}"]) + "\n"


def test_every_stage_survives_the_nesting_limit(tmp_path):
    from specc.errors import Limits

    deepest = tmp_path / "deep.yaml"
    deepest.write_text(_nested(Limits().max_nesting))
    assert run(["check", deepest, "-q"])[0] == 0
    assert run(["render", deepest, "-o", tmp_path / "d.dot"])[0] == 0
    pytest.importorskip("torch")
    assert run(["build", deepest, "--device", "meta"])[0] == 0
    assert run(["build", deepest, "--emit-python", tmp_path / "m.py"])[0] == 0
    deeper = tmp_path / "deeper.yaml"
    deeper.write_text(_nested(Limits().max_nesting + 1))
    code, out, _ = run(["check", deeper, "--format", "json"])
    assert code == 2
    found = [d for d in json.loads(out)["files"][0]["diagnostics"] if d["code"] == "E004"]
    assert found and "max_nesting" in found[0]["message"] and found[0]["line"] > 1


def test_nesting_through_inline_blocks_is_counted():
    blocks = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}, inline: true}}]}}\n"
                     for i in range(80)) + "  b80: {layers: [ReLU]}\n"
    analysis = specc.check("inputs: {x: {shape: [N, 4]}}\nblocks:\n" + blocks
                           + "layers:\n  - {block: b0, inline: true}\n")
    assert "max_nesting" in " ".join(d.message for d in analysis.diagnostics)


def test_every_expansion_step_counts():
    # repeats of an empty inline block make no node at all, but 10**4 x 10**4 x 10**4 steps
    spec = ("inputs: {x: {shape: [N, 4]}}\nblocks:\n  E: {layers: []}\n"
            "  R: {layers: [{block: E, inline: true, repeat: 10000}]}\n"
            "  S: {layers: [{block: R, inline: true, repeat: 10000}]}\n"
            "layers:\n  - {block: S, inline: true, repeat: 10000}\n  - ReLU\n")
    analysis = specc.check(spec)
    assert [d.code for d in analysis.diagnostics] == ["E004"]
    assert "max_expansion_steps" in analysis.diagnostics[0].message
    disabled = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: r, repeat: 10000, layers: "
                "[{repeat: 10000, op: ReLU, if: '${i < 0}'}]}\n")
    assert "max_expansion_steps" in specc.check(disabled).diagnostics[0].message


def test_did_you_mean_has_a_budget():
    from specc.expand.expander import SUGGESTIONS

    refs = "".join(f"  - {{op: add, from: [a, missing_{i}]}}\n" for i in range(SUGGESTIONS + 20))
    analysis = specc.check("inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: a, op: ReLU}\n"
                           + refs.replace("missing_0]", "aa]"))
    unknown = [d for d in analysis.diagnostics if d.code == "E201"]
    assert len(unknown) == SUGGESTIONS + 20
    assert unknown[0].hint == "did you mean 'a'?"
    assert sum(1 for d in unknown if d.hint) <= SUGGESTIONS


# --- what check accepts is what torch builds ---------------------------------------------------
@pytest.mark.parametrize("layer,shape", [
    ("{op: Conv2d, out_channels: 2, kernel_size: [3]}", "[N, 1, 8, 8]"),
    ("{op: ConvTranspose2d, out_channels: 2, kernel_size: [3]}", "[N, 1, 8, 8]"),
    ("{op: AdaptiveAvgPool2d, output_size: [2]}", "[N, 1, 8, 8]"),
    ("{op: AdaptiveMaxPool3d, output_size: [2]}", "[N, 1, 8, 8, 8]"),
    ("{op: Upsample, size: [4]}", "[N, 1, 8, 8]"),
    ("{op: Hardtanh, min_val: 2, max_val: 1}", "[N, 4]"),
    ("{op: Hardtanh, min_val: 1, max_val: 1}", "[N, 4]"),
    ("{op: LayerNorm}", "[N, T]"),
    ("{op: chunk, chunks: 2, names: ['ｐ', p]}", "[N, 4]"),
    ("{op: split, split_size_or_sections: 2, names: [a, a]}", "[N, 4]"),
    ("{op: parameter, shape: [2, -1]}", "[N, 4]"),
])
def test_check_refuses_what_torch_rejects(layer, shape):
    analysis = specc.check(f"inputs: {{x: {{shape: {shape}}}}}\nlayers:\n  - {layer}\n")
    assert not analysis.ok, layer
    assert all(d.loc.line >= 1 for d in analysis.diagnostics)


@pytest.mark.parametrize("layer", ["LayerNorm", "{op: cat, from: [r, r]}",
                                   "{op: slice, dim: 0, end: 1}", "{op: chunk, chunks: 2}",
                                   "{op: split, split_size_or_sections: 1}",
                                   "{op: Bilinear, from: [r, r], out_features: 2}"])
def test_zero_dim_inputs_are_diagnosed(layer):
    analysis = specc.check("inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: r, op: mean}\n"
                           f"  - {layer}\n")
    assert [d.code for d in analysis.diagnostics if d.severity == "error"] == ["E301"]
    assert "0-D" in analysis.diagnostics[-1].message


@pytest.mark.parametrize("op", ["{op: chunk, chunks: 1, dim: 1}",
                                "{op: split, split_size_or_sections: 4, dim: 1}",
                                "{op: Conv2d, out_channels: 2, kernel_size: 3, stride: [2]}",
                                "{op: MaxPool2d, kernel_size: [2]}",
                                "{op: AdaptiveAvgPool1d, output_size: [2]}"])
def test_one_part_and_one_element_lists_torch_accepts_build(op):
    pytest.importorskip("torch")
    from tests.helpers import assert_matches_torch

    shape = "[N, 4]" if "chunk" in op or "split" in op else \
        "[N, 1, 8]" if "1d" in op else "[N, 1, 8, 8]"
    analysis = specc.check(f"inputs: {{x: {{shape: {shape}}}}}\nlayers:\n  - {op}\n"
                           "  - ReLU\n")
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert_matches_torch(analysis.graph, {"N": 2})


# --- Graphviz runs under a budget ----------------------------------------------------------------
@pytest.mark.parametrize("script,message", [
    ("echo 'Error: syntax error in line 3' >&2; exit 1", "syntax error in line 3"),
    ("sleep 30", "ran longer than"),
    ("head -c 2000 /dev/zero", "draw less"),
])
def test_dot_failures_are_messages_not_tracebacks(script, message, tmp_path, monkeypatch):
    from specc import diagram

    fake = tmp_path / "bin" / "dot"
    fake.parent.mkdir()
    fake.write_text(f"#!/bin/sh\ncat >/dev/null\n{script}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    monkeypatch.setattr(diagram, "DOT_TIMEOUT_S", 1)
    monkeypatch.setattr(diagram, "DOT_MAX_OUTPUT_BYTES", 1000)
    spec = tmp_path / "m.yaml"
    spec.write_text(OK)
    code, _, err = run(["render", spec, "-o", tmp_path / "m.svg"])
    assert code == 2 and message in err, err
    assert not (tmp_path / "m.svg").exists()


def test_large_graphs_get_an_automatic_depth():
    from specc.diagram import auto_depth, render_graph

    blocks = "".join(f"  - name: s{i}\n    layers: [{{op: Linear, out_features: 4}}, ReLU, "
                     "{layers: [ReLU, ReLU]}]\n" for i in range(600))
    analysis = specc.check("inputs: {x: {shape: [N, 4]}}\nlayers:\n" + blocks)
    assert analysis.ok
    depth = auto_depth(analysis.graph, budget=2000)
    # depth 1: 1,200 nodes and 600 collapsed inner sequences fit; depth 2 (2,400) does not
    assert depth == 1
    source = render_graph(analysis, depth=depth).source
    assert source.count("shape=box3d") == 600
    assert auto_depth(specc.check(OK).graph) is None  # small graphs are drawn whole
