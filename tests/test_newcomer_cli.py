"""What a new user meets on the command line: sizes given with --dim, the memory report's
largest batch, and the small wrong or confusing outputs found walking through the README.
torch is the oracle wherever the question is what the build would do."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import specc
from tests.helpers import ROOT, SPECS, cpu_sized, run_on_meta


def _cli(*args, cwd=ROOT, stdin=None):
    return subprocess.run([sys.executable, "-m", "specc", *args], check=False,
                          capture_output=True, text=True, cwd=cwd, input=stdin,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})


# --- a size of 0 from --dim -------------------------------------------------------------

# (spec, the symbol set to 0, the other symbols' sizes): models torch cannot run on an
# empty tensor although check used to accept them (a reshape with -1, an RNN over no steps,
# packing no sequences, a conv sliding over nothing)
EMPTY_REFUSED_BY_TORCH = [("gpt2", "T", {"N": 2}), ("gpt2", "N", {"T": 8}),
                          ("tcn", "T", {"N": 2}), ("char_rnn", "T", {"N": 2}),
                          ("lstm_classifier", "N", {"T": 8})]


@pytest.mark.parametrize("name,symbol,others", EMPTY_REFUSED_BY_TORCH)
def test_a_size_of_zero_is_a_usage_error_because_torch_refuses_it(name, symbol, others):
    graph = cpu_sized(name, dims=others).graph
    with pytest.raises(RuntimeError):
        run_on_meta(graph, {**others, symbol: 0})
    for size in ("0", "-3"):
        result = _cli("check", str(SPECS / f"{name}.yaml"), "--dim", f"{symbol}={size}")
        assert result.returncode == 2, result.stdout
        assert f"--dim {symbol}={size}: a size must be at least 1" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_size_of_zero_through_the_api_or_a_literal_is_a_located_error():
    analysis = specc.check(SPECS / "small_cnn.yaml", dims={"N": 0})
    assert not analysis.ok
    [diagnostic] = analysis.diagnostics
    assert diagnostic.code == "E303" and diagnostic.loc.line == 8
    assert "a size must be at least 1" in diagnostic.message
    text = (SPECS / "small_cnn.yaml").read_text().replace("[N, 3, 32, 32]", "[0, 3, 32, 32]")
    [diagnostic] = specc.check(text).diagnostics  # the schema's error alone, not twice
    assert diagnostic.code == "E104" and "must be a positive integer, got 0" in \
        diagnostic.message


def test_size_one_still_builds_with_the_inferred_shapes():
    from tests.helpers import assert_matches_torch

    assert_matches_torch(cpu_sized("gpt2", dims={"N": 1, "T": 1}).graph, {"N": 1, "T": 1})


# --- the largest batch when the memory does not grow with it ------------------------------

# the batch is averaged away before anything autograd keeps: the training total is the
# same at every batch, while the inference total still holds the input
BATCH_REDUCED = """\
specc: 1
name: batch_reduced
inputs:
  x: {shape: [N, 4]}
layers:
  - {op: mean, dim: 0}
  - {name: fc, op: Linear, out_features: 3}
"""


def test_memory_that_does_not_grow_with_the_batch_says_any_batch(tmp_path):
    import torch

    from specc.analyses.measure import example_inputs, saved_bytes
    from specc.analyses.memory import analyse_memory, parse_bytes
    from specc.compile.build import build_module

    # torch: what autograd keeps is the same at batch 1 and batch 4096
    graph = specc.check(BATCH_REDUCED).graph
    model = build_module(graph)
    kept = {batch: saved_bytes(model, example_inputs(graph, {"N": batch}, torch.float32))
            for batch in (1, 4096)}
    assert kept[1] == kept[4096] > 0

    spec = tmp_path / "batch_reduced.yaml"
    spec.write_text(BATCH_REDUCED)
    result = _cli("check", str(spec), "--memory", "--device-memory", "24GiB")
    assert result.returncode == 0, result.stderr
    line = next(x for x in result.stdout.splitlines() if "largest batch" in x)
    assert "16,777,215" not in line  # the search's old cap, printed as if it were an answer
    assert "training any" in line and "the training total does not grow with the batch N" \
        in line
    # the inference total holds the input, so it has a real boundary past the old cap
    budget = parse_bytes("24GiB")
    report = json.loads(_cli("check", str(spec), "--memory", "--device-memory", "24GiB",
                             "--format", "json").stdout)["files"][0]["model"]["memory"]
    assert report["largest_batch_train"] is None
    best = report["largest_batch_inference"]
    assert best > 1 << 24 and f"inference {best:,}" in line

    def inference_total(batch):
        bound = specc.check(BATCH_REDUCED, dims={"N": batch}).graph
        return analyse_memory(bound).total_inference_bytes
    assert inference_total(best) <= budget < inference_total(best + 1)
