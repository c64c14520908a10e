"""Regression tests for the bugs issue 12 found while reshaping specc."""
import inspect
import json
import subprocess
import sys

import pytest

import specc
from specc.schema_validator import Validator
from tests.helpers import ROOT

SCHEMA = json.loads((ROOT / "schemas" / "specc.schema.json").read_text())
WARNS = ("inputs: {x: {shape: [N, 3, 8, 8]}}\nlayers:\n"
         "  - {op: Conv2d, out_channels: 8, kernel_size: 3}\n  - {op: BatchNorm2d}\n")


def test_exit_code_does_not_depend_on_argument_order(tmp_path):
    """Each file fails by its own config's fail-on (it was the last file's for all)."""
    strict, lenient = tmp_path / "strict", tmp_path / "lenient"
    for folder in (strict, lenient):
        folder.mkdir()
        (folder / "m.yaml").write_text(WARNS)  # bias-before-norm: a warning
    (strict / "pyproject.toml").write_text('[tool.specc]\nfail-on = "warning"\n')
    (lenient / "pyproject.toml").write_text('[tool.specc]\nfail-on = "error"\n')
    codes = []
    for order in ((strict, lenient), (lenient, strict)):
        out = subprocess.run([sys.executable, "-m", "specc", "check", "-q",
                              *(str(f / "m.yaml") for f in order)],
                             capture_output=True, text=True, cwd=ROOT)
        codes.append(out.returncode)
    assert codes == [1, 1], codes
    out = subprocess.run([sys.executable, "-m", "specc", "check", "-q", str(lenient / "m.yaml")],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0


def test_padding_count_message_is_formatted():
    text = ("inputs: {x: {shape: [N, 3, 8, 8]}}\nlayers:\n"
            "  - {op: ZeroPad2d, padding: [1, 2, 3]}\n")
    messages = [d.message for d in specc.check(text).diagnostics]
    assert any("got 3" in m for m in messages), messages
    assert not any("{" in m for m in messages), messages


@pytest.mark.parametrize("name", ["fc\n", "fc\r\n", "x\n", "\nfc"])
def test_a_name_with_a_newline_is_refused(name):
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            f"  - {{name: {json.dumps(name)}, op: Linear, out_features: 2}}\n")
    a = specc.check(text)
    assert not a.ok and {d.code for d in a.diagnostics} & {"E101", "E203"}, a.diagnostics


def _doc(name):
    return {"inputs": {"x": {"shape": ["N", 4]}},
            "layers": [{"name": name, "op": "Linear", "out_features": 2}]}


@pytest.mark.parametrize("name", ["fc", "fc\n", "fc_2", "2fc", "fc$", "${n}", "a\nb", "$x\n",
                                  "layer_${i}", "fc ", ""])
def test_schema_validator_agrees_with_jsonschema_rs(name):
    """jsonschema-rs follows ECMA-262 regex semantics, as JSON Schema specifies: a second
    oracle next to python-jsonschema (whose `$` follows Python's re and lets "fc\\n" pass)."""
    jsonschema_rs = pytest.importorskip("jsonschema_rs")
    doc = _doc(name)
    assert Validator(SCHEMA).is_valid(doc) == jsonschema_rs.validator_for(SCHEMA).is_valid(doc)


def test_py_typed_ships():
    assert (ROOT / "specc" / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def test_an_installed_package_validates_like_the_checkout(tmp_path):
    """The validator's schema comes from the package itself: a copy of specc/ without the
    repository around it (as a wheel installs it) reports the same diagnostics."""
    import shutil

    shutil.copytree(ROOT / "specc", tmp_path / "specc",
                    ignore=shutil.ignore_patterns("__pycache__"))
    spec = tmp_path / "m.yaml"
    spec.write_text("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
                    "  - {op: Linear, out_features: 2, bogus: 1}\n  - {op: Nope}\n")

    def report(cwd):
        out = subprocess.run([sys.executable, "-m", "specc", "check", str(spec), "--format",
                              "json"], capture_output=True, text=True, cwd=cwd,
                             env={"PYTHONPATH": str(cwd), "PATH": ""})
        return out.returncode, json.loads(out.stdout)["files"][0]["diagnostics"]

    installed = report(tmp_path)
    assert installed == report(ROOT)
    assert [d["code"] for d in installed[1]] == ["E103", "E102"], installed


def test_config_is_read_without_tomllib_as_on_python_3_10(tmp_path):
    """Python 3.10 has no tomllib: [tool.specc] is read with the tomli backport (a dependency
    there), not silently ignored. tomllib is made unimportable to stand in for 3.10."""
    pytest.importorskip("tomli")
    (tmp_path / "m.yaml").write_text(WARNS)  # bias-before-norm: a warning
    (tmp_path / "pyproject.toml").write_text('[tool.specc]\nfail-on = "warning"\n')
    code = ("import sys\nsys.modules['tomllib'] = None\n"
            "from specc.cli import main\nsys.exit(main(['check', '-q', 'm.yaml']))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 1, out.stdout + out.stderr
    (tmp_path / "pyproject.toml").write_text('[tool.specc]\nfail-on = "error"\n')
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert 'tomli' in (ROOT / "pyproject.toml").read_text()


def test_module_names_torch_accepts_are_allowed():
    """`self` (BERT's attention.self) names a module, `half` a functional node, `block1-0`
    (RegNet) a module: the state_dict keys are those names, as torch writes them."""
    torch = pytest.importorskip("torch")
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: self, op: Linear, out_features: 4}\n"
            "  - {name: block1-0, op: Linear, out_features: 4}\n"
            "  - {name: half, op: mul, from: [self, block1-0]}\n")
    model = specc.build(text)
    assert list(model.state_dict()) == ["self.weight", "self.bias", "block1-0.weight",
                                        "block1-0.bias"]
    x = torch.randn(2, 4)
    first = getattr(model, "self")(x)
    assert torch.equal(model(x), first * getattr(model, "block1-0")(first))


