"""Size-independent analysis: the copies of a repeated block are inferred once."""
from __future__ import annotations

from pathlib import Path

import pytest

import specc
from specc import infer as infer_stage

ROOT = Path(__file__).resolve().parent.parent
TINY_LM = (ROOT / "tests" / "data" / "specs" / "tiny_lm.yaml").read_text()


def _count_rules(monkeypatch, source):
    calls = []
    real = infer_stage.infer_node

    def counting(node, limits):
        calls.append(node.id)
        return real(node, limits)

    monkeypatch.setattr(infer_stage, "infer_node", counting)
    analysis = specc.check(source, lint=False)
    monkeypatch.undo()
    return analysis, calls


def test_identical_copies_run_each_shape_rule_once(monkeypatch):
    deep = TINY_LM.replace("layers: 3}", "layers: 80}")
    analysis, calls = _count_rules(monkeypatch, deep)
    assert analysis.ok
    assert len(analysis.graph.nodes) == 3 + 80 * 5
    assert len(calls) == 3 + 5 - 1  # the final norm is the same as a layer's norm
    shallow, _ = _count_rules(monkeypatch, TINY_LM.replace("layers: 3}", "layers: 4}"))
    params = lambda a: sum(n.params for n in a.graph.nodes)  # noqa: E731
    assert params(analysis) - params(shallow) == 76 * 4256  # every copy still counted


def test_copies_that_differ_are_inferred_per_copy(monkeypatch):
    wide = TINY_LM.replace("{name: up_proj, op: Linear, out_features: $ff}",
                           "{name: up_proj, op: Linear, out_features: \"${ff + 8 * i}\"}")
    wide = wide.replace("blocks:\n  Layer:\n", "blocks:\n  Layer:\n    params: {i: 0}\n")
    wide = wide.replace("{name: layers, block: Layer, repeat: $layers}",
                        "{name: layers, block: Layer, repeat: $layers, i: $i}")
    analysis, calls = _count_rules(monkeypatch, wide)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    ups = [n for n in analysis.graph.nodes if n.id.endswith("up_proj")]
    assert [n.out_types[0].shape[-1] for n in ups] == [64, 72, 80]
    assert sum(1 for c in calls if c.endswith(("up_proj", "down_proj"))) == 6


@pytest.mark.parametrize("spec", sorted(p.name for p in (ROOT / "specs").glob("*.yaml")))
def test_memoised_inference_equals_inferring_every_node(spec, monkeypatch):
    fast = specc.check(ROOT / "specs" / spec, lint=False)
    monkeypatch.setattr(infer_stage, "_memo_key", lambda node: None)
    slow = specc.check(ROOT / "specs" / spec, lint=False)
    assert [(n.id, n.out_types, n.params, n.macs, n.attrs) for n in fast.graph.nodes] == [
        (n.id, n.out_types, n.params, n.macs, n.attrs) for n in slow.graph.nodes]


# Meta-Llama-3-70B's config.json fields (plus two the spec does not declare, ignored)
LLAMA3_70B = {
    "hidden_size": 8192, "intermediate_size": 28672, "num_hidden_layers": 80,
    "num_attention_heads": 64, "num_key_value_heads": 8, "vocab_size": 128256,
    "rms_norm_eps": 1e-5, "rope_theta": 500000.0, "max_position_embeddings": 8192,
    "tie_word_embeddings": False, "architectures": ["LlamaForCausalLM"],
    "torch_dtype": "bfloat16",
}


def test_llama_70b_checks_statically_with_every_parameter():
    analysis = specc.check(ROOT / "specs" / "llama.yaml", vars=LLAMA3_70B)
    assert analysis.ok and not analysis.diagnostics
    assert sum(n.params for n in analysis.graph.nodes) == 70_553_706_496  # = HF's count
    decoder_layers = [s for s in analysis.graph.root.walk_scopes()
                      if s.block == "LlamaDecoderLayer"]
    assert len(decoder_layers) == 80


def test_llama_70b_builds_on_meta_like_transformers():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    config = {k: v for k, v in LLAMA3_70B.items() if k not in ("architectures", "torch_dtype")}
    ours = specc.build(ROOT / "specs" / "llama.yaml", vars=config, device="meta")
    with torch.device("meta"):
        theirs = transformers.LlamaForCausalLM(transformers.LlamaConfig(**config))
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()}
