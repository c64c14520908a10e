"""Each lint rule fires on its bad example and stays silent on a near miss.

Also: selection (--select/--ignore, config files), inline suppression, unused suppressions,
and the registry's own invariants.
"""
import json
import re
import subprocess
import sys
import textwrap

import pytest

import specc
from specc.lint.registry import RULES, find_rule
from tests.helpers import ROOT


def spec(layers: str, inputs: str = "x: {shape: [N, 16]}", extra: str = "") -> str:
    """A small spec: inputs on lines 1-2, `extra` on line 3, layers from line 5."""
    return (f"inputs:\n  {inputs}\n{extra}\nlayers:\n"
            + textwrap.indent(textwrap.dedent(layers), "  "))


CASES = {
    "bias-before-norm": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}\n- {op: BatchNorm2d}",
             "x: {shape: [N, 3, 8, 8]}"),
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}\n- {op: BatchNorm2d}",
             "x: {shape: [N, 3, 8, 8]}")),
    "softmax-before-loss": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: cross_entropy"),
        spec("- {op: Linear, out_features: 4}\n- {op: LogSoftmax, dim: 1}", extra="loss: nll")),
    "double-softmax": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}\n- {op: Softmax, dim: 1}"),
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}")),
    "missing-sigmoid-for-bce": (
        spec("- {op: Linear, out_features: 1}", extra="loss: bce"),
        spec("- {op: Linear, out_features: 1}\n- Sigmoid", extra="loss: bce")),
    "activation-on-output": (
        spec("- {op: Linear, out_features: 4}\n- ReLU", extra="loss: cross_entropy"),
        spec("- {op: Linear, out_features: 4}\n- ReLU\n- {op: Linear, out_features: 4}",
             extra="loss: cross_entropy")),
    "loss-task-mismatch": (
        spec("- {op: Linear, out_features: 1}", extra="loss: cross_entropy\ntask: regression"),
        spec("- {op: Linear, out_features: 1}", extra="loss: mse\ntask: regression")),
    "linear-without-activation": (
        spec("- {op: Linear, out_features: 8}\n- {op: Dropout, p: 0.1}\n- {op: Linear, out_features: 4}"),
        spec("- {op: Linear, out_features: 8}\n- GELU\n- {op: Linear, out_features: 4}")),
    "saturating-hidden-activation": (
        spec("- {op: Linear, out_features: 8}\n- Sigmoid\n- {op: Linear, out_features: 8}\n- Sigmoid\n"
             "- {op: Linear, out_features: 4}"),
        spec("- {op: Linear, out_features: 8}\n- GELU\n- {op: Linear, out_features: 8}\n- Sigmoid")),
    "dropout-before-batchnorm": (
        spec("- {op: Linear, out_features: 8}\n- {op: Dropout, p: 0.5}\n- {op: BatchNorm1d}"),
        spec("- {op: Linear, out_features: 8, bias: false}\n- {op: BatchNorm1d}\n- ReLU\n"
             "- {op: Dropout, p: 0.5}")),
    "rnn-dropout-single-layer": (
        spec("- {op: LSTM, hidden_size: 8, dropout: 0.3}", "x: {shape: [T, N, 4]}"),
        spec("- {op: LSTM, hidden_size: 8, num_layers: 2, dropout: 0.3}", "x: {shape: [T, N, 4]}")),
    "inplace-on-shared-tensor": (
        spec("- {name: a, op: Linear, out_features: 16}\n- {op: ReLU, inplace: true}\n"
             "- {op: add, from: [a, 1]}"),
        spec("- {name: a, op: Linear, out_features: 16}\n- {op: ReLU}\n- {op: add, from: [a, 1]}")),
    "lossy-floor": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 11, stride: 4}", "x: {shape: [N, 3, 224, 224]}"),
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 11, stride: 4}", "x: {shape: [N, 3, 227, 227]}")),
    "batchnorm-single-value": (
        spec("- {op: Linear, out_features: 8, bias: false}\n- {op: BatchNorm1d}", "x: {shape: [1, 16]}"),
        spec("- {op: Linear, out_features: 8, bias: false}\n- {op: BatchNorm1d}", "x: {shape: [2, 16]}")),
    "rnn-layout-mismatch": (
        spec("- {op: GRU, hidden_size: 8}", "x: {shape: [N, T, 4]}"),
        spec("- {op: GRU, hidden_size: 8, batch_first: true}", "x: {shape: [N, T, 4]}")),
    "unused-node": (
        spec("- {name: a, op: Linear, out_features: 8}\n- {name: b, op: Linear, from: x, out_features: 8}"),
        spec("- {name: a, op: Linear, out_features: 8}\n- {name: b, op: Linear, from: a, out_features: 8}")),
    "zero-init": (
        spec("- {op: Linear, out_features: 8, init: zeros}\n- Tanh\n- {op: Linear, out_features: 2}"),
        spec("- {op: Linear, out_features: 8, init: xavier_uniform}\n- Tanh\n"
             "- {op: Linear, out_features: 2, init: zeros}")),
    "huge-dense-layer": (
        spec("- {op: Linear, out_features: 4096}", "x: {shape: [N, 25088]}"),
        spec("- {op: Linear, out_features: 4096}", "x: {shape: [N, 512]}")),
    "dropout-on-output": (
        spec("- {op: Linear, out_features: 4}\n- {op: Dropout, p: 0.5}", extra="loss: mse"),
        # a building block with no loss or task (an embeddings module) may end in Dropout
        spec("- {op: Linear, out_features: 4}\n- {op: Dropout, p: 0.5}")),
    "single-logit-cross-entropy": (
        spec("- {op: Linear, out_features: 1}", extra="loss: cross_entropy"),
        spec("- {op: Linear, out_features: 1}", extra="loss: bce_with_logits")),
    "softmax-size-one": (
        spec("- {op: Linear, out_features: 1}\n- {op: Softmax, dim: 1}", extra="loss: bce"),
        spec("- {op: Linear, out_features: 1}\n- Sigmoid", extra="loss: bce")),
    "softmax-axis": (
        spec("- {op: Linear, out_features: 4}\n- {op: LogSoftmax, dim: 0}", extra="loss: nll"),
        spec("- {op: Linear, out_features: 4}\n- {op: LogSoftmax, dim: 1}", extra="loss: nll")),
    "class-axis": (
        spec("- {op: Conv2d, out_channels: 4, kernel_size: 3}\n- {op: Linear, out_features: 3}",
             "x: {shape: [N, 3, 8, 8]}", "loss: cross_entropy"),
        spec("- {op: Conv2d, out_channels: 4, kernel_size: 3}\n- {op: flatten, start_dim: 1}\n"
             "- {op: Linear, out_features: 3}", "x: {shape: [N, 3, 8, 8]}", "loss: cross_entropy")),
    "rnn-readout": (
        spec("- {name: r, op: GRU, hidden_size: 8, num_layers: 2, batch_first: true}\n"
             "- {op: select, from: r.h_n, dim: 0, index: 0}", "x: {shape: [N, T, 4]}"),
        spec("- {name: r, op: GRU, hidden_size: 8, num_layers: 2, batch_first: true}\n"
             "- {op: select, from: r.h_n, dim: 0, index: -1}", "x: {shape: [N, T, 4]}")),
    "channels-layout": (
        spec("- {op: Linear, out_features: 8, bias: false}\n- {op: BatchNorm1d}",
             "x: {shape: [N, 10, 16]}"),
        spec("- {op: Linear, out_features: 8, bias: false}\n- {op: permute, dims: [0, 2, 1]}\n"
             "- {op: BatchNorm1d}", "x: {shape: [N, 10, 16]}")),
    "flatten-batch": (
        spec("- {op: flatten}\n- {op: Linear, out_features: 4}", "x: {shape: [8, 2, 4]}"),
        spec("- {op: flatten, start_dim: 1}\n- {op: Linear, out_features: 4}",
             "x: {shape: [8, 2, 4]}")),
    "receptive-field": (
        spec("- {op: Conv1d, out_channels: 4, kernel_size: 3, padding: 1}\n"
             "- {op: select, dim: 2, index: -1}", "x: {shape: [N, 2, 16]}"),
        spec("- {op: Conv1d, out_channels: 4, kernel_size: 3, padding: 1}\n"
             "- {op: select, dim: 2, index: -1}", "x: {shape: [N, 2, 3]}")),
    "no-positional-encoding": (
        spec("- {op: Embedding, num_embeddings: 50, embedding_dim: 8}\n"
             "- {op: TransformerEncoderLayer, nhead: 2, batch_first: true}",
             "x: {shape: [N, 6], dtype: int64}"),
        spec("- {name: e, op: Embedding, num_embeddings: 50, embedding_dim: 8}\n"
             "- {name: p, op: parameter, shape: [1, 6, 8]}\n- {op: add, from: [e, p]}\n"
             "- {op: TransformerEncoderLayer, nhead: 2, batch_first: true}",
             "x: {shape: [N, 6], dtype: int64}")),
    "causal-lm-without-mask": (
        spec("- {name: e, op: Embedding, num_embeddings: 50, embedding_dim: 8}\n"
             "- {name: p, op: parameter, shape: [1, 6, 8]}\n- {op: add, from: [e, p]}\n"
             "- {op: TransformerEncoderLayer, nhead: 2, batch_first: true}",
             "x: {shape: [N, 6], dtype: int64}", "task: generation"),
        # an encoder (BERT embeddings) attends both ways by design
        spec("- {name: e, op: Embedding, num_embeddings: 50, embedding_dim: 8}\n"
             "- {name: p, op: parameter, shape: [1, 6, 8]}\n- {op: add, from: [e, p]}\n"
             "- {op: TransformerEncoderLayer, nhead: 2, batch_first: true}",
             "x: {shape: [N, 6], dtype: int64}", "task: embedding")),
    "checkerboard": (
        spec("- {op: ConvTranspose2d, out_channels: 4, kernel_size: 3, stride: 2}",
             "x: {shape: [N, 3, 8, 8]}"),
        spec("- {op: ConvTranspose2d, out_channels: 4, kernel_size: 4, stride: 2}",
             "x: {shape: [N, 3, 8, 8]}")),
    "padding-same-strided": (
        spec("- {op: Conv1d, out_channels: 4, kernel_size: 3, stride: 2, padding: same}",
             "x: {shape: [N, 2, 16]}"),
        spec("- {op: Conv1d, out_channels: 4, kernel_size: 3, stride: 1, padding: same}",
             "x: {shape: [N, 2, 16]}")),
    "groups-not-divisible": (
        spec("- {op: Conv1d, out_channels: 6, kernel_size: 3, groups: 4}", "x: {shape: [N, 8, 16]}"),
        spec("- {op: Conv1d, out_channels: 8, kernel_size: 3, groups: 4}", "x: {shape: [N, 8, 16]}")),
    "heads-not-divisible": (
        spec("- {op: MultiheadAttention, num_heads: 3, batch_first: true}", "x: {shape: [N, T, 16]}"),
        spec("- {op: MultiheadAttention, num_heads: 4, batch_first: true}", "x: {shape: [N, T, 16]}")),
    "dropout-p-range": (
        spec("- {op: Dropout, p: 50}\n- {op: Linear, out_features: 2}"),
        spec("- {op: Dropout, p: 0.5}\n- {op: Linear, out_features: 2}")),
    "softmax-without-dim": (
        spec("- {op: Linear, out_features: 4}\n- Softmax"),
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: -1}")),
    "embedding-float-input": (
        spec("- {op: Embedding, num_embeddings: 10, embedding_dim: 4}", "x: {shape: [N, T]}"),
        spec("- {op: Embedding, num_embeddings: 10, embedding_dim: 4}",
             "x: {shape: [N, T], dtype: int64}")),
}


