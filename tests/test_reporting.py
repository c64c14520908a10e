"""Each problem once, no follow-on noise, hints that lead to the right network, and usage
errors (exit 2) for configuration that would silently mean nothing. (Issue 15, "Reporting".)"""
import json
import subprocess
import sys
import textwrap

import pytest

import specc
from tests.helpers import ROOT

BLOCK_USED_4_TIMES = textwrap.dedent("""\
    inputs:
      x: {shape: [N, 3, 32, 32]}
    loss: cross_entropy
    blocks:
      B:
        layers:
          - {name: c, op: Conv2d, out_channels: 8, kernel_size: 3, padding: 1}
          - {op: BatchNorm2d}
          - {op: add, from: [c, MISSING]}
    layers:
      - {op: Conv2d, out_channels: 8, kernel_size: 3, padding: 1, bias: false}
      - {name: layer1, block: B, repeat: 4}
      - {op: AdaptiveAvgPool2d, output_size: 1}
      - {op: flatten, start_dim: 1}
      - {op: Linear, out_features: 10}
    """)


def run_cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_a_mistake_in_a_block_is_reported_once_naming_its_instances():
    diags = specc.check(BLOCK_USED_4_TIMES.replace("MISSING", "nope")).diagnostics
    assert [d.code for d in diags] == ["E201"], [d.format() for d in diags]
    assert diags[0].loc.line == 9
    assert "in 4 instances: layer1.0, layer1.1, layer1.2, layer1.3" in diags[0].message
    assert diags[0].instances == ("layer1.0", "layer1.1", "layer1.2", "layer1.3")


def test_a_lint_finding_in_a_block_is_reported_once_in_every_format(tmp_path):
    # the conv's bias is cancelled by the BN in each of the 4 instances: one finding
    text = BLOCK_USED_4_TIMES.replace(
        "- {op: BatchNorm2d}\n      - {op: add, from: [c, MISSING]}", "- {op: BatchNorm2d}")
    path = tmp_path / "m.yaml"
    path.write_text(text)
    for fmt, count in (("json", lambda out: len(json.loads(out)["files"][0]["diagnostics"])),
                       ("github", lambda out: out.count("::warning")),
                       ("sarif", lambda out: len(json.loads(out)["runs"][0]["results"])),
                       ("concise", lambda out: out.count("L301"))):
        out = run_cli("check", str(path), "--format", fmt)
        assert count(out.stdout) == 1, (fmt, out.stdout)
        assert "in 4 instances" in out.stdout, (fmt, out.stdout)


def test_no_lint_after_a_duplicate_name():
    text = textwrap.dedent("""\
        inputs:
          x: {shape: [N, 16]}
        loss: cross_entropy
        layers:
          - {name: fc, op: Linear, out_features: 8}
          - {name: fc, op: Linear, out_features: 4}
          - {op: Softmax, dim: 1}
        """)
    assert [d.code for d in specc.check(text).diagnostics] == ["E202"]


def test_independent_errors_all_reported_and_no_lint_downstream_of_them():
    text = textwrap.dedent("""\
        inputs:
          x: {shape: [N, 1, 32, 32]}
        loss: cross_entropy
        layers:
          - {op: Conv2d, out_channels: 6, kernel_size: 5}
          - ReLU
          - {op: MaxPool2d, kernel_size: 2}
          - {op: flatten, start_dim: 1}
          - {op: Linear, in_features: 256, out_features: 120}
          - ReLU
          - {op: Linear, in_features: 100, out_features: 84}
          - {op: Linear, out_features: 10}
          - {op: Softmax, dim: 1}
        """)
    diags = specc.check(text).diagnostics
    # both wrong in_features are found in one run; the missing ReLU and the softmax after
    # them are not reported on top (they sit downstream of errors)
    assert [(d.code, d.loc.line) for d in diags] == [("E302", 9), ("E302", 11)], \
        [d.format() for d in diags]


@pytest.mark.parametrize("first, first_code", [
    ("{op: Conv2d, out_channels: 30, kernel_size: 3, padding: 1, groups: 4}", "L102"),
    ("{op: GroupNorm, num_groups: 4}", "L102"),
    ("{op: Dropout2d, p: 20}", "L104"),
    ("{op: BatchNorm2d, num_features: 32}", "E302")])
def test_inference_goes_on_past_an_error_that_keeps_the_output_shape(first, first_code):
    """Groups or heads that do not divide, a dropout p out of range, a given size that
    disagrees: the node's output shape is known anyway, so the second, independent mistake
    (a classifier with the wrong in_features) is reported in the same run, and the lint
    after them (a Softmax before cross_entropy) is not."""
    text = textwrap.dedent(f"""\
        inputs:
          x: {{shape: [N, 3, 32, 32]}}
        loss: cross_entropy
        layers:
          - {{op: Conv2d, out_channels: 30, kernel_size: 3, padding: 1, bias: false}}
          - {first}
          - ReLU
          - {{op: AdaptiveAvgPool2d, output_size: 1}}
          - {{op: flatten, start_dim: 1}}
          - {{op: Linear, in_features: 64, out_features: 10}}
          - {{op: Softmax, dim: 1}}
        """)
    diags = specc.check(text).diagnostics
    assert [(d.code, d.loc.line) for d in diags] == [(first_code, 6), ("E302", 10)], \
        [d.format() for d in diags]
    assert "input's last dimension is 30" in diags[1].message


