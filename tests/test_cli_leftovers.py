"""CLI leftovers a red team and a newcomer walkthrough found (issue 16): which commands may
replace an existing file, render -o onto a folder, where "wrote FILE" goes, numbers typed
with non-ASCII digits, --export onto a full disk, and a misspelt required parameter.
The CLI runs in a subprocess wherever what matters is what a user sees."""
from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import ROOT, SPECS

MLP = str(SPECS / "mlp.yaml")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "specc", *args], check=False,
                          capture_output=True, text=True, cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": ""})


# --- which outputs replace an existing file ----------------------------------------------

def test_import_refuses_to_replace_an_existing_spec_without_force(tmp_path):
    """`import -o model.yaml` replaced a spec the user may have edited, where `new` refuses."""
    target = tmp_path / "model.yaml"
    target.write_text("# my edits\n")
    refused = _cli("import", "torch.nn:ReLU", "--input", "input=2,3", "-o", str(target))
    assert refused.returncode == 2, refused.stderr
    assert f"{target} exists; use --force to overwrite it" in refused.stderr
    assert target.read_text() == "# my edits\n"
    forced = _cli("import", "torch.nn:ReLU", "--input", "input=2,3", "-o", str(target),
                  "--force")
    assert forced.returncode == 0, forced.stderr
    assert "op: ReLU" in target.read_text()
    assert forced.stdout == "" and f"wrote {target}" in forced.stderr


def test_import_refuses_before_running_the_users_code(tmp_path):
    """The refusal comes first: a module that fails to import is not even imported."""
    target = tmp_path / "model.yaml"
    target.write_text("keep\n")
    result = _cli("import", "no_such_module_here:Net", "--input", "x=1,3", "-o", str(target))
    assert result.returncode == 2 and "use --force" in result.stderr
    assert "cannot import" not in result.stderr


def test_generated_outputs_are_replaced_and_the_help_says_which_need_force(tmp_path):
    """render's and build's files are outputs, rewritten at every run (re-rendering a figure
    is the normal workflow); new and import write a spec you edit."""
    figure, weights = tmp_path / "mlp.dot", tmp_path / "mlp.pt"
    figure.write_text("old")
    weights.write_text("old")
    assert _cli("render", MLP, "-o", str(figure)).returncode == 0
    assert figure.read_text().startswith("digraph")
    assert _cli("build", MLP, "--save", str(weights)).returncode == 0
    assert weights.read_bytes()[:2] == b"PK"  # torch.save's zip archive
    assert "replaced if it exists" in " ".join(_cli("render", "--help").stdout.split())
    build_help = " ".join(_cli("build", "--help").stdout.split())
    assert "replaced if they exist" in build_help and "replace a spec only with --force" in build_help
    for command in ("new", "import"):
        assert "--force" in _cli(command, "--help").stdout


# --- render -o onto a folder -------------------------------------------------------------

@pytest.mark.parametrize("folder,what", [
    ("plots.v2", "-o plots.v2"), ("plots", "-o plots (no file extension)")])
@pytest.mark.parametrize("extra", [[], ["--format", "svg"], ["--format", "html"]])
def test_render_onto_a_folder_says_it_is_a_folder(tmp_path, folder, what, extra):
    """`render -o plots.v2` (a folder) said 'cannot render to .v2', as if the name lacked
    only a known suffix; with --format it got as far as writing."""
    (tmp_path / folder).mkdir()
    result = _cli("render", MLP, "-o", folder, *extra, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"specc: cannot render to {what}: it is a directory; name a .svg, "
                             f".png, .pdf, .dot or .html file in it, e.g. -o {folder}/mlp.svg\n")
    assert list((tmp_path / folder).iterdir()) == []


def test_render_to_a_new_name_without_a_known_suffix_still_says_so(tmp_path):
    for name, what in (("plots.v2", ".v2"), ("plots", "-o plots (no file extension)")):
        result = _cli("render", MLP, "-o", name, cwd=tmp_path)
        assert result.returncode == 2
        assert f"cannot render to {what}: name a .svg" in result.stderr
        assert "directory" not in result.stderr
    assert list(tmp_path.iterdir()) == []


# --- "wrote FILE" is progress: stderr ------------------------------------------------------

def test_every_wrote_line_is_on_stderr_and_stdout_holds_the_result(tmp_path):
    """build printed "wrote X" on stdout while render and import printed it on stderr."""
    py, pt = tmp_path / "mlp.py", tmp_path / "mlp.pt"
    built = _cli("build", MLP, "--emit-python", str(py), "--save", str(pt))
    assert built.returncode == 0, built.stderr
    assert built.stdout == "mlp: 235,146 parameters on cpu\n"  # the result, alone
    assert f"wrote {py}\n" in built.stderr and f"wrote {pt}\n" in built.stderr
    for args in (["render", MLP, "-o", str(tmp_path / "mlp.dot")],
                 ["new", str(tmp_path / "new.yaml")]):
        result = _cli(*args)
        assert result.returncode == 0, result.stderr
        assert result.stdout == "" and result.stderr.startswith("wrote "), args


