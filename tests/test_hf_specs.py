"""The LLM specs against Hugging Face transformers, the oracle.

Each HF model is built from a small config object (never downloaded); the spec is built
with that config's dict as its vars (as `--vars config.json` would), HF's state_dict loads
strictly, and the logits agree within 1e-5 in float32 with no padding, right padding and
left padding (compared where attention_mask is 1: a padded position's output is
undefined). The full-size defaults match the published parameter counts.
"""
from __future__ import annotations

from pathlib import Path

import pytest

import specc

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

SPECS = Path(__file__).resolve().parent.parent / "specs"

# name -> (config class, model class, small config, full-size params of the spec's defaults)
MODELS = {
    "llama": ("LlamaConfig", "LlamaForCausalLM",
              dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                   rope_theta=5000.0, max_position_embeddings=64), 8_030_261_248),
    "qwen2": ("Qwen2Config", "Qwen2ForCausalLM",
              dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-6,
                   rope_theta=1e6, max_position_embeddings=64, tie_word_embeddings=True),
              494_032_768),
    "mistral": ("MistralConfig", "MistralForCausalLM",
                dict(vocab_size=97, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                     num_attention_heads=4, num_key_value_heads=2, rms_norm_eps=1e-5,
                     rope_theta=10000.0, max_position_embeddings=64, sliding_window=3),
                7_241_732_096),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel",
             dict(vocab_size=97, n_positions=32, n_embd=64, n_layer=2, n_head=4,
                  bos_token_id=0, eos_token_id=0), 124_439_808),
    "bert": ("BertConfig", "BertForSequenceClassification",
             dict(vocab_size=97, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=96, max_position_embeddings=32, num_labels=2),
             109_483_778),
    # 3 encoder and 2 decoder layers: the first block's bias reaches two later ones; d_kv
    # makes the attention width (num_heads * d_kv = 48) differ from d_model
    "t5": ("T5Config", "T5ForConditionalGeneration",
           dict(vocab_size=97, d_model=64, d_kv=12, d_ff=96, num_layers=3, num_decoder_layers=2,
                num_heads=4, relative_attention_num_buckets=32,
                relative_attention_max_distance=128, decoder_start_token_id=0), 60_506_624),
}


def _hf(name: str):
    config_class, model_class, small, _ = MODELS[name]
    config = getattr(transformers, config_class)(**small)
    torch.manual_seed(0)
    model = getattr(transformers, model_class)(config).eval()
    return config, model


def _vars(config) -> dict:
    """config.json's fields; transformers 5 nests rope_theta in rope_parameters (hub configs
    of these models have it at the top level, as the spec names it)."""
    values = config.to_dict()
    values.update(values.get("rope_parameters") or {})
    return values


def _spec(name: str, config, **kw):
    return specc.build(SPECS / f"{name}.yaml", vars=_vars(config), **kw).eval()


def _inputs(name: str, ids, mask) -> tuple[dict, tuple]:
    """HF's keyword inputs and the spec's positional ones (the spec's `inputs:` order)."""
    if name == "bert":
        types = (torch.arange(ids.size(1)) >= 4).long().expand_as(ids)
        return ({"input_ids": ids, "attention_mask": mask, "token_type_ids": types},
                (ids, mask, types))
    if name == "t5":  # a decoder sequence of another length than the encoder's
        decoder_ids = torch.randint(0, int(ids.max()) + 1, (ids.size(0), 7),
                                    generator=torch.Generator().manual_seed(2))
        return ({"input_ids": ids, "attention_mask": mask, "decoder_input_ids": decoder_ids},
                (ids, mask, decoder_ids))
    return {"input_ids": ids, "attention_mask": mask}, (ids, mask)


def _compared(name: str, logits, mask):
    """Where the logits are defined: a padded position's output is not; a sequence
    classifier's logits are per sequence; T5's are per decoder position (the mask pads the
    encoder's input)."""
    if logits.dim() == 3 and name != "t5":
        return logits[mask.bool()]
    return logits


def _batch(vocab: int, padding: str):
    generator = torch.Generator().manual_seed(1)
    ids = torch.randint(0, vocab, (3, 9), generator=generator)
    mask = torch.ones(3, 9, dtype=torch.long)
    if padding == "right":
        mask[0, 6:] = 0
        mask[1, 8:] = 0
    elif padding == "left":
        mask[0, :4] = 0
        mask[2, :1] = 0
    return ids, mask


