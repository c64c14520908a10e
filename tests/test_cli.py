"""The command line as CI and editors use it: formats, exit codes, hooks, schema, diff, new."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from specc.report.github import github_line
from specc.errors import Diagnostic, Loc
from tests.helpers import ROOT

DATA = Path(__file__).resolve().parent / "data"
BAD = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, in_features: 5, out_features: 2}\n"
WARN = ("inputs: {x: {shape: [N, 3, 8, 8]}}\nlayers:\n"
        "  - {op: Conv2d, out_channels: 4, kernel_size: 3}\n  - {op: BatchNorm2d}\n")


def run(*args, cwd=ROOT, env=None):
    return subprocess.run([sys.executable, "-m", "specc", *args], capture_output=True, text=True,
                          cwd=cwd, env=env)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "bad.yaml").write_text(BAD)
    (tmp_path / "warn.yaml").write_text(WARN)
    (tmp_path / "notes.yaml").write_text("title: not a spec\n")
    return tmp_path


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.startswith("specc ")
    assert run().returncode == 2
    assert run("check").returncode == 2  # argparse usage error


def test_exit_codes(files):
    assert run("check", "specs/resnet18.yaml").returncode == 0
    assert run("check", str(files / "bad.yaml")).returncode == 1
    assert run("check", str(files / "warn.yaml")).returncode == 0
    assert run("check", str(files / "warn.yaml"), "--fail-on", "warning").returncode == 1
    assert run("check", str(files / "bad.yaml"), "--exit-zero").returncode == 0
    assert run("check", str(files / "missing.yaml")).returncode == 2
    assert run("check", "specs/mlp.yaml", "--dim", "N").returncode == 2


def test_directories_and_globs_in_one_process(files):
    out = run("check", "specs/", "--format", "json")
    doc = json.loads(out.stdout)
    assert len(doc["files"]) == len(list((ROOT / "specs").glob("*.yaml")))
    out = run("check", str(files / "*.yaml"), "--format", "concise", "--skip-non-specs")
    assert "bad.yaml" in out.stdout and "notes.yaml" not in out.stdout


def test_concise_format(files):
    out = run("check", str(files / "bad.yaml"), "--format", "concise")
    first = out.stdout.splitlines()[0]
    assert first == (f"{files / 'bad.yaml'}:3:31: E302 Linear has in_features=5 but its "
                     "input's last dimension is 4 (input [N, 4])")
    out = run("check", str(files / "warn.yaml"), "--format", "concise")
    assert ":3:5: L301 [bias-before-norm]" in out.stdout


def test_github_format_escaping():
    d = Diagnostic("E301", "50% of a\nb, c: d", "error", Loc(3, 4), "n", None, None,
                   "dir,a:b/x.yaml")
    line = github_line(d)
    assert line == ("::error file=dir%2Ca%3Ab/x.yaml,line=3,col=4,title=E301::"
                    "50%25 of a%0Ab, c: d [node n]")
    d = Diagnostic("L301", "m", "warning", Loc(1, 1), None, None, "bias-before-norm", "f.yaml")
    assert github_line(d).startswith("::warning file=f.yaml,line=1,col=1,title=L301 bias-before-norm::")


def test_sarif_validates_against_the_official_schema(files):
    import jsonschema

    out = run("check", str(files / "bad.yaml"), str(files / "warn.yaml"), str(ROOT / "specs/mlp.yaml"),
              "--format", "sarif", cwd=files)
    doc = json.loads(out.stdout)
    schema = json.loads((DATA / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator(schema).validate(doc)
    run_ = doc["runs"][0]
    results = run_["results"]
    assert {r["ruleId"] for r in results} == {"E302", "L301"}
    loc = results[0]["locations"][0]["physicalLocation"]
    assert loc["artifactLocation"] == {"uri": "bad.yaml", "uriBaseId": "%SRCROOT%"}
    assert loc["region"] == {"startLine": 3, "startColumn": 31}
    rules = {r["id"]: r for r in run_["tool"]["driver"]["rules"]}
    assert rules["L301"]["name"] == "bias-before-norm" and "Bad:" in rules["L301"]["help"]["text"]
    for r in results:
        assert run_["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] == r["ruleId"]


def test_json_format_matches_design(files):
    out = run("check", str(files / "warn.yaml"), "--format", "json")
    f = json.loads(out.stdout)["files"][0]
    d = f["diagnostics"][0]
    assert set(d) >= {"code", "rule", "severity", "message", "line", "column", "node"}
    assert f["ok"] is True and f["model"]["params"] == 4 * 3 * 9 + 4 + 8
    node = f["model"]["nodes"][0]
    assert node == {**node, "name": "0", "op": "Conv2d", "output_shape": ["N", 4, 6, 6]}
    out = run("check", str(files / "bad.yaml"), "--format", "json")
    assert json.loads(out.stdout)["files"][0]["model"] is None


def test_color_only_on_terminal_and_no_color(files):
    out = run("check", str(files / "bad.yaml"))
    assert "\033[" not in out.stdout
    out = run("check", str(files / "bad.yaml"), "--color", "always")
    assert "\033[" in out.stdout
    env = dict(os.environ, NO_COLOR="1")
    out = run("check", str(files / "bad.yaml"), env=env)
    assert "\033[" not in out.stdout


def test_quiet_prints_only_diagnostics(files):
    out = run("check", "specs/mlp.yaml", "--quiet")
    assert out.stdout.strip() == ""
    out = run("check", str(files / "bad.yaml"), "-q")
    assert "E302" in out.stdout and "Params" not in out.stdout


def test_pre_commit_hook_entry_runs_on_files(files):
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    hook = hooks[0]
    assert hook["id"] == "specc-check" and hook["language"] == "python"
    entry = hook["entry"].split()
    assert entry[0] == "specc"
    args = [str(files / "notes.yaml"), str(ROOT / "specs" / "mlp.yaml")]
    out = run(*entry[1:], *args)
    assert out.returncode == 0, out.stdout + out.stderr  # the non-spec YAML is skipped
    out = run(*entry[1:], *args, str(files / "bad.yaml"))
    assert out.returncode == 1 and "E302" in out.stdout


def test_schema_command_prints_the_checked_in_schema():
    out = run("schema")
    assert json.loads(out.stdout) == json.loads((ROOT / "schemas" / "specc.schema.json").read_text())


def test_checked_in_schema_is_not_stale():
    from specc.schema import build_schema

    checked_in = json.loads((ROOT / "schemas" / "specc.schema.json").read_text())
    assert checked_in == json.loads(json.dumps(build_schema())), \
        "regenerate: python3 -m specc schema > schemas/specc.schema.json"


def test_specs_validate_against_the_schema_with_jsonschema_alone():
    import jsonschema

    schema = json.loads((ROOT / "schemas" / "specc.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    for path in (ROOT / "specs").glob("*.yaml"):
        validator.validate(yaml.safe_load(path.read_text()))


def test_new_writes_a_starter_that_checks_clean(tmp_path):
    target = tmp_path / "my_model.yaml"
    out = run("new", str(target))
    assert out.returncode == 0 and target.exists()
    assert run("check", str(target)).returncode == 0
    assert run("new", str(target)).returncode == 2  # no silent overwrite


def test_diff_resnet18_to_resnet34():
    out = run("diff", "specs/resnet18.yaml", "specs/resnet34.yaml", "--format", "json")
    report = json.loads(out.stdout)
    assert report["params"]["delta"] == 21797672 - 11689512
    assert report["macs"]["delta"] == 3663761408 - 1814073344
    assert any(e["node"] == "layer1.2.conv1" for e in report["added"])
    assert report["removed"] == [] and report["changed"] == []
    if report["checkpoint"] is not None:
        cp = report["checkpoint"]
        assert cp["loads"] is False and "layer1.2.conv1.weight" in cp["missing"]
        assert cp["unexpected"] == [] and cp["shape_mismatch"] == {}


def test_diff_changed_kernel_and_renamed_node(tmp_path):
    text = (ROOT / "specs" / "resnet18.yaml").read_text()
    new = tmp_path / "new.yaml"
    new.write_text(text.replace("kernel_size: 7, stride: 2, padding: 3",
                                "kernel_size: 5, stride: 2, padding: 2")
                   .replace("name: fc, op: Linear", "name: classifier, op: Linear"))
    out = run("diff", "specs/resnet18.yaml", str(new), "--format", "json")
    report = json.loads(out.stdout)
    assert report["changed"] == [{"node": "conv1", "changes": {"kernel_size": [7, 5],
                                                               "padding": [3, 2]}}]
    assert report["renamed"] == [{"from": "fc", "to": "classifier"}]
    assert report["params"]["delta"] == -64 * 3 * (49 - 25)
    if report["checkpoint"] is not None:
        cp = report["checkpoint"]
        assert cp["shape_mismatch"] == {"conv1.weight": [[64, 3, 7, 7], [64, 3, 5, 5]]}
        assert cp["missing"] == ["classifier.bias", "classifier.weight"]
    text_out = run("diff", "specs/resnet18.yaml", str(new)).stdout
    assert "fc → classifier" in text_out and "kernel_size 7 → 5" in text_out


def test_diff_identical_specs_load():
    out = run("diff", "specs/mlp.yaml", "specs/mlp.yaml")
    assert "No architectural changes." in out.stdout
    assert out.returncode == 0


def test_the_command_line_ends_after_flushing_and_keeps_atexit_callbacks(files):
    """console_main skips the interpreter's teardown only when nothing runs at exit: the
    output is complete and the exit code main's, and a callback registered with atexit
    (by a plugin, say) still runs."""
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    out = run("check", "specs/resnet50.yaml", "--format", "json", env=buffered)
    assert out.returncode == 0 and json.loads(out.stdout)["files"][0]["ok"] is True
    out = run("check", str(files / "bad.yaml"), env=buffered)
    assert out.returncode == 1 and out.stdout.rstrip().endswith("1 error")
    code = ("import atexit, sys\natexit.register(lambda: print('at exit'))\n"
            f"sys.argv = ['specc', 'check', {str(files / 'bad.yaml')!r}, '-q']\n"
            "from specc.cli import console_main\nconsole_main()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and out.stdout.endswith("at exit\n"), out