# --- numbers on the command line are ASCII digits ----------------------------------------

ARABIC_12, FULLWIDTH_12 = "\u0661\u0662", "\uff11\uff12"  # '١٢' and '１２': int() reads 12


@pytest.mark.parametrize("text", ["12", "+12", "-3", " 7 ", "0"])
def test_whole_number_reads_what_int_reads_in_ascii(text):
    from specc.cli._common import whole_number

    assert whole_number(text) == int(text)


@pytest.mark.parametrize("text", [ARABIC_12, FULLWIDTH_12, "1_000", "\u00b2", "", "-", "1.0"])
def test_whole_number_refuses_what_no_spec_reads_as_an_integer(text):
    import yaml

    from specc.cli._common import whole_number

    with pytest.raises(ValueError, match="digits 0-9"):
        whole_number(text)
    if text and not text.isascii():  # the oracle: YAML reads text here, Python an int
        assert isinstance(yaml.safe_load(f"x: {text}")["x"], str)


@pytest.mark.parametrize("args,message", [
    (["check", MLP, "--dim", f"N={ARABIC_12}"],
     f"specc: --dim N: '{ARABIC_12}' is not a whole number written with the digits 0-9"),
    (["check", MLP, "--var", f"hidden={ARABIC_12}"],
     f"specc: --var hidden: '{ARABIC_12}' is not a number written with the digits 0-9"),
    (["check", MLP, "--var", f"hidden={FULLWIDTH_12}.5"], "not a number written with the digits"),
    (["check", MLP, "--memory", "--device-memory", f"{FULLWIDTH_12}GB"],
     f"cannot read '{FULLWIDTH_12}GB' as a size (e.g. 24GiB, 80GB; digits 0-9)"),
    (["render", MLP, "--dpi", ARABIC_12], "argument --dpi: '١٢' is not a whole number"),
    (["render", MLP, "--depth", ARABIC_12], "argument --depth: '١٢' is not a whole number"),
    (["build", MLP, "--max-params", FULLWIDTH_12],
     "argument --max-params: '１２' is not a whole number written with the digits 0-9"),
    (["import", "torch.nn:ReLU", "--input", f"x={ARABIC_12},3"],
     "--input x: sizes must be integers (digits 0-9)"),
])
def test_numbers_in_other_scripts_digits_are_usage_errors(args, message):
    """`--dim N=١٢` was read as N=12: Python's int() takes any script's decimal digits."""
    result = _cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_same_options_in_ascii_still_work(tmp_path):
    assert _cli("check", MLP, "--dim", "N=12", "-q").returncode == 0
    assert _cli("check", MLP, "--var", "hidden=12", "-q").returncode == 0
    assert _cli("render", MLP, "--depth", "1", "-o", str(tmp_path / "m.dot")).returncode == 0


def test_a_spec_reads_other_scripts_digits_as_text_as_pyyaml_does():
    """The loader agrees with PyYAML (the oracle): '١٢' is a string, so `out_features: ١٢`
    is a plain 'must be a positive integer' (it was 'must be an expression ... a symbol is a
    Python-style name'), and a shape's '2*١٢' is not read as 24 after its E104."""
    import yaml

    from specc.dims import parse_dim
    from specc.loader import load_yaml

    for text in (ARABIC_12, FULLWIDTH_12, f"{ARABIC_12}.5"):
        assert load_yaml(f"x: {text}") == yaml.safe_load(f"x: {text}") == {"x": text}
    assert parse_dim(f"2*{ARABIC_12}") is None and parse_dim("2*12") == 24
    doc = ("specc: 1\ninputs:\n  x: {shape: [N, 8]}\n"
           f"layers:\n  - {{op: Linear, out_features: {ARABIC_12}}}\n")
    import specc

    errors = [d for d in specc.check(doc).diagnostics if d.severity == "error"]
    assert [(d.code, d.message) for d in errors] == [
        ("E104", f"Linear.out_features must be a positive integer, got '{ARABIC_12}'")]


# --- build --export onto a full disk -------------------------------------------------------

def _build_export(target, preexec_fn=None):
    return subprocess.run([sys.executable, "-m", "specc", "build", MLP, "--export",
                           str(target)], check=False, capture_output=True, text=True,
                          cwd=ROOT, env={"PYTHONPATH": str(ROOT), "PATH": ""},
                          preexec_fn=preexec_fn)


