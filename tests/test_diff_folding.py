"""specc diff on changes repeated in every copy of a repeat, checked against torch: copies a
repeat gains or loses read as one line per repeat, a block added inside every copy as one
line, and the checkpoint keys those lines stand for are exactly the keys torch's
load_state_dict(strict=False) reports missing / unexpected. Also: a rename and a width
change of the same node or block are both reported, and blocks of another name with the
same insides (Llama's decoder layer → Mistral's) are one change, not 32 removed + 32 added."""
import itertools
import json
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import specc
from specc.diff import _folds, diff_graphs, format_text
from tests.helpers import ROOT

torch = pytest.importorskip("torch")

RESNET50 = (ROOT / "specs" / "resnet50.yaml").read_text()
LLAMA = (ROOT / "specs" / "llama.yaml").read_text()


def expand(folded: str) -> list[str]:
    """The concrete paths a folded path stands for: `layer3.6–7.conv1` → layer3.6.conv1,
    layer3.7.conv1; `features.{2,5}` → features.2, features.5."""
    choices = []
    for part in folded.split("."):
        if m := re.fullmatch(r"(\d+)–(\d+)", part):
            choices.append([str(i) for i in range(int(m[1]), int(m[2]) + 1)])
        elif m := re.fullmatch(r"\{([\d,]+)\}", part):
            choices.append(m[1].split(","))
        else:
            choices.append([part])
    return [".".join(parts) for parts in itertools.product(*choices)]


def keys_of_lines(lines: list[str], state_dict: dict, missing: bool = False) -> set[str]:
    """The state_dict keys checkpoint lines name: `layer3.6–7.*` is every tensor under
    layer3.6 and layer3.7 of ``state_dict`` (the model that has them); of the ``missing``
    ones, not BatchNorm's num_batches_tracked, which torch fills in when a state_dict
    lacks it (and so does not report missing)."""
    keys = set()
    for line in lines:
        for path in expand(line):
            if path.endswith(".*"):
                prefix = path[:-1]
                found = {k for k in state_dict if k.startswith(prefix)
                         and not (missing and k.endswith(".num_batches_tracked"))}
                assert found, f"{line} names no tensor"
                keys |= found
            else:
                assert path in state_dict, f"{line} names no tensor"
                keys.add(path)
    return keys


def checkpoint_section(text: str, title: str) -> list[str]:
    """The indented lines under `N tensors <title>` in diff's text."""
    lines = text.split("\n")
    start = next(i for i, line in enumerate(lines) if title in line and "tensor" in line)
    out = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        out.append(line.strip())
    return out


def torch_load(old: str, new: str):
    """The keys torch reports missing and unexpected loading OLD's state_dict into NEW
    (both on meta, strict=False), and both state_dicts. A tensor of another shape is
    an error even with strict=False, so those are handed over in NEW's shape (they are
    compared separately)."""
    before = specc.build(old, device="meta").state_dict()
    model = specc.build(new, device="meta")
    after = model.state_dict()
    state = type(before)({k: torch.empty_like(after[k]) if k in after
                          and after[k].shape != v.shape else v for k, v in before.items()})
    state._metadata = before._metadata  # what BatchNorm reads (see specc.diff)
    result = model.load_state_dict(state, strict=False, assign=True)
    return set(result.missing_keys), set(result.unexpected_keys), before, after


def diff_text(old: str, new: str) -> tuple[dict, str]:
    report = diff_graphs(specc.load(old), specc.load(new))
    return report, format_text(report, "old", "new")


def test_a_repeat_that_grows_reads_as_one_line_and_its_keys_are_torchs():
    """resnet50 with two more Bottlenecks in layer3 (6 → 8): one line, `layer3: 6 → 8
    copies, added layer3.6–7`, and `layer3.6–7.*` missing — exactly the 30 keys torch
    misses; the other way round the same copies are removed and the keys unexpected."""
    grown = RESNET50.replace("name: layer3, block: Bottleneck, repeat: 6",
                             "name: layer3, block: Bottleneck, repeat: 8")
    assert grown != RESNET50
    report, text = diff_text(RESNET50, grown)
    assert report["repeat_counts"] == [{"repeat": "layer3", "old": 6, "new": 8}]
    assert "Added (20 nodes):\n  layer3: 6 → 8 copies, added layer3.6–7 (Bottleneck, " \
           "10 nodes each)\nCheckpoint" in text
    assert not any(report[k] for k in ("removed", "renamed", "changed", "block_changed"))
    missing, unexpected, old_sd, new_sd = torch_load(RESNET50, grown)
    assert checkpoint_section(text, "missing from OLD") == ["layer3.6–7.*"]
    assert keys_of_lines(["layer3.6–7.*"], new_sd, missing=True) == missing == set(
        report["checkpoint"]["missing"]) and len(missing) == 30 and not unexpected

    report, text = diff_text(grown, RESNET50)
    assert "Removed (20 nodes):\n  layer3: 8 → 6 copies, removed layer3.6–7 (Bottleneck, " \
           "10 nodes each)\n" in text
    missing, unexpected, old_sd, _ = torch_load(grown, RESNET50)
    lines = checkpoint_section(text, "unexpected")
    assert lines == ["layer3.6–7.*"] and not missing
    assert keys_of_lines(lines, old_sd) == unexpected == set(report["checkpoint"]["unexpected"])


