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


# --- walking through the README as a new user ----------------------------------------------

def test_a_batch_bound_with_dim_reports_the_whole_batchs_macs_as_torch_counts_them():
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from specc.compile.build import build_module

    symbolic = _cli("check", "specs/small_cnn.yaml").stdout
    bound = _cli("check", "specs/small_cnn.yaml", "--dim", "N=8").stdout
    model = build_module(specc.check(SPECS / "small_cnn.yaml", dims={"N": 8}).graph,
                         device="meta").eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(torch.empty(8, 3, 32, 32, device="meta"))
    macs = counter.get_total_flops() // 2
    assert f"MACs: {macs:,}   " in bound and "MACs/sample" not in bound
    assert f"MACs/sample: {macs // 8:,}   " in symbolic


def test_save_to_a_name_without_an_extension_writes_a_loadable_state_dict(tmp_path):
    import torch

    result = _cli("build", str(SPECS / "mlp.yaml"), "--save", "weights", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # was an internal error from torch.save
    state = torch.load(tmp_path / "weights", weights_only=True)
    model = specc.build(SPECS / "mlp.yaml")
    assert state.keys() == model.state_dict().keys()
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize("args", [("build", "SPEC", "--emit-python", "-"),
                                  ("build", "SPEC", "--save", "-"), ("new", "-")])
def test_dash_is_never_a_file_named_dash(tmp_path, args):
    result = _cli(*[str(SPECS / "mlp.yaml") if a == "SPEC" else a for a in args], cwd=tmp_path)
    assert result.returncode == 2 and "cannot write '-'" in result.stderr, result.stderr
    assert "give a file name" in result.stderr
    assert not (tmp_path / "-").exists()


def test_dash_is_standard_output_where_that_is_the_default(tmp_path):
    render = _cli("render", str(SPECS / "mlp.yaml"), "-o", "-", cwd=tmp_path)
    assert render.returncode == 0 and render.stdout.startswith("digraph"), render.stderr
    imported = _cli("import", "torch.nn:ReLU", "--input", "input=2,3", "-o", "-", cwd=tmp_path)
    assert imported.returncode == 0 and "op: ReLU" in imported.stdout, imported.stderr
    assert not (tmp_path / "-").exists()


def test_new_says_what_is_wrong_with_the_target_before_suggesting_force(tmp_path):
    (tmp_path / "folder").mkdir()
    result = _cli("new", "folder", cwd=tmp_path)
    assert result.returncode == 2 and "it is a directory" in result.stderr
    assert "--force" not in result.stderr  # --force could not overwrite a directory
    (tmp_path / "model.yaml").write_text("keep")
    result = _cli("new", cwd=tmp_path)
    assert result.returncode == 2 and "use --force" in result.stderr


def test_render_to_a_name_without_an_extension_says_so(tmp_path):
    (tmp_path / "out").mkdir()
    result = _cli("render", str(SPECS / "mlp.yaml"), "-o", "out", cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot render to -o out (no file extension)" in result.stderr  # was "to ."
    assert ".html" in result.stderr  # html is a format render writes


def test_check_names_a_missing_file_as_build_does_and_says_when_nothing_was_checked(tmp_path):
    missing = _cli("check", "missing.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "cannot read missing.yaml: No such file or directory" in missing.stderr
    built = _cli("build", "missing.yaml", cwd=tmp_path)
    assert "cannot read missing.yaml: No such file or directory" in built.stdout + built.stderr
    assert "no spec files match 'x*.yaml'" in _cli("check", "x*.yaml", cwd=tmp_path).stderr
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "settings.yaml").write_text("a: 1\n")
    empty = _cli("check", "configs", cwd=tmp_path)
    assert empty.returncode == 0 and empty.stdout == ""
    assert "no spec files in configs" in empty.stderr and "--all-yaml" in empty.stderr


def test_sarif_rules_carry_the_codes_names_and_explanations():
    from specc.codes import CODES

    sarif = json.loads(_cli("check", "specs/mlp.yaml", "--format", "sarif").stdout)
    rules = sarif["runs"][0]["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    for code in CODES.values():
        assert by_id[code.code]["name"] == code.name  # was "YamlTagArePlain" for E003
    assert len({r["name"] for r in rules}) == len(rules)
    assert by_id["E003"]["fullDescription"]["text"].startswith("Tags such as !!python/object")


def test_the_summary_of_several_files_counts_infos_like_each_files_line():
    out = _cli("check", "specs/alexnet.yaml", "specs/mlp.yaml", "--format", "concise").stdout
    assert out.rstrip().endswith("Checked 2 files: 0 errors, 0 warnings, 1 info")


def test_help_names_what_explain_and_dim_take():
    assert "required: CODE" in _cli("explain").stderr  # the README's `specc explain CODE`
    for command in ("check", "build"):
        assert "at least 1" in " ".join(_cli(command, "--help").stdout.split())


@pytest.mark.parametrize("size", ["infGB", "1e400", "0GB", "0.5B", "1e30TB", "nan"])
def test_device_memory_that_no_device_has_is_a_usage_error(size):
    result = _cli("check", "specs/mlp.yaml", "--memory", f"--device-memory={size}")
    assert result.returncode == 2 and "internal error" not in result.stderr, result.stderr
    assert "--device-memory: " in result.stderr and repr(size) in result.stderr


def test_skip_non_specs_over_config_files_stays_quiet(tmp_path):
    (tmp_path / "settings.yaml").write_text("a: 1\n")
    result = _cli("check", "--skip-non-specs", "settings.yaml", cwd=tmp_path)
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_a_symbolic_size_that_cannot_be_inferred_shows_the_input():
    spec = ("specc: 1\nname: m\ninputs:\n  x: {shape: [N, 4, 4]}\nlayers:\n"
            "  - {op: Linear, out_features: 3}\n  - {op: Conv2d, out_channels: 3, kernel_size: 1}\n")
    [diagnostic] = specc.check(spec).diagnostics
    # a 3-D input to Conv2d is unbatched [C, H, W]: the shape shows why C is the batch N
    assert diagnostic.code == "E304" and "(input [N, 4, 3])" in diagnostic.message


@pytest.mark.parametrize("text,kind", [("- a\n- b\n", "a list"), ("just text\n", "text"),
                                       ("3\n", "a number")])
def test_a_document_that_is_not_a_mapping_is_named_in_words(text, kind):
    [diagnostic] = specc.check(text).diagnostics
    assert diagnostic.code == "E101" and diagnostic.message.endswith(f"not {kind}")  # was LList


def test_a_tab_in_the_indentation_gets_a_hint():
    spec = "specc: 1\nname: x\ninputs:\n\tx: {shape: [N, 4]}\nlayers: [ReLU]\n"
    [diagnostic] = specc.check(spec).diagnostics
    assert diagnostic.code == "E001" and (diagnostic.loc.line, diagnostic.loc.col) == (4, 1)
    assert diagnostic.hint == "YAML indents with spaces, never tabs"
    assert specc.check("specc: 1\nname: [\n").diagnostics[0].hint is None