def rules_fired(text: str, **kw) -> list[str]:
    return [d.rule for d in specc.check(text, **kw).diagnostics if d.rule]


def test_every_rule_has_a_case():
    find_rule("load the registry")
    assert set(CASES) | {"unused-suppression"} == {r.name for r in RULES.values()}


@pytest.mark.parametrize("name", sorted(CASES))
def test_rule_fires_on_bad_and_not_on_near_miss(name):
    bad, good = CASES[name]
    fired = specc.check(bad).diagnostics
    mine = [d for d in fired if d.rule == name]
    assert mine, f"{name} did not fire: {[d.format() for d in fired]}"
    d = mine[0]
    assert d.loc.line > 0 and d.loc.col > 0 and d.node
    assert d.code == find_rule(name).code and d.severity == find_rule(name).severity
    assert name not in rules_fired(good), [x.format() for x in specc.check(good).diagnostics]


def test_registry_invariants():
    for r in RULES.values():
        assert re.fullmatch(r"L\d{3}", r.code)
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", r.name)
        assert r.severity in ("error", "warning", "info")
        assert "Bad:" in r.explanation and "Good:" in r.explanation and r.hint


def test_seed_dnn_logsoftmax_nll_is_correct_but_cross_entropy_is_not():
    layers = """\
        - {op: Linear, out_features: 128, bias: false}
        - {op: BatchNorm1d}
        - ReLU
        - {op: Dropout, p: 0.2}
        - {op: Linear, out_features: 10}
        - {op: LogSoftmax, dim: 1}"""
    assert rules_fired(spec(layers, "x: {shape: [N, 784]}", "loss: nll")) == []
    assert rules_fired(spec(layers, "x: {shape: [N, 784]}", "loss: cross_entropy")) == \
        ["softmax-before-loss"]


