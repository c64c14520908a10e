"""Lint rules in context (each rule's own bad / near-miss fixtures are in
tests/lint_fixtures/, run by tests/test_lint_fixtures.py): look-through, the activation /
loss table, false positives, selection (--select/--ignore, config files), inline
suppression, unused suppressions, and the registry's own invariants.
"""
import json
import re
import subprocess
import sys
import textwrap

import pytest

import specc
from specc.lint.registry import RULES
from tests.helpers import ROOT


def spec(layers: str, inputs: str = "x: {shape: [N, 16]}", extra: str = "") -> str:
    """A small spec: inputs on lines 1-2, `extra` on line 3, layers from line 5."""
    return (f"inputs:\n  {inputs}\n{extra}\nlayers:\n"
            + textwrap.indent(textwrap.dedent(layers), "  "))


# a finding and its near miss, for selection and suppression
BIAS_BEFORE_NORM = (
    spec("- {op: Conv2d, out_channels: 8, kernel_size: 3}\n- {op: BatchNorm2d}",
         "x: {shape: [N, 3, 8, 8]}"),
    spec("- {op: Conv2d, out_channels: 8, kernel_size: 3, bias: false}\n- {op: BatchNorm2d}",
         "x: {shape: [N, 3, 8, 8]}"))


def rules_fired(text: str, **kw) -> list[str]:
    return [d.rule for d in specc.check(text, **kw).diagnostics if d.rule]


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
    bad, _ = BIAS_BEFORE_NORM
    from specc.config import Config

    assert rules_fired(bad, config=Config(ignore=["bias-before-norm"])) == []
    assert rules_fired(bad, config=Config(ignore=["L3"])) == []
    assert rules_fired(bad, config=Config(select=["L301"])) == ["bias-before-norm"]
    assert rules_fired(bad, config=Config(select=["L2"])) == []


def test_inline_suppression_and_unused_suppression():
    bad, _ = BIAS_BEFORE_NORM
    suppressed = bad.replace("kernel_size: 3}", "kernel_size: 3}  # specc: ignore[bias-before-norm]")
    assert rules_fired(suppressed) == []
    by_code = bad.replace("kernel_size: 3}", "kernel_size: 3}  # specc: ignore[L301]")
    assert rules_fired(by_code) == []
    _, good = BIAS_BEFORE_NORM
    useless = good.replace("bias: false}", "bias: false}  # specc: ignore[bias-before-norm]")
    diags = specc.check(useless).diagnostics
    assert [d.rule for d in diags] == ["unused-suppression"]
    assert diags[0].loc.line == 5 and diags[0].severity == "warning"
    typo = good.replace("bias: false}", "bias: false}  # specc: ignore[bias-befor-norm]")
    assert "names no rule" in specc.check(typo).diagnostics[0].message


def test_config_from_pyproject_and_cli_flags(tmp_path):
    bad, _ = BIAS_BEFORE_NORM
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
TOKENS = "x: {shape: [N, 6], dtype: int64}"
GPT_LAYERS = """\
- {{name: e, op: Embedding, num_embeddings: 50, embedding_dim: 8}}
- {{name: pos, op: positions, from: x}}
- {{name: pe, op: Embedding, num_embeddings: 6, embedding_dim: 8}}
- {{name: h, op: add, from: [e, pe]}}
- {attention}
- {{op: Linear, out_features: 50}}"""
SDPA = """{name: q, op: Linear, from: h, out_features: 8}
- {name: k, op: Linear, from: h, out_features: 8}
- {name: v, op: Linear, from: h, out_features: 8}
- {name: attn, op: scaled_dot_product_attention, from: [q, k, v]}"""
SEQ2SEQ_INPUTS = ("src: {shape: [N, 7], dtype: int64}\n  tgt: {shape: [N, 6], dtype: int64}\n"
                  "  causal: {shape: [6, 6]}")