def _llama_with_adapter() -> str:
    """Llama with a sub-block (an adapter) and a new named norm inside every decoder layer."""
    text = LLAMA.replace(
        "  LlamaDecoderLayer:\n",
        "  Adapter:\n    layers:\n      - {name: down, op: Linear, out_features: 64}\n"
        "      - {name: act, op: GELU}\n"
        "      - {name: up, op: Linear, out_features: $hidden_size}\n\n"
        "  LlamaDecoderLayer:\n").replace(
        "      - {name: post_attention_layernorm,",
        "      - {name: adapter, block: Adapter}\n"
        "      - {name: new_norm, op: RMSNorm, eps: $rms_norm_eps}\n"
        "      - {name: post_attention_layernorm,")
    assert text.count("block: Adapter") == 1 and "new_norm" in text
    return text


def test_a_block_added_inside_every_copy_is_one_line_and_its_keys_are_torchs():
    new = _llama_with_adapter()
    report, text = diff_text(LLAMA, new)
    assert "Added (128 nodes):\n  model.layers.0–31.new_norm (RMSNorm)\n" \
           "  model.layers.0–31.adapter (Adapter, 3 nodes each)\n" \
           "Unnamed, at a new index (32):\n  model.layers.0–31.5 → model.layers.0–31.7\n" \
           "Checkpoint" in text
    assert report["repeat_counts"] == [] and report["removed"] == []
    missing, unexpected, _, new_sd = torch_load(LLAMA, new)
    lines = checkpoint_section(text, "missing from OLD")
    assert lines == ["model.layers.0–31.adapter.*", "model.layers.0–31.new_norm.weight"]
    assert keys_of_lines(lines, new_sd, True) == missing == set(report["checkpoint"]["missing"])
    assert len(missing) == 32 * 5 and not unexpected


def test_rename_and_width_change_of_one_node_are_both_reported(tmp_path):
    """`enc → encoder` with out_features 64 → 128 is one line saying both; JSON's renamed
    entry carries the change; OLD's checkpoint does not load (torch agrees: enc.* is
    unexpected and encoder.* missing) so --fail-on-incompatible exits 1."""
    head = "specc: 1\nname: m\ninputs: {x: {shape: [N, 8]}}\nlayers:\n" \
           "  - {name: stem, op: Linear, out_features: 16}\n"
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(head + "  - {name: enc, op: Linear, out_features: 64}\n"
                   "  - {name: head, op: Linear, out_features: 2}\n")
    new.write_text(head + "  - {name: encoder, op: Linear, out_features: 128}\n"
                   "  - {name: head, op: Linear, out_features: 2}\n")
    out = _cli(old, new, "--fail-on-incompatible")
    assert out.returncode == 1, out.stderr
    assert "Renamed (1):\n  enc → encoder, and out_features 64 → 128\n" in out.stdout
    assert "Changed (1 node):\n  head: in_features 64 → 128\n" in out.stdout
    report = json.loads(_cli(old, new, "--format", "json").stdout)
    assert report["renamed"] == [{"from": "enc", "to": "encoder",
                                  "changes": {"out_features": [64, 128]}}]
    missing, unexpected, old_sd, new_sd = torch_load(str(old), str(new))
    assert missing == {"encoder.weight", "encoder.bias"} == set(report["checkpoint"]["missing"])
    assert unexpected == {"enc.weight", "enc.bias"} == set(report["checkpoint"]["unexpected"])
    with pytest.raises(RuntimeError):
        specc.build(str(new)).load_state_dict(specc.build(str(old)).state_dict())


BLOCKS = """specc: 1
name: m
inputs: {x: {shape: [N, 8]}}
blocks:
  MLP:
    params: {width: null}
    layers:
      - {name: fc1, op: Linear, out_features: $width}
      - {name: act, op: ReLU}
      - {name: fc2, op: Linear, out_features: 8}
layers:
  - {name: enc, block: MLP, width: 64}
  - {name: layers, block: MLP, repeat: 3, width: 32}
  - {name: head, op: Linear, out_features: 2}
"""


