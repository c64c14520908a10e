"""resnet18 against torchvision's measured facts (../shared/refdata)."""
import json
import subprocess
import sys

import pytest

import specc
from tests.helpers import ROOT, SPECS, assert_matches_torch, refmodel

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def analysis():
    return specc.check(SPECS / "resnet18.yaml")


def test_json_report_numbers():
    out = subprocess.run([sys.executable, "-m", "specc", "check", "specs/resnet18.yaml",
                          "--format", "json"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    model = json.loads(out.stdout)["files"][0]["model"]
    assert model["params"] == 11689512 == refmodel("resnet18")["total_params"]
    assert model["macs"] == 1814073344
    assert model["outputs"] == {"fc": {"shape": ["N", 1000], "dtype": "float32"}}  # DESIGN.md


def test_per_layer_shapes_equal_torchvision(analysis):
    ref = refmodel("resnet18")
    graph = analysis.graph
    by_id = {n.id: n for n in graph.nodes}
    checked = 0
    for leaf in ref["leaves"]:
        node = by_id.get(leaf["name"])
        if node is None:  # torchvision reuses `relu` in BasicBlock; ours names the 2nd one '7'
            continue
        shape = [1 if str(d) == "N" else d for d in node.out_types[0].shape]
        assert shape == leaf["out"][0], leaf["name"]
        assert node.params == leaf["params"], leaf["name"]
        checked += 1
    assert checked == len(ref["leaves"])


def test_state_dict_keys_and_shapes_and_strict_load(analysis):
    model = specc.build(SPECS / "resnet18.yaml")
    ref = refmodel("resnet18")
    ours = [[k, list(v.shape)] for k, v in model.state_dict().items()]
    assert ours == ref["state_dict"]
    fake = {k: torch.zeros(shape) for k, shape in ref["state_dict"]}
    fake = {k: (v.long() if k.endswith("num_batches_tracked") else v) for k, v in fake.items()}
    model.load_state_dict(fake, strict=True)


def test_every_node_matches_torch_on_meta(analysis):
    assert_matches_torch(analysis.graph, {"N": 2})


def test_check_does_not_import_torch():
    code = ("import sys, specc; a = specc.check('specs/resnet18.yaml'); "
            "assert a.ok; print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
    out = subprocess.run([sys.executable, "-c", "import runpy, sys; sys.argv=['specc','check',"
                          "'specs/resnet18.yaml','-q']; import specc.cli as c; c.main(sys.argv[1:]);"
                          "print('torch' in sys.modules)"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.stdout.strip().endswith("False"), out.stdout + out.stderr