_TARGET = """\
- {{name: te, op: Embedding, from: tgt, num_embeddings: 50, embedding_dim: 8}}
- {{name: tp, op: parameter, shape: [1, 6, 8]}}
- {{name: th, op: add, from: [te, tp]}}
"""
_SOURCE = """\
- {{name: se, op: Embedding, from: src, num_embeddings: 50, embedding_dim: 8}}
- {{name: sp, op: parameter, shape: [1, 7, 8]}}
- {{name: sh, op: add, from: [se, sp]}}
"""
SEQ2SEQ = _SOURCE + """\
- {{name: enc, op: TransformerEncoderLayer, from: sh, nhead: 2, batch_first: true}}
""" + _TARGET + """\
- {{name: dec, op: TransformerDecoderLayer, nhead: 2, batch_first: true, {decoder}}}
- {{op: Linear, out_features: 50}}"""
MHA_SEQ2SEQ = _SOURCE + """\
- {{name: enc, op: MultiheadAttention, from: sh, num_heads: 2, batch_first: true}}
""" + _TARGET + """\
- {{name: self_attn, op: MultiheadAttention, from: [th, th, th{mask}, num_heads: 2, batch_first: true}}
- {{name: cross, op: MultiheadAttention, from: [self_attn.out, enc.out, enc.out], num_heads: 2,
   batch_first: true}}
- {{op: Linear, from: cross.out, out_features: 50}}"""
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
    "a GPT built from Attention without causal: true": (
        spec(GPT_LAYERS.format(attention="{name: attn, op: Attention, from: h, num_heads: 2}"),
             TOKENS, "task: generation"), "causal-lm-without-mask", "attn (Attention)"),
    "a GPT built from Attention with causal: true": (
        spec(GPT_LAYERS.format(attention="{name: attn, op: Attention, from: h, num_heads: 2, "
                                         "causal: true}"), TOKENS, "task: generation"), None, ""),
    "scaled_dot_product_attention without is_causal or a mask": (
        spec(GPT_LAYERS.format(attention=SDPA), TOKENS, "task: generation"),
        "causal-lm-without-mask", "attn (scaled_dot_product_attention)"),
    "scaled_dot_product_attention with is_causal": (
        spec(GPT_LAYERS.format(attention=SDPA[:-1] + ", is_causal: true}"), TOKENS,
             "task: generation"), None, ""),
    "an encoder-decoder whose decoder layer is masked (the encoder looks both ways)": (
        spec(SEQ2SEQ.format(decoder="from: [th, enc, causal], tgt_mask: true, tgt_is_causal: true"),
             SEQ2SEQ_INPUTS, "task: generation"), None, ""),
    "an encoder-decoder whose decoder layer is not masked": (
        spec(SEQ2SEQ.format(decoder="from: [th, enc]"), SEQ2SEQ_INPUTS, "task: generation"),
        "causal-lm-without-mask", "dec (TransformerDecoderLayer)"),
    "MultiheadAttention: masked decoder self-attention, cross-attention to an encoder": (
        spec(MHA_SEQ2SEQ.format(mask=", causal], attn_mask: true, is_causal: true"),
             SEQ2SEQ_INPUTS, "task: generation"), None, ""),
    "MultiheadAttention: unmasked decoder self-attention": (
        spec(MHA_SEQ2SEQ.format(mask="]"), SEQ2SEQ_INPUTS, "task: generation"),
        "causal-lm-without-mask", "self_attn (MultiheadAttention)"),
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


def test_each_rule_lives_in_its_own_module_named_after_it():
    """ruff-style: one rule per file, so the next engineer finds a rule by its name."""
    from specc.lint.registry import CHECKS, _load_rules
    from specc.lint.rules import RULE_MODULES

    _load_rules()
    modules = {code: check.__module__.rsplit(".", 1)[1] for code, check in CHECKS.items()}
    for code, module in modules.items():
        assert module == RULES[code].name.replace("-", "_"), (code, module)
    assert sorted(modules.values()) == RULE_MODULES  # and every rule module holds a rule


def test_lossy_floor_is_one_finding_per_fix_naming_the_layers_it_fixes():
    """AlexNet's stem at 224 and both its pools drop a column; one model input size (227)
    fixes all three: one finding at the first, naming the others and the input sizes."""
    layers = """\
        - {op: Conv2d, out_channels: 8, kernel_size: 11, stride: 4}
        - ReLU
        - {op: MaxPool2d, kernel_size: 3, stride: 2}
        - {op: Conv2d, out_channels: 8, kernel_size: 5, padding: 2}
        - {op: MaxPool2d, kernel_size: 3, stride: 2}"""
    text = spec(layers, "x: {shape: [N, 3, 224, 224]}")
    found = [d for d in specc.check(text).diagnostics if d.rule == "lossy-floor"]
    assert len(found) == 1, [d.format() for d in found]
    assert found[0].loc.line == 5  # the stem
    assert "MaxPool2d at line 7" in found[0].message and "MaxPool2d at line 9" in found[0].message
    assert "a model input 'x' of size 211 or 227" in found[0].message
    fixed = spec(layers, "x: {shape: [N, 3, 227, 227]}")
    assert "lossy-floor" not in rules_fired(fixed)
