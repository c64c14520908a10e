"""Red team, session 6: an attack on what landed on 25 Nov (import/new -o, numbers on the
command line, directory checks, diff's folding, the emitted Python's vars). Each test is a
finding that was fixed; it fails on the code before the fix."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tests.helpers import ROOT, SPECS

MLP = str(SPECS / "mlp.yaml")


def _cli(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "specc", *args], check=False,
                          capture_output=True, text=True, errors="surrogateescape", cwd=cwd,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


# --- the emitted Python ---------------------------------------------------------------

CONSTANT_NAMED_VARS = """specc: 1
name: constants
inputs:
  x: {shape: [N, 8]}
vars: {'None': 2, 'True': 3, 'False': 4}
blocks:
  B:
    params: {'True': 1}
    layers:
      - {op: Linear, out_features: $True}
layers:
  - {op: Linear, out_features: $None}
  - {op: Linear, out_features: $True}
  - {op: Linear, out_features: $False}
  - {block: B, 'True': $None}
"""


def test_a_var_named_none_true_or_false_is_emitted_as_its_value(tmp_path):
    """`$True` reads the var named True (3); the emitted code wrote the name, which Python
    reads as the constant: nn.Linear(8, None) failed in build_model() and
    nn.Linear(2, True) silently built out_features=1 where check said 3."""
    import torch

    import specc
    from specc.compile.readable import readable_source

    spec = tmp_path / "constants.yaml"
    spec.write_text(CONSTANT_NAMED_VARS)
    assert specc.check(spec).ok
    source = readable_source(str(spec))
    namespace: dict = {}
    exec(compile(source, "constants.py", "exec"), namespace)
    emitted, built = namespace["build_model"](), specc.build(spec)
    assert {k: v.shape for k, v in emitted.state_dict().items()} == \
        {k: v.shape for k, v in built.state_dict().items()}
    emitted.load_state_dict(built.state_dict())
    x = torch.randn(2, 8)
    assert torch.equal(emitted(x), built(x)) and emitted(x).shape == (2, 2)


def _built_and_emitted(spec):
    import specc
    from specc.compile.readable import readable_source

    built = specc.build(spec)
    namespace: dict = {}
    exec(compile(readable_source(str(spec)), "emitted.py", "exec"), namespace)
    emitted = namespace["build_model"]()
    emitted.load_state_dict(built.state_dict())
    return built, emitted


@pytest.mark.parametrize("model,node", [("mlp", "Mlp"), ("A", "A")])
def test_a_node_named_like_the_models_class_builds(tmp_path, model, node):
    """`name: mlp` with a node `Mlp`: check passed, `specc build` said 'internal error:
    TypeError: linear(): argument input must be Tensor, not dict' (build_model's local
    `Mlp`, the node's module, was called as the class `Mlp`)."""
    import torch

    spec = tmp_path / "m.yaml"
    spec.write_text(f"specc: 1\nname: {model}\ninputs:\n  x: {{shape: [N, 8]}}\nlayers:\n"
                    f"  - {{name: {node}, op: Linear, out_features: 8}}\n  - ReLU\n"
                    "  - {name: head, op: Linear, out_features: 3}\n")
    built, emitted = _built_and_emitted(spec)
    x = torch.randn(2, 8)
    assert built(x).shape == (2, 3) and torch.equal(emitted(x), built(x))
    assert list(built.state_dict()) == [f"{node}.weight", f"{node}.bias", "head.weight",
                                        "head.bias"]


@pytest.mark.parametrize("where", ["input", "node"])
def test_an_input_or_node_named_getattr_keeps_forward_working(tmp_path, where):
    """forward's local (or parameter) `getattr` hid the builtin its next line calls,
    `getattr(self, '2')(...)`: 'Tensor object is not callable' in the built module's and
    the emitted file's forward, for a spec check accepted."""
    import torch

    first = "getattr" if where == "input" else "x"
    spec = tmp_path / "g.yaml"
    spec.write_text(f"specc: 1\nname: g\ninputs:\n  {first}: {{shape: [N, 8]}}\nlayers:\n"
                    "  - {name: getattr, op: Linear, out_features: 8}\n  - ReLU\n"
                    "  - {op: Linear, out_features: 3}\n")
    built, emitted = _built_and_emitted(spec)
    x = torch.randn(2, 8)
    assert built(x).shape == (2, 3) and torch.equal(emitted(x), built(x))


# --- outputs that must not replace a spec ---------------------------------------------