def test_a_norm_that_refuses_the_rank_still_hands_on_its_input():
    """BatchNorm1d on a 4-D map (E301) and a LayerNorm over the wrong size (E302) keep the
    input's shape: the classifier's wrong in_features after them is reported too."""
    text = textwrap.dedent("""\
        inputs:
          x: {shape: [N, 3, 32, 32]}
        layers:
          - {op: Conv2d, out_channels: 16, kernel_size: 3, padding: 1, bias: false}
          - {op: BatchNorm1d}
          - ReLU
          - {op: LayerNorm, normalized_shape: [16]}
          - {op: AdaptiveAvgPool2d, output_size: 1}
          - {op: flatten, start_dim: 1}
          - {op: Linear, in_features: 32, out_features: 10}
        """)
    diags = specc.check(text).diagnostics
    assert [(d.code, d.loc.line) for d in diags] == [("E301", 5), ("E302", 7), ("E302", 10)], \
        [d.format() for d in diags]
    # a dtype error is not carried on: the next node would see the wrong dtype again
    ints = specc.check("inputs:\n  x: {shape: [N, 4], dtype: int64}\nlayers:\n  - ReLU\n"
                       "  - {op: Linear, out_features: 2}\n").diagnostics
    assert [d.code for d in ints] == ["E305"], [d.format() for d in ints]


def test_heads_that_do_not_divide_keep_the_sequence_shape():
    text = textwrap.dedent("""\
        inputs:
          x: {shape: [N, T, 64]}
        layers:
          - {op: TransformerEncoderLayer, nhead: 3, batch_first: true}
          - {op: mean, dim: 1}
          - {op: Linear, in_features: 32, out_features: 2}
        """)
    diags = specc.check(text).diagnostics
    assert [(d.code, d.loc.line) for d in diags] == [("L103", 4), ("E302", 6)], \
        [d.format() for d in diags]


def test_hints_lead_to_the_right_network():
    flat = specc.check("inputs:\n  x: {shape: [N, 3, 8, 8]}\nlayers:\n"
                       "  - {op: flatten}\n  - {op: Linear, out_features: 10}\n").diagnostics
    e304 = [d for d in flat if d.code == "E304"][0]
    assert "start_dim: 1" in e304.hint and "--dim" not in e304.hint
    assert [d.rule for d in flat if d.rule] == ["flatten-batch"]
    conv_rnn = specc.check("inputs:\n  x: {shape: [N, 8, T]}\nlayers:\n"
                           "  - {op: Conv1d, out_channels: 16, kernel_size: 3}\n"
                           "  - {op: LSTM, hidden_size: 8, batch_first: true}\n").diagnostics
    assert "(N, C, T) fed to a layer expecting (N, T, C)" in conv_rnn[0].hint
    assert "--dim" not in conv_rnn[0].hint
    lossy = specc.check(ROOT / "tests/lint_cases/buggy/alexnet_224.yaml").diagnostics
    first = [d for d in lossy if d.rule == "lossy-floor"][0]
    assert "a model input 'x' of size 211 or 227" in first.message


def test_model_input_sizes_named_by_lossy_floor_really_fit():
    """The sizes lossy-floor proposes are checked by running the analysis on them."""
    path = ROOT / "tests/lint_cases/buggy/alexnet_224.yaml"
    text = path.read_text()
    for size in (211, 227):
        fixed = text.replace("[N, 3, 224, 224]", f"[N, 3, {size}, {size}]")
        assert "lossy-floor" not in [d.rule for d in specc.check(fixed).diagnostics]


def test_unknown_rule_names_config_keys_and_dims_are_usage_errors(tmp_path):
    spec = ROOT / "specs" / "tcn.yaml"
    out = run_cli("check", str(spec), "--ignore", "bias-befor-norm")
    assert out.returncode == 2 and "did you mean 'bias-before-norm'" in out.stderr
    out = run_cli("check", str(spec), "--select", "L3,nonsense-rule")
    assert out.returncode == 2 and "'nonsense-rule' names no rule" in out.stderr
    assert run_cli("check", str(spec), "--select", "L3,rnn-readout", "-q").returncode == 0
    out = run_cli("check", str(spec), "--dim", "t=64")
    assert out.returncode == 2 and "no symbol 't'" in out.stderr and "did you mean 'T'" in out.stderr
    assert run_cli("check", str(spec), "--dim", "T=64", "-q").returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.specc]\nignroe = ["L301"]\n')
    (tmp_path / "m.yaml").write_text(spec.read_text())
    out = run_cli("check", str(tmp_path / "m.yaml"))
    assert out.returncode == 2 and "unknown key 'ignroe'" in out.stderr \
        and "did you mean 'ignore'" in out.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.specc.limits]\nmax_dims = 5\n')
    from specc.config import _find
    _find.cache_clear()
    out = run_cli("check", str(tmp_path / "m.yaml"))
    assert out.returncode == 2 and "did you mean 'max_dim'" in out.stderr