def test_rename_and_width_change_of_a_block_are_both_reported(tmp_path):
    """A block renamed with a new width: the rename and the width inside; the block's
    definition renamed (MLP → FFN) with a new width in every copy of a repeat: one
    "Block changed" line and one folded change, no copies removed and added. The
    checkpoint lines name exactly the keys torch reports."""
    new_text = BLOCKS.replace("  MLP:", "  FFN:").replace(
        "{name: enc, block: MLP, width: 64}", "{name: encoder, block: FFN, width: 128}").replace(
        "{name: layers, block: MLP, repeat: 3, width: 32}",
        "{name: layers, block: FFN, repeat: 3, width: 48}")
    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(BLOCKS)
    new.write_text(new_text)
    out = _cli(old, new, "--fail-on-incompatible")
    assert out.returncode == 1, out.stderr
    text = out.stdout
    assert "Renamed (1):\n  enc → encoder\nBlock changed (4):\n  enc → encoder: MLP → FFN\n" \
           "  layers.0–2: MLP → FFN\n" in text
    assert "  enc.fc1 → encoder.fc1: out_features 64 → 128\n" in text
    assert "  layers.0–2.fc1: out_features 32 → 48\n  layers.0–2.fc2: in_features 32 → 48\n" \
        in text
    assert "Added" not in text and "Removed" not in text
    missing, unexpected, old_sd, new_sd = torch_load(str(old), str(new))
    assert keys_of_lines(checkpoint_section(text, "missing from OLD"), new_sd, True) == missing
    assert keys_of_lines(checkpoint_section(text, "unexpected"), old_sd) == unexpected
    mismatched = {k for k in new_sd if k in old_sd and new_sd[k].shape != old_sd[k].shape}
    shape_lines = [line.split(":")[0] for line in checkpoint_section(text, "another shape")]
    assert keys_of_lines(shape_lines, new_sd) == mismatched and mismatched


def test_a_node_renamed_inside_a_kept_block_names_the_old_and_new_modules(tmp_path):
    """`enc.fc` renamed to `enc.proj`: unexpected `enc.fc.*` and missing `enc.proj.*` (the
    keys were both written `enc.*`, as if the whole block were new on both sides)."""
    old = BLOCKS.replace("- {name: fc1", "- {name: fc0")
    report, text = diff_text(BLOCKS, old)
    assert checkpoint_section(text, "missing from OLD") == ["enc.fc0.*", "layers.0–2.fc0.*"]
    assert checkpoint_section(text, "unexpected") == ["enc.fc1.*", "layers.0–2.fc1.*"]
    missing, unexpected, old_sd, new_sd = torch_load(BLOCKS, old)
    assert keys_of_lines(checkpoint_section(text, "missing from OLD"), new_sd, True) == missing
    assert keys_of_lines(checkpoint_section(text, "unexpected"), old_sd) == unexpected


def test_llama_to_mistral_is_a_change_of_block_not_every_layer_replaced():
    """Mistral's decoder layer is Llama's with sliding-window attention under another
    name: two "Block changed" lines and the sliding window, not 320 nodes removed and 320
    added; the checkpoint verdict (only embed_tokens and lm_head differ) is torch's."""
    mistral = (ROOT / "specs" / "mistral.yaml").read_text()
    report, text = diff_text(LLAMA, mistral)
    assert report["added"] == report["removed"] == []
    assert "Block changed (64):\n  model.layers.0–31: LlamaDecoderLayer → MistralDecoderLayer\n" \
           "  model.layers.0–31.mlp: LlamaMLP → MistralMLP\n" in text
    assert "  model.layers.0–31.self_attn: sliding_window None → 4096\n" in text
    missing, unexpected, old_sd, new_sd = torch_load(LLAMA, mistral)
    assert not missing and not unexpected
    assert {k for k in new_sd if new_sd[k].shape != old_sd[k].shape} == set(
        report["checkpoint"]["shape_mismatch"]) == {"lm_head.weight", "model.embed_tokens.weight"}


def test_another_block_with_other_insides_is_replaced():
    """resnet50 → resnet34: Bottleneck (conv3, bn3) is not BasicBlock edited; each layer's
    copies read as one removed and one added line."""
    report, text = diff_text(RESNET50, (ROOT / "specs" / "resnet34.yaml").read_text())
    assert report["block_changed"] == []
    assert "Added (118 nodes):\n  layer1.0–2 (BasicBlock, 7 nodes each)\n" \
           "  layer2.0–3 (BasicBlock, 30 nodes in all)\n" in text
    assert "Removed (168 nodes):\n  layer1.0–2 (Bottleneck, 32 nodes in all)\n" in text