def test_import_does_not_replace_a_spec_saved_while_it_traced(tmp_path):
    """`import -o model.yaml` checks that model.yaml is new before importing the user's
    code, then renamed its file over whatever was there by the end: a spec saved in the
    meantime (an editor; here the module's import itself) was replaced without --force."""
    (tmp_path / "racer.py").write_text(
        "open('model.yaml', 'w').write('# my edits\\n')\n"
        "from torch.nn import ReLU as Net\n")
    result = _cli("import", "racer:Net", "--input", "input=2,3", "-o", "model.yaml",
                  cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr == "specc: model.yaml exists; use --force to overwrite it\n"
    assert (tmp_path / "model.yaml").read_text() == "# my edits\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix != ".pyc") == \
        ["__pycache__", "model.yaml", "racer.py"]  # no temporary file left
    forced = _cli("import", "racer:Net", "--input", "input=2,3", "-o", "model.yaml",
                  "--force", cwd=tmp_path)
    assert forced.returncode == 0 and "op: ReLU" in (tmp_path / "model.yaml").read_text()


@pytest.mark.parametrize("command", [
    ["import", "torch.nn:ReLU", "--input", "input=2,3", "-o", ""],
    ["render", MLP, "-o", ""]])
def test_an_empty_o_is_refused_not_read_as_standard_output(command, tmp_path):
    """`-o "$OUT"` with OUT unset printed the spec (the figure) on stdout and exited 0, as if
    no -o had been given: a script believing it wrote a file."""
    result = _cli(*command, cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert "cannot write '': the file name is empty" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["x\ninjected: 1\n.yaml", "my model.yaml"])
def test_new_writes_a_spec_that_checks_whatever_its_file_name(tmp_path, name):
    """`specc new $'x\\ninjected: 1\\n.yaml'` wrote the name into the comments raw: its
    newline ended the comment, the file was invalid YAML (E001) and the name's text became
    keys; a name with a space gave a `specc check my model.yaml` that does not run."""
    import shlex

    result = _cli("new", name, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = (tmp_path / name).read_text()
    assert "\ninjected" not in text
    check = _cli("check", name, "--format", "concise", cwd=tmp_path)
    assert check.returncode == 0, check.stdout + check.stderr
    if name.isprintable():
        assert f"# Check it:   specc check {shlex.quote(name)}\n" in text


# --- numbers on the command line ------------------------------------------------------

@pytest.mark.parametrize("command", [
    ["check", MLP, "--dim", "N={}"], ["render", MLP, "--dpi", "{}"],
    ["build", MLP, "--max-params", "{}"]])
def test_a_number_of_thousands_of_digits_is_a_plain_usage_error(command):
    """int() refuses strings of over 4,300 digits: --dim N=999…9 said 'Exceeds the limit
    (4300 digits) for integer string conversion …; use sys.set_int_max_str_digits() to
    increase the limit', advice for Python code, not for a command line."""
    result = _cli(*[part.format("9" * 5000) for part in command])
    assert result.returncode == 2, result.stderr
    assert "(5000 digits) is too large a number" in result.stderr
    assert "set_int_max_str_digits" not in result.stderr and "Traceback" not in result.stderr


# --- check DIR ------------------------------------------------------------------------

def _git_repo(folder) -> None:
    if subprocess.run(["git", "init", "-q", str(folder)], check=False).returncode != 0:
        pytest.skip("no git")


def test_a_directory_with_a_file_name_that_is_not_utf8(tmp_path):
    """A spec named b'm\\xfe.yaml' in a git repository: 'internal error: UnicodeEncodeError:
    surrogates not allowed' (the names went to git check-ignore as UTF-8 text)."""
    if sys.platform == "darwin":
        pytest.skip("macOS file systems refuse names that are not UTF-8")
    _git_repo(tmp_path)
    (tmp_path / ".gitignore").write_text("ignored/\n")
    bad = os.path.join(os.fsencode(tmp_path), b"m\xfe.yaml")
    with open(bad, "wb") as handle:
        handle.write(b"specc: 1\ninputs: {x: {shape: [2, 3]}}\n"
                     b"layers:\n  - {op: Linear, out_features: 0}\n")
    (tmp_path / "ignored").mkdir()
    (tmp_path / "ignored" / "x.yaml").write_text("specc: 1\nlayers: [oops\n")
    for fmt in ("concise", "json", "sarif"):
        result = _cli("check", ".", "--format", fmt, cwd=tmp_path)
        assert result.returncode == 1, result.stderr
        assert "internal error" not in result.stderr
        assert "E104" in result.stdout and "skipped 1 YAML file that git ignores" in result.stderr


def test_a_big_data_yaml_in_a_directory_is_skipped_as_a_non_spec(tmp_path):
    """`check DIR` skips YAML without a spec's keys, but one over 1 MB (a data file) was
    checked as a spec: exit 1 with 'missing required key inputs' and 'unknown key items'."""
    (tmp_path / "labels.yaml").write_text(
        "items:\n" + "".join(f"  - {{id: {i}, label: cat}}\n" for i in range(60_000)))
    assert (tmp_path / "labels.yaml").stat().st_size > 1_000_000
    big_spec = (open(MLP).read() + "# padding\n" * 120_000)  # a spec still counts
    (tmp_path / "big.yaml").write_text(big_spec)
    result = _cli("check", str(tmp_path), "--format", "concise")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "labels.yaml" not in result.stdout and "Checked 1 file" in result.stdout
    assert "skipped 1 YAML file without a top-level `layers:`" in result.stderr


def test_expanding_many_named_files_is_not_quadratic(tmp_path):
    """`specc check **/*.yaml` names every file: each was compared with every file before it
    (20,000 files: 2 s in expand_paths alone, 4× the files 13× the time)."""
    from specc.files import expand_paths

    names = []
    for i in range(30_000):
        name = str(tmp_path / f"s{i}.yaml")
        open(name, "w").close()
        names.append(name)
    start = time.perf_counter()
    found, missing, _ = expand_paths(names + names[:5])
    elapsed = time.perf_counter() - start
    assert found == names and missing == []
    assert elapsed < 1.5, f"{elapsed:.2f} s for 30,000 files (the old code: about 4.5 s)"


# --- diff -------------------------------------------------------------------------------

def test_diff_shows_control_characters_of_file_names_escaped(tmp_path):
    """A spec named 'm\\x1b]52;…\\x07.yaml' (an OSC 52 clipboard write) or with a bidi
    override: check prints the name escaped, diff printed it raw onto the terminal."""
    hostile = "m\x1b]52;c;SGVsbG8=\x07\u202e.yaml"
    (tmp_path / hostile).write_text(open(MLP).read())
    result = _cli("diff", MLP, hostile, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
    assert "m\\x1b]52;c;SGVsbG8=\\x07\\u202e.yaml" in result.stdout
    assert "No architectural changes." in result.stdout
