"""Plugins: ops declared outside specc, enabled only by the user's configuration.

The example project (examples/plugin) is checked and built through the CLI; its op is
compared with what torch builds; broken plugins and broken rules become located
diagnostics naming the plugin; specs cannot enable plugins or name Python paths.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

import specc
from specc.ops.base import all_ops
from specc.plugin_loading import deactivate
from tests.helpers import ROOT

EXAMPLE = ROOT / "examples" / "plugin"


@pytest.fixture(autouse=True)
def _no_plugins_after():
    yield
    deactivate()


def _run(*args, cwd, pythonpath=()):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([*map(str, pythonpath), str(ROOT)]))
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          env=env)


def test_example_checks_and_builds_from_its_folder():
    check = _run("-m", "specc", "check", "model.yaml", cwd=EXAMPLE, pythonpath=["."])
    assert check.returncode == 0, check.stdout + check.stderr
    assert "ChannelGate" in check.stdout
    build = _run("-m", "specc", "build", "model.yaml", cwd=EXAMPLE, pythonpath=["."])
    assert build.returncode == 0, build.stdout + build.stderr
    assert "gated_cnn: 1,518 parameters" in build.stdout


def test_check_with_a_plugin_imports_no_torch():
    code = ("import sys, specc; a = specc.check('model.yaml'); "
            "assert a.ok, [d.format() for d in a.diagnostics]; "
            "assert 'torch' not in sys.modules, 'torch imported'; "
            "assert 'myops.layers' not in sys.modules; print('ok')")
    result = _run("-c", code, cwd=EXAMPLE, pythonpath=["."])
    assert result.stdout.strip() == "ok", result.stderr


def test_plugin_op_matches_torch(monkeypatch):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    monkeypatch.syspath_prepend(str(EXAMPLE))
    analysis = specc.check(str(EXAMPLE / "model.yaml"))
    assert analysis.ok
    gate = next(n for n in analysis.graph.nodes if n.id == "gate1")
    model = specc.build(str(EXAMPLE / "model.yaml"), dims={"N": 2})
    module = model.gate1
    assert type(module).__module__ == "myops.layers"
    assert sum(p.numel() for p in module.parameters()) == gate.params == 292
    x = torch.randn(2, 32, 32, 32)
    with FlopCounterMode(display=False) as counter:
        out = module(x)
    assert tuple(out.shape) == (2, 32, 32, 32)
    from specc.infer import per_sample

    assert counter.get_total_flops() // 2 == per_sample(gate.macs, analysis.graph) * 2 == 512
    y = model(torch.randn(2, 3, 32, 32))
    assert tuple(y.shape) == (2, 10)
    assert y.abs().max() < 1e3


def test_schema_and_ops_list_plugin_ops_only_where_enabled():
    schema = _run("-m", "specc", "schema", cwd=EXAMPLE, pythonpath=["."])
    assert schema.returncode == 0 and '"ChannelGate"' in schema.stdout
    assert '"reduction"' in schema.stdout
    ops = _run("-m", "specc", "ops", cwd=EXAMPLE, pythonpath=["."])
    assert "ChannelGate" in ops.stdout and "[plugin 'myops.specc_ops']" in ops.stdout
    elsewhere = _run("-m", "specc", "ops", cwd=ROOT, pythonpath=[EXAMPLE])
    assert elsewhere.returncode == 0 and "ChannelGate" not in elsewhere.stdout


def test_a_spec_cannot_enable_plugins(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(EXAMPLE))
    spec = tmp_path / "model.yaml"  # no specc.toml here: the plugin is not enabled
    spec.write_text("inputs: {x: {shape: [1, 4, 8, 8]}}\nlayers:\n"
                    "  - {op: ChannelGate}\n  - {op: 'myops.layers:ChannelGate'}\n"
                    "  - {op: Conv2d, out_channels: 4, kernel_size: 1, plugins: [myops]}\n")
    analysis = specc.check(str(spec))
    codes = [d.code for d in analysis.diagnostics]
    assert codes.count("E102") == 2 and "E103" in codes
    assert "ChannelGate" not in all_ops()


def _project(tmp_path, plugin_source: str, *, config="plugins = [\"{name}\"]\n",
             name="plug", spec_op="Thing"):
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(plugin_source))
    (tmp_path / "specc.toml").write_text("# project configuration\n" + config.format(name=name))
    spec = tmp_path / "model.yaml"
    spec.write_text(f"inputs: {{x: {{shape: [2, 4]}}}}\nlayers:\n  - {{op: {spec_op}}}\n")
    return spec


_THING = '''
from specc.plugin import Param, function_op

def thing(**kw):
    def infer(ctx):
        return [ctx.inputs[0]]
    defaults = dict(name="Thing", params=[], infer=infer,
                    emit=lambda ctx: [f"{ctx.outs[0]} = {ctx.args[0]} * 1.0"])
    defaults.update(kw)
    return function_op(**defaults)
'''


@pytest.mark.parametrize("case, source, words", [
    ("import_raises", "raise RuntimeError('boom at import')\n", ["cannot be imported", "boom"]),
    ("ops_raise", "def specc_ops():\n    raise KeyError('no ops')\n",
     ["specc_ops() raised KeyError"]),
    ("wrong_type", "def specc_ops():\n    return 42\n", ["must return a list of OpDef"]),
    ("not_opdefs", "def specc_ops():\n    return ['Conv9d']\n", ["expected an OpDef"]),
    ("nothing", "X = 1\n", ["neither specc_ops() nor SPECC_OPS"]),
    ("clash_builtin", _THING + "def specc_ops():\n    return [thing(name='Conv2d')]\n",
     ["declares op 'Conv2d', which specc already has"]),
    ("bad_param", _THING + "def specc_ops():\n    return [thing(params=[Param('k', 'nope')])]\n",
     ["unknown type 'nope'"]),
    ("reserved", _THING + "def specc_ops():\n    return [thing(params=[Param('from', 'int')])]\n",
     ["'from' cannot be a parameter name"]),
])
def test_broken_plugin_is_a_located_diagnostic(tmp_path, monkeypatch, case, source, words):
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = _project(tmp_path, source, name=f"plug_{case}")
    analysis = specc.check(str(spec))
    problem = next(d for d in analysis.diagnostics if d.code == "E010")
    assert problem.file == str(tmp_path / "specc.toml")
    assert (problem.loc.line, problem.loc.col) == (2, 12)  # the plugin's entry
    assert f"plug_{case}" in problem.message
    for word in words:
        assert word in problem.message
    result = _run("-m", "specc", "check", "model.yaml", cwd=tmp_path, pythonpath=[tmp_path])
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    assert "specc.toml:2:12: error E010" in result.stdout
    assert "| layers:" not in result.stdout  # no excerpt of the spec for the config's line


def test_two_plugins_declaring_one_name(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "plug_a.py").write_text(_THING + "def specc_ops():\n    return [thing()]\n")
    (tmp_path / "plug_b.py").write_text(_THING + "def specc_ops():\n    return [thing()]\n")
    (tmp_path / "specc.toml").write_text('plugins = ["plug_a", "plug_b"]\n')
    (tmp_path / "model.yaml").write_text("inputs: {x: {shape: [2, 4]}}\nlayers: [Thing]\n")
    analysis = specc.check(str(tmp_path / "model.yaml"))
    clash = [d for d in analysis.diagnostics if d.code == "E010"]
    assert len(clash) == 1 and "'plug_a'" in clash[0].message and "'plug_b'" in clash[0].message
    assert clash[0].loc.col == 22  # at plug_b, the second declaration
    assert analysis.graph is not None and analysis.graph.nodes[-1].op == "Thing"


@pytest.mark.parametrize("case, override, words", [
    ("raises", "infer=lambda ctx: 1 // 0", ["its rule raised ZeroDivisionError"]),
    ("not_list", "infer=lambda ctx: ctx.inputs[0]", ["returned TensorType, not a list"]),
    ("two_outs", "infer=lambda ctx: [ctx.inputs[0]] * 2", ["returned 2 outputs for 1"]),
])
def test_broken_rule_is_located_at_the_node(tmp_path, monkeypatch, case, override, words):
    monkeypatch.syspath_prepend(str(tmp_path))
    source = _THING + f"def specc_ops():\n    return [thing({override})]\n"
    spec = _project(tmp_path, source, name=f"rule_{case}")
    analysis = specc.check(str(spec))
    problem = next(d for d in analysis.diagnostics if d.code == "E308")
    assert problem.node == "0" and problem.loc.line == 3
    assert f"plugin 'rule_{case}'" in problem.message
    for word in words:
        assert word in problem.message


def test_negative_param_count_is_reported(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(tmp_path))
    source = '''
from specc.plugin import Param, module_op

def specc_ops():
    return [module_op("Thing", "rule_neg:Thing", [], lambda ctx: [ctx.inputs[0]],
                      count_params=lambda attrs: -5)]
'''
    analysis = specc.check(str(_project(tmp_path, source, name="rule_neg")))
    problem = next(d for d in analysis.diagnostics if d.code == "E308")
    assert "count_params returned -5" in problem.message


def test_entry_points_load_only_when_the_config_opts_in(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fakeops_pkg-1.0.dist-info").mkdir(parents=True)
    (site / "fakeops_pkg-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: fakeops-pkg\nVersion: 1.0\n")
    (site / "fakeops_pkg-1.0.dist-info" / "entry_points.txt").write_text(
        "[specc.ops]\nfake = fakeops_mod\n")
    (site / "fakeops_mod.py").write_text(_THING + "def specc_ops():\n    return [thing()]\n")
    monkeypatch.syspath_prepend(str(site))
    project = tmp_path / "project"
    project.mkdir()
    spec = project / "model.yaml"
    spec.write_text("inputs: {x: {shape: [2, 4]}}\nlayers: [Thing]\n")
    (project / "pyproject.toml").write_text("[tool.specc]\nselect = ['ALL']\n")
    assert "E102" in [d.code for d in specc.check(str(spec)).diagnostics]
    (project / "pyproject.toml").write_text("[tool.specc]\nentry-points = true\n")
    from specc.config import _find

    _find.cache_clear()
    analysis = specc.check(str(spec))
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    assert all_ops()["Thing"].plugin.startswith("'fake' (entry point fakeops_mod)")


def test_builtin_ops_pass_the_same_declaration_checks():
    import specc.ops.base
    import specc.plugin
    from specc.plugin import validate_op

    assert specc.plugin.OpDef is specc.ops.base.OpDef
    assert specc.plugin.Param is specc.ops.base.Param
    assert {name: validate_op(op) for name, op in all_ops().items() if validate_op(op)} == {}


def test_import_keeps_a_plugin_module_as_one_op(monkeypatch):
    torch = pytest.importorskip("torch")
    import specc.plugin
    monkeypatch.syspath_prepend(str(EXAMPLE))
    from myops.layers import ChannelGate
    from torch import nn

    assert specc.plugin.enable(["myops.specc_ops"]) == []
    model = nn.Sequential(nn.Conv2d(3, 16, 3), ChannelGate(16, reduction=2)).eval()
    x = torch.randn(1, 3, 10, 10)
    text = specc.from_module(model, x)
    assert "- {op: ChannelGate, reduction: 2}" in text
    built = specc.build(text)
    built.load_state_dict(model.state_dict())
    torch.testing.assert_close(built(x), model(x))


@pytest.mark.parametrize("batch", [2, 5])
def test_plugin_memory_declaration_matches_saved_tensors(monkeypatch, batch):
    torch = pytest.importorskip("torch")
    from specc.analyses import measure
    from specc.analyses.memory import analyse_memory
    from specc.compile.build import build_module

    monkeypatch.syspath_prepend(str(EXAMPLE))
    graph = specc.check(str(EXAMPLE / "model.yaml"), dims={"N": batch}).graph
    static = analyse_memory(graph).activations_train_bytes
    model = build_module(graph)
    real = measure.saved_bytes(model, measure.example_inputs(graph, {"N": batch},
                                                             torch.float32))
    assert abs(static - real) <= 0.05 * real, f"static {static} vs torch {real}"