@settings(max_examples=200, deadline=None)
@given(st.sets(st.tuples(st.integers(0, 3), st.integers(0, 5), st.sampled_from("ab")),
               min_size=1, max_size=30),
       st.booleans())
def test_folded_lines_stand_for_exactly_the_paths_they_fold(paths, whole):
    """Whatever the set of copies, expanding the folded lines gives back each path once:
    a fold never claims a copy that is not there (`0–3` only where all four are)."""
    named = sorted({f"f.{i}.x.{j}" + ("" if whole else f".{name}") for i, j, name in paths})
    entries = [(path, "(Linear)") for path in named]
    folded = _folds(entries, [whole] * len(entries))
    expanded = [p for path, _, _ in folded for p in expand(path)]
    assert sorted(expanded) == sorted({path for path, _ in entries})
    for path, _, members in folded:
        assert sorted(expand(path)) == sorted(members)


def _cli(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", "diff", *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT)


def test_a_checkpoint_without_batchnorm_counters_loads_as_in_torch(tmp_path):
    """Converted checkpoints often drop BatchNorm's num_batches_tracked; torch loads them
    strictly (it fills the counter in), so specc.build(weights=) does too, with torch's
    outputs; a state_dict that lacks a real tensor is still refused."""
    from safetensors.torch import save_file

    from specc.errors import WeightsError

    model = specc.build(ROOT / "specs" / "resnet18.yaml").eval()
    state = {k: v for k, v in model.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    path = tmp_path / "r18.safetensors"
    save_file(state, str(path))
    fresh = specc.build(ROOT / "specs" / "resnet18.yaml").eval()
    fresh.load_state_dict(dict(state), strict=True)  # the oracle: torch accepts it
    loaded = specc.build(ROOT / "specs" / "resnet18.yaml", weights=str(path)).eval()
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))
    del state["fc.bias"]
    save_file(state, str(path))
    with pytest.raises(WeightsError, match="1 missing: fc.bias"):
        specc.build(ROOT / "specs" / "resnet18.yaml", weights=str(path))


def test_the_same_op_added_along_a_sequence_is_one_line():
    """vgg16 → vgg16_bn: 13 BatchNorms between the convolutions read as one line whose
    places are exactly the BatchNorm2d modules of the built vgg16_bn, and the 30 layers
    they push to a new index as one line (JSON lists each); an unnamed node whose shape
    changes says its op (`9 (flatten)`)."""
    new = (ROOT / "specs" / "vgg16_bn.yaml").read_text()
    report, text = diff_text((ROOT / "specs" / "vgg16.yaml").read_text(), new)
    added = re.search(r"Added \(13 nodes\):\n  (\S+) \(BatchNorm2d\)\nUnnamed", text)[1]
    model = specc.build(new, device="meta")
    norms = {name for name, m in model.named_modules() if isinstance(m, torch.nn.BatchNorm2d)}
    assert set(expand(added)) == norms and len(norms) == 13
    assert "Unnamed, at a new index (30):\n  30 unnamed layers of features (features.1 → " \
           "features.2, …, features.30 → features.43)\n" in text
    assert len(report["reindexed"]) == 30
    _, text = diff_text(RESNET50, (ROOT / "specs" / "resnet34.yaml").read_text())
    assert "  9 (flatten): [N, 2048] → [N, 512]\n" in text


def test_every_pair_of_bundled_specs_accounts_for_every_node_once():
    """All 34 × 34 ordered pairs of specs/: every node of OLD is matched or removed and
    every node of NEW matched or added, each exactly once (the bookkeeping that undoes a
    tentative pairing of two blocks must leave nothing behind or twice), a spec diffed
    with itself has no changes, and the text is written without error."""
    import specc.diff as diff

    graphs = [specc.load(path) for path in sorted((ROOT / "specs").glob("*.yaml"))]
    assert len(graphs) > 30
    for old in graphs:
        for new in graphs:
            match = diff._Matching(old, new)
            for graph, side, gone in ((old, 0, match.removed), (new, 1, match.added)):
                seen = [id(pair[side]) for pair in match.nodes] + [id(n) for n in gone]
                every = [*graph.inputs, *graph.nodes]
                assert sorted(seen) == sorted(map(id, every)), (old.name, new.name)
            if old is new:
                assert not (match.renamed or match.reindexed or match.reblocked
                            or match.recounted or match.removed or match.added)
                assert all(a is b for a, b in match.nodes)
