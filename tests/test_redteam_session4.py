"""Red-team cases for this session's changes, each asserting the correct behaviour.

The command line ends its process itself after flushing (console_main): output lost to a
full disk must be exit 2 with the system's reason, not an "internal error" or exit 0.

The classes torch.nn lacks (LayerNorm2d, StochasticDepth, ...) now live only in
specc/compile/runtime.py, and a built model (or an --emit-python file) holds its own copy
of them. `specc import` of such a model must see them as the ops they are, not trace into
F.layer_norm (which no op is) and give up."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

import specc  # noqa: E402
from specc.compile.readable import readable_source  # noqa: E402
from specc.importer import ImportFailed  # noqa: E402

RUNTIME_OPS = """
specc: 1
name: runtime_ops
inputs: {x: {shape: [N, 4, 8, 8]}}
layers:
  - {name: norm, op: LayerNorm2d}
  - {name: drop_path, op: StochasticDepth, p: 0.5, mode: row}
  - {name: conv, op: Conv2d, out_channels: 4, kernel_size: 1}
"""


def _emitted_model(tmp_path):
    path = tmp_path / "emitted_runtime_ops.py"
    path.write_text(readable_source(RUNTIME_OPS), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("emitted_runtime_ops", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build_model()


@pytest.mark.parametrize("made_by", ["specc.build", "--emit-python"])
def test_a_model_holding_runtime_classes_imports_back(made_by, tmp_path):
    torch.manual_seed(0)
    original = (specc.build(RUNTIME_OPS) if made_by == "specc.build"
                else _emitted_model(tmp_path)).eval()
    x = torch.randn(2, 4, 8, 8)
    text = specc.from_module(original, (x,))
    assert "op: LayerNorm2d" in text and "op: StochasticDepth" in text
    assert "p: 0.5" in text and "mode: row" in text
    built = specc.build(text).eval()
    assert [(k, v.shape) for k, v in built.state_dict().items()] == \
        [(k, v.shape) for k, v in original.state_dict().items()]
    built.load_state_dict(original.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(built(x), original(x))


def test_a_users_class_named_like_a_runtime_class_is_not_taken_for_it():
    """Only a copy of runtime.py's class (the same code) is the op: a user's LayerNorm2d
    that normalises otherwise is traced like any other module."""
    class LayerNorm2d(nn.LayerNorm):  # noqa: N801 — the name is the point
        def forward(self, x):
            return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2) * 2

    model = nn.Sequential(LayerNorm2d(4)).eval()
    with pytest.raises(ImportFailed) as failure:
        specc.from_module(model, (torch.randn(2, 4, 8, 8),))
    assert "layer_norm" in str(failure.value)


# -- the command line's output lost to a full disk --------------------------------------

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [["explain", "E201"],
                                  ["check", "specs/mlp.yaml", "--format", "json"]])
def test_output_lost_to_a_full_disk_is_exit_2_not_an_internal_error(argv):
    """stdout on a full disk: the report is lost, so the exit is 2 with the system's reason —
    not 'internal error ... this is a bug in specc', and never 0 (the console script ends
    the process itself after flushing, specc/cli/__init__.py console_main)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("SPECC_DEBUG", None)
    with open("/dev/full", "w") as full:
        res = subprocess.run([sys.executable, "-m", "specc", *argv], cwd=ROOT, env=env,
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "No space left on device" in res.stderr
    assert "internal error" not in res.stderr and "Traceback" not in res.stderr


# -- render options the red team found accepted silently --

def _render(*args, cwd):
    return subprocess.run([sys.executable, "-m", "specc", "render", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])})


@pytest.mark.parametrize("dpi", ["0", "-5", "100000", "abc"])
def test_render_refuses_a_dpi_out_of_range(tmp_path, dpi):
    spec = Path(__file__).parents[1] / "specs" / "mlp.yaml"
    out = tmp_path / "m.png"
    result = _render(str(spec), "-o", str(out), "--dpi", dpi, cwd=tmp_path)
    assert result.returncode == 2 and "--dpi" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not out.exists()


def test_render_refuses_a_format_that_contradicts_the_output_name(tmp_path):
    spec = Path(__file__).parents[1] / "specs" / "mlp.yaml"
    out = tmp_path / "m.svg"
    out.write_text("keep me")
    result = _render(str(spec), "--format", "png", "-o", str(out), cwd=tmp_path)
    assert result.returncode == 2 and ".svg" in result.stderr and "png" in result.stderr
    assert out.read_text() == "keep me"  # nothing written over it
    # agreeing format and name still render
    assert _render(str(spec), "--format", "dot", "-o", str(tmp_path / "m.dot"),
                   cwd=tmp_path).returncode == 0
