"""Every bundled spec: checks clean, builds on meta, and torch agrees with the inference.

The torchvision models also match torchvision's parameter counts (issue text / refdata) and,
where refdata has them, state_dict keys and shapes exactly.
"""
import pytest

import specc
from tests.helpers import SPECS, assert_matches_torch, refmodel

torch = pytest.importorskip("torch")

ALL_SPECS = sorted(p.name for p in SPECS.glob("*.yaml"))
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032,
    "vgg11": 132_863_336, "vgg16": 138_357_544, "vgg16_bn": 138_365_992,
    # googlenet: with its aux heads, as googlenet() builds it (issue 13; 6,624,904 without)
    "alexnet": 61_100_840, "googlenet": 13_004_888, "mobilenet_v2": 3_504_872,
    "vit_b_16": 86_567_656,
}
# torchvision's published GMACs (rounded as published)
TORCHVISION_GMACS = {"resnet18": 1.814, "resnet50": 4.089, "vgg16": 15.47, "mobilenet_v2": 0.301,
                     "alexnet": 0.714}
SMALL_DIMS = {"N": 2, "T": 7, "S": 5, "H": 64, "W": 64, "h": 3, "w": 2}


@pytest.mark.parametrize("name", ALL_SPECS)
def test_spec_checks_clean_and_torch_agrees(name):
    analysis = specc.check(SPECS / name, dims=None)
    problems = [d.format() for d in analysis.diagnostics if d.severity != "info"]
    assert problems == [], problems
    bound = specc.check(SPECS / name, dims=SMALL_DIMS, lint=False)
    assert bound.ok
    assert_matches_torch(bound.graph, SMALL_DIMS)


@pytest.mark.parametrize("name", sorted(TORCHVISION_PARAMS))
def test_torchvision_parameter_counts(name):
    analysis = specc.check(SPECS / f"{name}.yaml")
    from specc.infer import totals

    numbers = totals(analysis.graph)
    assert numbers["params"] == TORCHVISION_PARAMS[name]
    if name in TORCHVISION_GMACS:
        assert round(numbers["macs"] / 1e9, 3 if name != "vgg16" else 2) == TORCHVISION_GMACS[name]


@pytest.mark.parametrize("name", ["alexnet", "vgg16", "resnet18"])
def test_state_dict_equals_torchvision_and_loads_strictly(name):
    model = specc.build(SPECS / f"{name}.yaml", device="meta")
    ref = refmodel(name)
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == ref["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == ref["total_params"]
    checkpoint = {k: torch.zeros(shape, dtype=torch.long if k.endswith("num_batches_tracked")
                                 else torch.float32) for k, shape in ref["state_dict"]}
    specc.build(SPECS / f"{name}.yaml").load_state_dict(checkpoint, strict=True)


@pytest.mark.parametrize("name", ["alexnet", "vgg16"])
def test_leaf_output_shapes_equal_torchvision(name):
    graph = specc.check(SPECS / f"{name}.yaml", dims={"N": 1}).graph
    by_id = {n.id: n for n in graph.nodes}
    for leaf in refmodel(name)["leaves"]:
        node = by_id[leaf["name"]]
        assert [list(t.shape) for t in node.out_types][:1] == leaf["out"], leaf["name"]
        assert node.params == leaf["params"]


def test_every_spec_has_modeline_and_header():
    for path in SPECS.glob("*.yaml"):
        lines = path.read_text().splitlines()
        assert lines[0] == "# yaml-language-server: $schema=../schemas/specc.schema.json", path
        assert lines[2].startswith("# ") and len(lines[2]) > 10, f"{path}: header comment"