def test_select_and_ignore_by_code_name_and_prefix():
    bad, _ = CASES["bias-before-norm"]
    from specc.config import Config

    assert rules_fired(bad, config=Config(ignore=["bias-before-norm"])) == []
    assert rules_fired(bad, config=Config(ignore=["L3"])) == []
    assert rules_fired(bad, config=Config(select=["L301"])) == ["bias-before-norm"]
    assert rules_fired(bad, config=Config(select=["L2"])) == []


def test_inline_suppression_and_unused_suppression():
    bad, _ = CASES["bias-before-norm"]
    suppressed = bad.replace("kernel_size: 3}", "kernel_size: 3}  # specc: ignore[bias-before-norm]")
    assert rules_fired(suppressed) == []
    by_code = bad.replace("kernel_size: 3}", "kernel_size: 3}  # specc: ignore[L301]")
    assert rules_fired(by_code) == []
    _, good = CASES["bias-before-norm"]
    useless = good.replace("bias: false}", "bias: false}  # specc: ignore[bias-before-norm]")
    diags = specc.check(useless).diagnostics
    assert [d.rule for d in diags] == ["unused-suppression"]
    assert diags[0].loc.line == 5 and diags[0].severity == "warning"
    typo = good.replace("bias: false}", "bias: false}  # specc: ignore[bias-befor-norm]")
    assert "names no rule" in specc.check(typo).diagnostics[0].message


