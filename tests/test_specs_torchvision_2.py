"""Modern torchvision models, exact: each spec against `torchvision_models_2.json` (issue 13).

torchvision does not load against this CPU torch build, so the record measured with
torchvision 0.29.1 is the oracle: the state_dict (keys, shapes, order), the parameter count,
`macs_eval_batch1` (FlopCounterMode / 2), every leaf's output shape; and torch itself builds
each spec, loads a checkpoint of the record's shapes strictly and runs forward."""
import json
from pathlib import Path

import pytest

import specc
from specc.infer import totals
from tests.helpers import ROOT, SPECS, concrete_shape, run_on_meta

torch = pytest.importorskip("torch")

REFDATA_2 = ROOT.parent / "shared" / "refdata" / "torchvision_models_2.json"
if not REFDATA_2.exists():
    REFDATA_2 = Path(__file__).resolve().parent / "data" / "torchvision_models_2.json"
RECORDS = {m["name"]: m for m in json.loads(REFDATA_2.read_text())["models"]}
# spec file -> record name
SPECS_2 = {"convnext_tiny": "convnext_tiny", "efficientnet_b0": "efficientnet_b0",
           "mobilenet_v3_small": "mobilenet_v3_small", "regnet_y_400mf": "regnet_y_400mf",
           "swin_t": "swin_t",
           "googlenet": "googlenet_aux", "inception_v3": "inception_v3_aux"}
# specs whose aux heads are `training_only` -> what a training forward returns after the
# logits (torchvision's GoogLeNetOutputs / InceptionOutputs, in their order)
AUX_HEADS = {"googlenet": ["aux1", "aux2"], "inception_v3": ["AuxLogits"]}
# modules whose weights torchvision uses through F.linear, so its forward never calls them:
# they have no recorded output (Swin's attention projections)
CALLED_FUNCTIONALLY = {"swin_t": (".attn.qkv", ".attn.proj")}


def _record(spec: str) -> dict:
    return RECORDS[SPECS_2[spec]]


@pytest.mark.parametrize("spec", sorted(SPECS_2))
def test_params_and_eval_macs_equal_the_record(spec):
    record = _record(spec)
    analysis = specc.check(SPECS / f"{spec}.yaml")
    assert analysis.ok and not analysis.diagnostics, [d.format() for d in analysis.diagnostics]
    numbers = totals(analysis.graph)
    assert numbers["params"] == record["total_params"]
    assert numbers["macs"] == record["macs_eval_batch1"]


@pytest.mark.parametrize("spec", sorted(SPECS_2))
def test_state_dict_equals_the_record_and_loads_strictly(spec):
    record = _record(spec)
    model = specc.build(SPECS / f"{spec}.yaml", device="meta")
    assert [[k, list(v.shape)] for k, v in model.state_dict().items()] == record["state_dict"]
    assert sum(p.numel() for p in model.parameters()) == record["total_params"]
    checkpoint = {k: torch.zeros(shape, dtype=torch.long if k.endswith("num_batches_tracked")
                                 else torch.float32) for k, shape in record["state_dict"]}
    specc.build(SPECS / f"{spec}.yaml").load_state_dict(checkpoint, strict=True)


@pytest.mark.parametrize("spec", sorted(SPECS_2))
def test_torch_runs_the_spec_at_the_inferred_shapes(spec):
    """Every node's inferred shape is what torch computes, and every leaf module of the
    record with parameters exists under its torchvision name with its output shape."""
    record = _record(spec)
    graph = specc.check(SPECS / f"{spec}.yaml", dims={"N": 1}).graph
    # at the record's batch of 1, eval only (BatchNorm refuses one value per channel in
    # training: inception_v3's aux head at batch 1, in torchvision too)
    seen, model = run_on_meta(graph, {"N": 1}, train=False)
    for node in graph.nodes:
        if node.training_only:
            assert node.id not in seen, f"{node.id} ran in eval"
        else:
            inferred = [(concrete_shape(t.shape, {"N": 1}), t.dtype) for t in node.out_types]
            assert seen[node.id] == inferred, node.id
    outputs = [list(t.shape) for _, ref in graph.outputs for t in [ref.type]]
    assert outputs[0] == record["output_shape"]
    by_id = {n.id: n for n in graph.nodes}
    for leaf in record["leaves"]:
        node = by_id.get(leaf["name"])
        if node is None:  # torchvision's Permute/Flatten modules are functional ops here
            assert leaf["params"] == 0, leaf["name"]
            continue
        assert node.params == leaf["params"], leaf["name"]
        functional = leaf["name"].endswith(CALLED_FUNCTIONALLY.get(spec, ()))
        if leaf["name"] in record["leaves_never_called"] and (node.training_only or functional):
            continue  # an aux head the record's eval forward never ran, or Swin's qkv/proj
        assert [list(t.shape) for t in node.out_types][:1] == leaf["out"][:1], leaf["name"]
    # what the record's eval forward never called is exactly what runs in training only
    never = {n.id for n in graph.nodes if n.training_only and n.params}
    assert never == {name for name in record["leaves_never_called"] if name in by_id
                     and by_id[name].params
                     and not name.endswith(CALLED_FUNCTIONALLY.get(spec, ()))}


@pytest.mark.parametrize("spec", sorted(AUX_HEADS))
def test_aux_heads_run_in_training_only(spec):
    """As torchvision's forward: eval returns the logits alone and never calls an aux
    head; training calls each once and returns (logits, *aux logits)."""
    record = _record(spec)
    model = specc.build(SPECS / f"{spec}.yaml", device="meta")
    x = torch.empty([2, *record["input_shape"][1:]], device="meta")
    calls: dict = {}
    for name in AUX_HEADS[spec]:
        model.get_submodule(name).register_forward_hook(
            lambda module, args, out, name=name: calls.__setitem__(name, calls.get(name, 0) + 1))
    with torch.no_grad():
        logits = model.eval()(x)
        assert isinstance(logits, torch.Tensor) and list(logits.shape) == [2, 1000]
        assert calls == {}
        outputs = model.train()(x)
    assert isinstance(outputs, tuple) and len(outputs) == 1 + len(AUX_HEADS[spec])
    assert [list(t.shape) for t in outputs] == [[2, 1000]] * len(outputs)
    assert calls == {name: 1 for name in AUX_HEADS[spec]}


def test_swin_t_computes_what_torchvision_computes():
    """Values, not only shapes: the built swin_t (random init: the table, the index buffer,
    every Linear) against torchvision's forward retyped in tests/torchvision_swin.py with
    the same weights — window partition, the relative position bias gathered through the
    index, the shifted blocks' mask, patch merging, the head. And the index buffer holds
    torchvision's values."""
    from tests import torchvision_swin

    torch.manual_seed(0)
    model = specc.build(SPECS / "swin_t.yaml").eval()
    index = torchvision_swin.relative_position_index((7, 7))
    for name, buffer in model.named_buffers():
        assert name.endswith("relative_position_index") and torch.equal(buffer, index), name
    with torch.no_grad():
        for name, table in model.named_parameters():
            if name.endswith("relative_position_bias_table"):
                table.normal_()  # torchvision's trunc_normal(0.02) would hide a wrong gather
        x = torch.randn(2, 3, 224, 224)
        got = model(x)
        want = torchvision_swin.swin_t_forward(model, x)
    assert got.shape == (2, 1000)
    assert torch.allclose(got, want, atol=1e-5, rtol=1e-4), (got - want).abs().max()
