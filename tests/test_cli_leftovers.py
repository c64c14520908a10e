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
    assert "replaced if they exist" in build_help and "need --force" in build_help
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