def test_config_from_pyproject_and_cli_flags(tmp_path):
    bad, _ = CASES["bias-before-norm"]
    (tmp_path / "pyproject.toml").write_text('[tool.specc]\nignore = ["bias-before-norm"]\n')
    sub = tmp_path / "models"
    sub.mkdir()
    (sub / "m.yaml").write_text(bad)
    run = lambda *a: subprocess.run([sys.executable, "-m", "specc", "check", *a],  # noqa: E731
                                    capture_output=True, text=True, cwd=ROOT)
    out = run(str(sub / "m.yaml"), "--format", "json", "--fail-on", "warning")
    assert out.returncode == 0, out.stdout
    (tmp_path / "pyproject.toml").write_text('[tool.specc]\nfail-on = "warning"\n')
    from specc.config import _find
    _find.cache_clear()
    out = run(str(sub / "m.yaml"), "--format", "json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["files"][0]["diagnostics"][0]["rule"] == "bias-before-norm"
    out = run(str(sub / "m.yaml"), "--ignore", "L301")
    assert out.returncode == 0


def test_rules_and_explain_commands():
    out = subprocess.run([sys.executable, "-m", "specc", "rules", "--format", "json"],
                         capture_output=True, text=True, cwd=ROOT)
    names = {r["name"] for r in json.loads(out.stdout)}
    assert {"bias-before-norm", "lossy-floor", "unused-node"} <= names
    out = subprocess.run([sys.executable, "-m", "specc", "explain", "L301"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0 and "bias-before-norm" in out.stdout and "Bad:" in out.stdout
    out = subprocess.run([sys.executable, "-m", "specc", "explain", "bias-befor-norm"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 2 and "did you mean 'bias-before-norm'" in out.stderr


# Look-through, the whole output-vs-loss table, and the false positives the benchmark found:
# (spec, the rule that must fire — or None for "no finding at all", message fragment).
SEQ = "x: {shape: [N, T, 4]}"
IMG = "x: {shape: [N, 3, 8, 8]}"
LOOK_THROUGH_AND_TABLE = {
    "bias survives MaxPool into BN": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}\n- {op: MaxPool2d, kernel_size: 2}\n"
             "- {op: BatchNorm2d}", IMG), "bias-before-norm", "cancelled by BatchNorm2d"),
    "Linear, BN, Linear is still linear": (
        spec("- {op: Linear, out_features: 32, bias: false}\n- {op: BatchNorm1d}\n"
             "- {op: Linear, out_features: 8}"), "linear-without-activation", "no nonlinearity"),
    "a LoRA pair is a deliberate low-rank factorisation": (
        spec("- {op: Linear, out_features: 2, bias: false}\n- {op: Linear, out_features: 16}"),
        None, ""),
    "zero conv, BN, ReLU: the channels stay equal": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false, init: zeros}\n"
             "- {op: BatchNorm2d}\n- ReLU\n- {op: Conv2d, out_channels: 2, kernel_size: 1}", IMG),
        "zero-init", "all-zero"),
    "zero-init last layer before the output softmax (PPO)": (
        spec("- {op: Linear, out_features: 16}\n- Tanh\n- {op: Linear, out_features: 4, init: zeros}\n"
             "- {op: Softmax, dim: -1}"), None, ""),
    "ReLU then Upsample at a regression output": (
        spec("- {op: Conv2d, out_channels: 1, kernel_size: 3, padding: 1}\n- ReLU\n"
             "- {op: Upsample, scale_factor: 2}", IMG, "loss: mse"),
        "activation-on-output", "through Upsample"),
    "Sigmoid before cross_entropy": (
        spec("- {op: Linear, out_features: 4}\n- Sigmoid", extra="loss: cross_entropy"),
        "softmax-before-loss", "expects raw logits"),
    "Softmax before bce_with_logits": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: bce_with_logits"),
        "softmax-before-loss", "compete"),
    "Softmax before nll: nll expects log-probabilities": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: nll"),
        "softmax-before-loss", "expects log-probabilities (it does not normalise"),
    "Softmax before kl_div": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: kl_div"),
        "softmax-before-loss", "use LogSoftmax"),
    "LogSoftmax before cross_entropy is redundant, not fatal": (
        spec("- {op: Linear, out_features: 4}\n- {op: LogSoftmax, dim: 1}", extra="loss: cross_entropy"),
        "softmax-before-loss", "redundant"),
    "Softmax with multi-label bce": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: bce"),
        "softmax-before-loss", "use Sigmoid"),
    "a softmax head trained with mse (no task given)": (
        spec("- {op: Linear, out_features: 4}\n- {op: Softmax, dim: 1}", extra="loss: mse"),
        "loss-task-mismatch", "classification head"),
    "many outputs with a regression loss are not class logits (DQN)": (
        spec("- {op: Linear, out_features: 18}", extra="loss: smooth_l1"), None, ""),
    "ReLU on logits, task only": (
        spec("- {op: Linear, out_features: 4}\n- ReLU", extra="task: classification"),
        "activation-on-output", "logits"),
    "sigmoid + bce reconstruction declared as regression": (
        spec("- {op: Linear, out_features: 16}\n- Sigmoid", extra="task: regression\nloss: bce"),
        None, ""),
    "bidirectional output[:, -1]": (
        spec("- {name: r, op: LSTM, hidden_size: 8, bidirectional: true, batch_first: true}\n"
             "- {op: select, from: r.output, dim: 1, index: -1}", SEQ),
        "rnn-readout", "backward direction"),
    "unidirectional output[:, -1] without lengths is the last state": (
        spec("- {name: r, op: LSTM, hidden_size: 8, batch_first: true}\n"
             "- {op: select, from: r.output, dim: 1, index: -1}", SEQ), None, ""),
    "packed output[:, -1] is padding": (
        spec("- {name: r, op: GRU, from: [x, lengths], hidden_size: 8, batch_first: true}\n"
             "- {op: select, from: r.output, dim: 1, index: -1}",
             SEQ + "\n  lengths: {shape: [N], dtype: int64}"), "rnn-readout", "padding"),
    "bidirectional h_n[-1] alone is the backward direction": (
        spec("- {name: r, op: GRU, hidden_size: 8, bidirectional: true, batch_first: true}\n"
             "- {op: select, from: r.h_n, dim: 0, index: -1}", SEQ), "rnn-readout", "backward"),
    "Conv1d (N, C, T) into a batch_first LSTM": (
        spec("- {op: Conv1d, out_channels: 8, kernel_size: 3}\n- {op: LSTM, hidden_size: 8, "
             "batch_first: true}", "x: {shape: [N, 4, 20]}"), "channels-layout", "permute"),
    "channels-last images into Conv2d": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}", "x: {shape: [N, 32, 32, 3]}"),
        "channels-layout", "channels-last"),
    "segmentation LogSoftmax over the width": (
        spec("- {op: Conv2d, out_channels: 5, kernel_size: 1}\n- {op: LogSoftmax, dim: -1}", IMG,
             "loss: nll"), "softmax-axis", "classes on dim 1"),
    "LayerNorm straight on a (N, C, H, W) map normalises the width": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}\n- {op: LayerNorm}", IMG),
        "channels-layout", "channels last"),
    "LayerNorm after moving the channels last (ConvNeXt)": (
        spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}\n- {op: permute, dims: [0, 2, 3, 1]}\n"
             "- {op: LayerNorm}", IMG), None, ""),
    "a few samples lost at the end of a second of audio are not worth a warning": (
        spec("- {op: Conv1d, out_channels: 8, kernel_size: 10, stride: 5}\n"
             "- {op: Conv1d, out_channels: 8, kernel_size: 2, stride: 2}",
             "x: {shape: [N, 1, 16000]}"), None, ""),
    "per-step scores [N, T, C] under cross_entropy": (
        spec("- {op: LSTM, hidden_size: 8, batch_first: true}\n- {op: Linear, out_features: 3}",
             SEQ, "loss: cross_entropy"), "class-axis", "reads dim 1 (T) as the classes"),
    "per-step scores permuted to [N, C, T]": (
        spec("- {op: LSTM, hidden_size: 8, batch_first: true}\n- {op: Linear, out_features: 3}\n"
             "- {op: permute, dims: [0, 2, 1]}", SEQ, "loss: cross_entropy"), None, ""),
    "a conv head's [N, C, T] scores": (
        spec("- {op: Conv1d, out_channels: 3, kernel_size: 1}", "x: {shape: [N, 4, 20]}",
             "loss: cross_entropy"), None, ""),
    "a next-token model's [N, T, vocab] logits (task: generation)": (
        spec("- {op: GRU, hidden_size: 8, batch_first: true}\n- {op: Linear, out_features: 30}",
             SEQ, "loss: cross_entropy\ntask: generation"), None, ""),
    "[N, C, T] LogSoftmax over time under nll": (
        spec("- {op: Conv1d, out_channels: 3, kernel_size: 1}\n- {op: LogSoftmax, dim: 2}",
             "x: {shape: [N, 4, 20]}", "loss: nll"), "softmax-axis", "classes on dim 1 (3)"),
    "ctc LogSoftmax over dim 1 of (T, N, C) is over the batch": (
        spec("- {op: GRU, hidden_size: 8}\n- {op: Linear, out_features: 5}\n"
             "- {op: LogSoftmax, dim: 1}", "x: {shape: [T, N, 4]}", "loss: ctc"),
        "softmax-axis", "samples of the batch"),
    "ctc LogSoftmax over time": (
        spec("- {op: GRU, hidden_size: 8}\n- {op: Linear, out_features: 5}\n"
             "- {op: LogSoftmax, dim: 0}", "x: {shape: [T, N, 4]}", "loss: ctc"),
        "softmax-axis", "ctc reads the classes on dim 2"),
    "ctc LogSoftmax over the characters": (
        spec("- {op: GRU, hidden_size: 8}\n- {op: Linear, out_features: 5}\n"
             "- {op: LogSoftmax, dim: 2}", "x: {shape: [T, N, 4]}", "loss: ctc"), None, ""),
    "segmentation LogSoftmax over the classes": (
        spec("- {op: Conv2d, out_channels: 5, kernel_size: 1}\n- {op: LogSoftmax, dim: 1}", IMG,
             "loss: nll"), None, ""),
}


@pytest.mark.parametrize("case", sorted(LOOK_THROUGH_AND_TABLE))
def test_look_through_table_and_false_positives(case):
    text, expected, fragment = LOOK_THROUGH_AND_TABLE[case]
    found = [d for d in specc.check(text).diagnostics if d.severity != "info"]
    if expected is None:
        assert found == [], [d.format() for d in found]
    else:
        mine = [d for d in found if d.rule == expected]
        assert mine and fragment in mine[0].message, [d.format() for d in found]