@pytest.mark.parametrize("where", ["shape", "var"])
def test_a_size_symbol_with_a_newline_is_refused(where):
    """Symbols are checked by full match (Python's `$` would let "N\\n" through)."""
    from specc.ops.ptypes import _is_symbol

    assert _is_symbol("N") and not _is_symbol("N\n")
    shape = ["N\n", 4] if where == "shape" else ["N", 4]
    doc = {"inputs": {"x": {"shape": shape}}, "layers": ["ReLU"]}
    if where == "var":
        doc["vars"] = {"n\n": 3}
    assert not specc.check(doc).ok


def test_a_plugin_name_with_a_newline_is_refused():
    from specc.plugin import module_op, validate_op
    from specc.ops.base import Param

    def keep(ctx):
        return [ctx.inputs[0]]

    ok = module_op("Scale", "pkg.mod:Scale", [Param("factor", "float", 1.0)], keep)
    assert validate_op(ok) == []
    for bad in (module_op("Scale\n", "pkg.mod:Scale", [], keep),
                module_op("Scale", "pkg.mod:Scale\n", [], keep),
                module_op("Scale", "pkg.mod:Scale", [Param("factor\n", "float", 1.0)], keep)):
        assert validate_op(bad), bad.name


def test_no_two_param_types_are_the_same_type():
    """One type per kind of value: two param types with one schema (int and dim, posints
    and sections, optfloat and number_or_none were) would be two names for one fact."""
    from specc.ops.ptypes import PTYPES

    schemas: dict = {}
    for name, ptype in PTYPES.items():
        schemas.setdefault(json.dumps(ptype.schema, sort_keys=True), []).append(name)
    assert all(len(names) == 1 for names in schemas.values()), \
        [names for names in schemas.values() if len(names) > 1]


def test_readme_project_layout_is_the_tree():
    """README's "Project layout" names every file and folder of specc/, and nothing else."""
    import re

    text = (ROOT / "README.md").read_text()
    block = text.split("## Project layout", 1)[1].split("```", 2)[1]
    listed = {m.group(1).rstrip("/") for m in re.finditer(r"^specc/(\S+)", block, re.MULTILINE)}
    tree = {p.name for p in (ROOT / "specc").iterdir() if p.name != "__pycache__"}
    assert listed == tree, (sorted(tree - listed), sorted(listed - tree))


def test_contributing_names_what_exists():
    """CONTRIBUTING.md's recipes stay true: the files it names exist, its list of op files
    is specc/ops/'s, and the declarations it tells you to write are real."""
    import importlib
    import re

    from specc import codes
    from specc.cli import COMMANDS
    from specc.ops.base import OpDef
    from specc.report.formats import FORMATS

    text = (ROOT / "CONTRIBUTING.md").read_text()
    paths = set(re.findall(r"`((?:specc|tests|docs|schemas)/[^`\s<>]*)`", text))
    assert len(paths) > 10
    assert [p for p in paths if not (ROOT / p.split("::")[0]).exists()] == []
    files = re.search(r"right file of `specc/ops/` \(([^)]*)\)", text).group(1)
    listed = {name.strip() for name in files.replace("\n", " ").split(",")}
    modules = {p.stem for p in (ROOT / "specc" / "ops").glob("*.py")
               if not p.stem.startswith("_") and p.stem not in ("base", "ptypes")}
    assert listed == modules
    fields = set(inspect.signature(OpDef).parameters) | {"is_dropout"}
    for name in ("passes_through", "weighted", "channel_norm", "output_range", "normalizes",
                 "spatial_rank", "floors_windows", "layout", "tensors", "param_tensors",
                 "runtime_class", "is_dropout"):
        assert f"`{name}" in text and name in fields, name
    assert "torch_rejects" in inspect.signature(codes.Code).parameters and "_declare" in dir(codes)
    assert "`FORMATS`" in text and FORMATS and "`COMMANDS`" in text and COMMANDS
    assert all(hasattr(importlib.import_module(f"specc.cli.{module}"), "add_arguments")
               for module, _, _ in COMMANDS.values())


def test_the_ir_holds_model_facts_only():
    """Stages return their diagnostics; the graph holds no findings, no source text and no
    per-op-type settings (a node's `init:` is resolved onto the node)."""
    from specc.ir import Graph

    fields = set(Graph.__slots__)
    assert not fields & {"diagnostics", "source_lines", "init"}, fields
    analysis = specc.check(WARNS)
    assert analysis.diagnostics and not hasattr(analysis.graph, "diagnostics")
