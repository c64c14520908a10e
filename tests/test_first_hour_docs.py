"""What a new user copies from the README works: the pre-commit snippet names a real hook
and a ref that exists, `specc new` writes the README's modeline, directory checks skip
YAML that is not a spec and files git ignores."""
import re
import shutil
import subprocess
import sys

import pytest
import yaml

from specc.starter import STARTER
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_pre_commit_snippet_names_the_hook_and_an_existing_ref():
    block = re.search(r"# \.pre-commit-config\.yaml\n(.*?)```", README, re.S).group(1)
    config = yaml.safe_load(block)
    repo = config["repos"][0]
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in repo["hooks"]} <= {h["id"] for h in hooks}
    rev = repo["rev"]
    # an immutable ref (pre-commit warns about a branch), the release of this version
    version = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M)
    assert rev == f"v{version.group(1)}"
    tags = subprocess.run(["git", "tag", "--list"], cwd=ROOT, capture_output=True, text=True)
    if tags.returncode != 0 or not tags.stdout.strip():
        pytest.skip("not a git checkout with tags (an archive or a clone without tags)")
    out = subprocess.run(["git", "rev-parse", "--verify", "--quiet", rev + "^{commit}"],
                         cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"README pins rev {rev!r}, which this repository lacks"


def test_specc_new_writes_the_readme_modeline():
    modeline = STARTER.splitlines()[0]
    assert modeline.startswith("# yaml-language-server: $schema=")
    editors = README.split("### Editors", 1)[1]
    assert re.search(r"```yaml\n(.*?)\n```", editors, re.S).group(1) == modeline


def _check(*args, cwd):
    return subprocess.run([sys.executable, "-m", "specc", "check", *args, "--format", "concise"],
                          cwd=cwd, capture_output=True, text=True, env={"PYTHONPATH": str(ROOT),
                                                                        "PATH": "/usr/bin:/bin"})


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_directory_check_skips_non_specs_and_gitignored_files(tmp_path):
    spec = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, in_features: 5, out_features: 2}\n"
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "bad.yaml").write_text(spec)
    (tmp_path / "models" / "ci.yaml").write_text("on: [push]\njobs: {}\n")  # not a spec
    (tmp_path / "build").mkdir()
    (tmp_path / "build" / "copy.yaml").write_text(spec)
    (tmp_path / ".gitignore").write_text("build/\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    out = _check(".", cwd=tmp_path)
    assert out.returncode == 1
    assert "models/bad.yaml" in out.stdout
    assert "ci.yaml" not in out.stdout + out.stderr and "copy.yaml" not in out.stdout
    every = _check(".", "--all-yaml", cwd=tmp_path)
    assert "ci.yaml" in every.stdout and "build/copy.yaml" in every.stdout
    named = _check("models/ci.yaml", cwd=tmp_path)  # a file named explicitly is checked
    assert named.returncode == 1 and "ci.yaml" in named.stdout


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_directory_check_says_what_it_skipped_and_checks_a_misspelt_spec(tmp_path):
    from specc.files import looks_like_spec

    models = tmp_path / "models"
    models.mkdir()
    # `layers` misspelt: still a spec (it has `inputs:`), so check reports the misspelling
    (models / "typo.yaml").write_text("inputs: {x: {shape: [N, 4]}}\nlayer:\n"
                                      "  - {op: Linear, out_features: 2}\n")
    (models / "ci.yaml").write_text("on: [push]\njobs: {}\n")
    (models / "k8s.yaml").write_text("apiVersion: v1\nspec:\n  containers: []\n")
    (models / "action.yaml").write_text("name: x\ninputs:\n  who: {}\nruns: {using: node20}\n")
    (models / "out").mkdir()
    (models / "out" / "copy.yaml").write_text((ROOT / "specs" / "mlp.yaml").read_text())
    (tmp_path / ".gitignore").write_text("out/\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    assert looks_like_spec(models / "typo.yaml")
    assert not any(looks_like_spec(models / f) for f in ("ci.yaml", "k8s.yaml", "action.yaml"))
    out = _check("models", cwd=tmp_path)
    assert out.returncode == 1 and "typo.yaml" in out.stdout and "'layer'" in out.stdout
    assert ("skipped 3 YAML files without a top-level `layers:` or `specc:` key and 1 YAML file "
            "that git ignores in models (--all-yaml checks them)") in out.stderr
    assert _check("models", "--quiet", cwd=tmp_path).stderr == ""
    # a folder whose only spec git ignores says so instead of blaming a missing key
    ignored = _check("models/out", cwd=tmp_path)
    assert ignored.returncode == 0
    assert "no spec files in models/out: skipped 1 YAML file that git ignores" in ignored.stderr


def test_flatten_and_Flatten_defaults_documented_side_by_side():
    ops = (ROOT / "docs" / "ops.md").read_text()
    module = next(line for line in ops.splitlines() if line.startswith("| `Flatten` |"))
    function = next(line for line in ops.splitlines() if line.startswith("| `flatten` |"))
    assert "`start_dim=1`" in module and "`flatten` starts at 0" in module
    assert "`start_dim=0`" in function and "`Flatten` starts at 1" in function
    import torch  # and torch agrees with what they say

    x = torch.zeros(2, 3, 4)
    assert torch.flatten(x).shape == (24,) and torch.nn.Flatten()(x).shape == (2, 12)


def test_readme_python_snippet_runs_as_written_in_a_fresh_checkout(tmp_path):
    """The README's "From Python" block, verbatim, in a directory holding only the specs
    (a fresh checkout: no mlp.safetensors), then torch checks what it made."""
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    section = README.split("From Python", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    oracle = ("\nwith torch.no_grad():\n"
              "    x = torch.randn(2, 784)\n"
              "    assert torch.equal(torch.load('mlp.pt', weights_only=False).eval()(x), "
              "model.eval()(x))\n"
              "    from safetensors.torch import load_file\n"
              "    assert all(torch.equal(model.state_dict()[k], v)\n"
              "               for k, v in load_file('mlp.safetensors').items())\n"
              "assert logits.shape == (4, 10) and small.fc1.out_features == 128\n"
              "assert 'op: Conv2d' in text and 'resnet50' in dot.source\n")
    out = subprocess.run([sys.executable, "-c", snippet + oracle], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert "'params': 25557032" in out.stdout  # print(analysis.totals): torchvision's count