def test_export_onto_a_full_disk_exits_2_and_keeps_the_old_file(tmp_path):
    """`build --export` onto a full disk (a 64 KiB tmpfs) aborted in torch's archive writer
    (exit 134, a C++ stack, the temporary file left) after specc had said the disk was full.
    The tmpfs is mounted in a mount namespace of its own (unshare), gone with the process."""
    import shutil

    unshare = shutil.which("unshare", path="/usr/bin:/bin")
    if unshare is None:
        pytest.skip("no unshare(1) to mount a small tmpfs in a namespace")
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f"mount -t tmpfs -o size=64k tmpfs {disk} || exit 77; "
              f"printf precious > {disk}/m.pt2; "
              f"{sys.executable} -m specc build {MLP} --export {disk}/m.pt2; echo rc=$?; "
              f"ls -A {disk}; cat {disk}/m.pt2")
    result = subprocess.run([unshare, "-rm", "/bin/sh", "-c", script], check=False,
                            capture_output=True, text=True, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    if result.returncode == 77 or "unshare:" in result.stderr:
        pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()[:200]}")
    assert result.stdout.splitlines() == ["rc=2", "m.pt2", "precious"], result.stderr
    assert result.stderr == (f"specc: cannot write {disk}/m.pt2: no space left on the device "
                             "(the old m.pt2, if any, is kept)\n")


def test_export_over_a_file_size_limit_is_an_output_error_not_an_abort(tmp_path):
    """The same writer failure without a mount: a 64 KiB RLIMIT_FSIZE (Python ignores
    SIGXFSZ, so the write fails with EFBIG). The old code aborted with exit 134."""
    import resource

    target = tmp_path / "m.pt2"
    target.write_text("precious")
    result = _build_export(target, preexec_fn=lambda: resource.setrlimit(
        resource.RLIMIT_FSIZE, (1 << 16, 1 << 16)))
    assert result.returncode == 2, result.stderr[-2000:]
    assert result.stderr == (f"specc: cannot write {target}: File too large (the old m.pt2, "
                             "if any, is kept)\n")
    assert target.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt2"]


def test_export_still_writes_a_program_torch_loads_and_runs(tmp_path):
    import torch

    import specc

    target = tmp_path / "m.pt2"
    result = _build_export(target)
    assert result.returncode == 0, result.stderr
    program = torch.export.load(str(target))
    model = specc.build(MLP)
    model.load_state_dict(program.state_dict)
    x = torch.randn(3, 784)
    assert torch.allclose(program.module()(x), model.eval()(x), atol=1e-6)


# --- a misspelt required parameter is one error --------------------------------------------

MISSPELT = """specc: 1
name: m
inputs:
  x: {shape: [N, 8]}
blocks:
  head:
    params: {width: null}
    layers:
      - {op: Linear, out_features: $width}
layers:
  - {op: Linear, out_featurs: 16, bais: false}
  - {op: Linear, out_features: 8, biass: false}
  - {block: head, widht: 4}
  - {op: Linear}
"""


def test_a_misspelt_required_parameter_is_one_located_error_that_says_both(tmp_path):
    """`out_featurs: 16` was two errors: E105 "Linear needs parameter 'out_features'" at
    the node and E103 "has no parameter 'out_featurs'" at the key. Both checks still run;
    their errors are presented as one, at the key."""
    import json

    import torch

    with pytest.raises(TypeError, match="out_featurs"):  # torch refuses the spelling too
        torch.nn.Linear(8, out_featurs=16)
    spec = tmp_path / "m.yaml"
    spec.write_text(MISSPELT)
    result = _cli("check", str(spec), "--format", "json")
    assert result.returncode == 1, result.stderr
    found = sorted((d["code"], d["line"], d["column"], d["message"], d["hint"])
                   for d in json.loads(result.stdout)["files"][0]["diagnostics"])
    assert found == [
        ("E103", 11, 18, "Linear has no parameter 'out_featurs' — did you mean "
                         "'out_features' (required, missing)?", None),
        ("E103", 11, 35, "Linear has no parameter 'bais'", "did you mean 'bias'?"),
        ("E103", 12, 35, "Linear has no parameter 'biass'", "did you mean 'bias'?"),
        ("E105", 14, 5, "Linear needs parameter 'out_features'", None),
        ("E205", 13, 19, "block 'head' has no parameter 'widht' — did you mean 'width' "
                         "(required, missing)?", None)], found


def test_the_expander_says_a_misspelt_required_parameter_as_validate_does():
    """Without the schema (expand() alone) the message is the same."""
    from specc.analysis import Limits
    from specc.expand import expand
    from specc.loader import load_yaml

    doc = load_yaml(MISSPELT.replace("    params: {width: null}\n", "    params: {width: 4}\n"))
    _, found = expand(doc, {}, Limits())
    assert [(d.code, d.loc.line, d.message) for d in found if d.loc.line == 11] == [
        ("E103", 11, "Linear has no parameter 'out_featurs' — did you mean 'out_features' "
                     "(required, missing)?")]
    assert [d.code for d in found if d.loc.line == 14] == ["E105"]


def test_explain_says_where_the_missing_parameter_went():
    for code in ("E103", "E105"):
        text = " ".join(_cli("explain", code).stdout.split())
        assert "misspel" in text and ("E103" in text or code == "E103"), text