@pytest.mark.parametrize("padding", ["none", "right", "left"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_logits_equal_transformers(name, padding):
    config, hf = _hf(name)
    model = _spec(name, config)
    model.load_state_dict(hf.state_dict(), strict=True)
    ids, mask = _batch(config.vocab_size, padding)
    theirs, ours = _inputs(name, ids, mask)
    with torch.no_grad():
        want = hf(**theirs).logits
        got = model(*ours)["logits"]
    assert got.shape == want.shape
    got, want = _compared(name, got, mask), _compared(name, want, mask)
    assert torch.allclose(got, want, atol=1e-5, rtol=0), (got - want).abs().max()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_state_dict_keys_and_shapes_equal_transformers(name):
    config, hf = _hf(name)
    ours = {k: tuple(v.shape) for k, v in _spec(name, config).state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in hf.state_dict().items()}
    assert ours == theirs
    # params as HF counts them (a tied weight once)
    graph = specc.check(SPECS / f"{name}.yaml", vars=_vars(config)).graph
    assert sum(n.params for n in graph.nodes) == hf.num_parameters()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bfloat16_forward_runs(name):
    config, _ = _hf(name)
    model = _spec(name, config, dtype="bfloat16")
    ids, mask = _batch(config.vocab_size, "left")
    with torch.no_grad():
        logits = model(*_inputs(name, ids, mask)[1])["logits"]
    assert logits.dtype == torch.bfloat16
    assert torch.isfinite(_compared(name, logits, mask).float()).all()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_full_size_defaults_have_the_published_parameter_count(name):
    analysis = specc.check(SPECS / f"{name}.yaml")
    assert analysis.ok
    assert sum(n.params for n in analysis.graph.nodes) == MODELS[name][3]


def test_llama3_8b_on_meta_equals_transformers():
    """The defaults are Llama-3-8B's config: HF builds the same parameter count (meta)."""
    config = transformers.LlamaConfig(vocab_size=128256, hidden_size=4096,
                                      intermediate_size=14336, num_hidden_layers=32,
                                      num_attention_heads=32, num_key_value_heads=8)
    with torch.device("meta"):
        hf = transformers.LlamaForCausalLM(config)
    assert hf.num_parameters() == MODELS["llama"][3]
    ours = specc.build(SPECS / "llama.yaml", device="meta")
    assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
        {k: tuple(v.shape) for k, v in hf.state_dict().items()}


def test_outside_vars_replace_declared_and_report_the_rest():
    analysis = specc.check(SPECS / "llama.yaml", vars={"hidden_size": 256,
                                                       "num_hidden_layers": 1,
                                                       "architectures": ["LlamaForCausalLM"]})
    assert analysis.ok
    assert analysis.ignored_vars == ["architectures"]
    attn = analysis.graph.node("model.layers.0.self_attn")
    assert attn.attrs["head_dim"] == 256 // 32  # derived vars follow the new value


TIED = """
name: tied
inputs: {ids: {shape: [N, T], dtype: int64}}
layers:
  - {name: embed, op: Embedding, num_embeddings: 11, embedding_dim: 6}
  - {name: head, op: Linear, out_features: %d, bias: false, tie: %s}
"""


def test_tied_weight_is_one_tensor_counted_once_under_both_keys():
    analysis = specc.check(TIED % (11, "embed"))
    assert analysis.ok
    assert sum(n.params for n in analysis.graph.nodes) == 66
    model = specc.build(TIED % (11, "embed"))
    assert model.head.weight is model.embed.weight
    assert sum(p.numel() for p in model.parameters()) == 66  # torch counts a shared one once
    state = model.state_dict()
    assert set(state) == {"embed.weight", "head.weight"}
    model.load_state_dict(state, strict=True)


@pytest.mark.parametrize("size,target,code,words", [
    (11, "embedd", "E201", "did you mean 'embed'"),
    (12, "embed", "E302", "[12, 6]"),
    (11, "head", "E201", "itself"),
])
def test_bad_ties_are_located_errors(size, target, code, words):
    analysis = specc.check(TIED % (size, target))
    (d,) = [d for d in analysis.diagnostics if d.severity == "error"]
    assert d.code == code and d.loc.line == 6
    assert words in d.message + (d.hint or "")


def test_the_writing_a_transformer_example_builds_and_counts_like_torch():
    import re

    page = (SPECS.parent / "docs" / "writing-a-transformer.md").read_text()
    spec = re.search(r"```yaml\n(specc: 1\nname: tiny_gpt.*?)```", page, re.S).group(1)
    analysis = specc.check(spec)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    model = specc.build(spec).eval()
    ids, mask = _batch(1000, "left")
    with torch.no_grad():
        assert model(ids, mask)["logits"].shape == (3, 9, 1000)
    assert sum(p.numel() for p in model.parameters()) == \
        sum(n.params for n in analysis.graph.nodes)


@pytest.mark.parametrize("rotary,factor", [("half", 1.0), ("half", 0.5), ("interleaved", 0.5),
                                           ("interleaved", 1.0)])
def test_rotary_embeddings_equal_transformers(rotary, factor):
    """cos/sin against GLM's rotary module (partial rotary), the rotation against Llama's
    (rotate-half), Bamba's (partial rotate-half) and GLM's (interleaved) apply_rotary_pos_emb,
    with positions offset as in a continued sequence."""
    from transformers.models.bamba.modeling_bamba import apply_rotary_pos_emb as partial_half
    from transformers.models.glm.modeling_glm import GlmRotaryEmbedding
    from transformers.models.glm.modeling_glm import apply_rotary_pos_emb as interleaved
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb as half

    from specc.compile.runtime import SpeccAttention, SpeccRotaryEmbedding

    head_dim, theta = 16, 5000.0
    config = transformers.GlmConfig(hidden_size=64, num_attention_heads=4, head_dim=head_dim,
                                    partial_rotary_factor=factor, rope_theta=theta)
    positions = torch.arange(7, 7 + 5)[None]  # offset 7: `positions` with offset: 7
    q, k = torch.randn(2, 4, 5, head_dim), torch.randn(2, 2, 5, head_dim)
    want_cos, want_sin = GlmRotaryEmbedding(config)(q, positions)
    cos, sin = SpeccRotaryEmbedding(head_dim, theta, factor)(positions)
    assert torch.allclose(cos, want_cos) and torch.allclose(sin, want_sin)
    apply = {"half": partial_half if factor < 1 else half, "interleaved": interleaved}[rotary]
    want_q, want_k = apply(q, k, want_cos, want_sin)
    got_q = SpeccAttention._rotate(q, cos, sin, rotary == "interleaved")
    got_k = SpeccAttention._rotate(k, cos, sin, rotary == "interleaved")
    assert torch.allclose(got_q, want_q, atol=1e-6) and torch.allclose(got_k, want_k, atol=1e-6)


def test_t5_relative_position_buckets_equal_transformers():
    """The buckets the spec computes with math ops (positions, abs/clamp, log, where) are
    HF's _relative_position_bucket for every distance up to 300, both directions, in both
    stacks: the logits tests' short sequences reach only the exact buckets."""
    config, hf = _hf("t5")
    model = _spec("t5", config)
    model.load_state_dict(hf.state_dict(), strict=True)
    with torch.no_grad():
        for stack in ("encoder", "decoder"):
            table = hf.get_submodule(f"{stack}.block.0.layer.0.SelfAttention")
            # a one-hot bias table: each head's value is the bucket number itself
            buckets = config.relative_attention_num_buckets
            onehot = torch.arange(buckets, dtype=torch.float32)[:, None].expand(
                buckets, config.num_heads)
            table.relative_attention_bias.weight.copy_(onehot)
            model.get_submodule(f"{stack}.block.0.layer.0.SelfAttention."
                                "relative_attention_bias").weight.copy_(onehot)
            want = table.compute_bias(300, 300)[0, 0].long()
            states = torch.zeros(1, 300, config.d_model)
            ours = model.get_submodule(f"{stack}.block.0.layer.0")
            bias = torch.zeros(1, 1, 300, 300)
            _, position_bias = ours(states, bias)
            assert torch.equal(position_bias[0, 0].long(), want), stack
            assert len(want.unique()) > 16  # the logarithmic buckets are reached
