"""specc diff: nodes matched by structure and name (not index), near-linear time, and a
checkpoint verdict that agrees with what torch's strict load_state_dict really does."""
import json
import re
import subprocess
import sys
import time

import pytest

import specc
from specc.diff import _edit_script_pairs, diff_graphs
from tests.helpers import ROOT

HEAD = "specc: 1\nname: m\ninputs: {x: {shape: [N, 8]}}\nlayers:\n"


def spec(*layers: str) -> str:
    return HEAD + "".join(f"  - {layer}\n" for layer in layers)


def diff(old: str, new: str) -> dict:
    return diff_graphs(specc.load(old), specc.load(new))


def torch_loads(old: str, new: str) -> bool:
    """The oracle: does OLD's state_dict load into NEW with strict=True?"""
    before, after = specc.build(old), specc.build(new)
    try:
        after.load_state_dict(before.state_dict(), strict=True)
    except RuntimeError:
        return False
    return True


UNNAMED = ["{op: Linear, out_features: 16}", "ReLU", "{op: Linear, out_features: 16}",
           "{op: MaxPool1d, kernel_size: 2}", "{op: Linear, out_features: 4}", "Tanh"]


def test_inserting_one_dropout_reports_one_added_node():
    old = spec(*UNNAMED)
    new = spec(*UNNAMED[:2], "{op: Dropout, p: 0.1}", *UNNAMED[2:])
    report = diff(old, new)
    assert [(e["node"], e["op"]) for e in report["added"]] == [("2", "Dropout")]
    assert report["removed"] == [] and report["changed"] == [] and report["renamed"] == []
    assert report["shape_changes"] == []
    # the later unnamed nodes moved index, so their state_dict keys moved: say so, as torch does
    assert [e["from"] for e in report["reindexed"]] == ["2", "3", "4", "5"]
    assert report["checkpoint"]["loads"] is torch_loads(old, new) is False
    assert report["checkpoint"]["unexpected"] == ["2.bias", "2.weight", "4.bias", "4.weight"]


def test_removed_and_changed_unnamed_nodes_are_located():
    old = spec(*UNNAMED)
    new = spec(UNNAMED[0], *UNNAMED[2:4], "{op: Linear, out_features: 6}", UNNAMED[5])
    report = diff(old, new)
    assert [(e["node"], e["op"]) for e in report["removed"]] == [("1", "ReLU")]
    assert report["added"] == []
    assert report["changed"] == [{"node": "3", "old_node": "4", "op": "Linear",
                                  "changes": {"out_features": [4, 6]}}]
    assert report["checkpoint"]["loads"] is torch_loads(old, new) is False


def test_renamed_block_is_one_rename_and_its_checkpoint_verdict_matches_torch():
    text = (ROOT / "specs" / "resnet18.yaml").read_text()
    new = text.replace("layer4", "stage4")
    assert new != text
    report = diff(text, new)
    assert report["renamed"] == [{"from": "layer4", "to": "stage4"}]
    assert report["added"] == report["removed"] == report["changed"] == []
    assert report["checkpoint"]["loads"] is False
    assert "stage4.0.conv1.weight" in report["checkpoint"]["missing"]


def test_whole_blocks_added_are_grouped_in_the_text():
    """The copies a repeat gained are one line per repeat, not one per copy (this pinned
    `layer3.5 (BasicBlock, 7 nodes)`, one of four lines for layer3, until issue 16 asked
    for the folded form)."""
    out = subprocess.run([sys.executable, "-m", "specc", "diff", "specs/resnet18.yaml",
                          "specs/resnet34.yaml"], capture_output=True, text=True, cwd=ROOT)
    assert "Added (56 nodes):\n  layer1: 2 → 3 copies, added layer1.2 (BasicBlock, 7 nodes)\n" \
           "  layer2: 2 → 4 copies, added layer2.2–3 (BasicBlock, 7 nodes each)\n" \
           "  layer3: 2 → 6 copies, added layer3.2–5 (BasicBlock, 7 nodes each)\n" in out.stdout
    assert "layer3.5" not in out.stdout and "layer3.2.conv1" not in out.stdout


def test_identical_specs_and_verdict_agree_with_torch():
    old = spec(*UNNAMED)
    report = diff(old, old)
    assert not any(report[k] for k in ("added", "removed", "renamed", "reindexed", "changed"))
    assert report["checkpoint"]["loads"] is torch_loads(old, old) is True


def _renamed_pair(n: int) -> tuple[str, str]:
    # every layer a different width: no two nodes share a signature (the old quadratic case)
    old = spec(*(f"{{name: a{i}, op: Linear, out_features: {8 + i % 97}}}" for i in range(n)))
    new = spec(*(f"{{name: b{i}, op: Linear, out_features: {8 + i % 97}}}" for i in range(n)))
    return old, new


def _match_seconds(n: int) -> float:
    import specc.diff as d

    old, new = (specc.load(t) for t in _renamed_pair(n))
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        d._Matching(old, new)
        best = min(best, time.perf_counter() - start)
    return best


def test_one_thousand_renamed_nodes_near_linear():
    old, new = _renamed_pair(1000)
    report = diff_graphs(specc.load(old), specc.load(new))
    assert len(report["renamed"]) == 1000 and report["renamed"][0] == {"from": "a0", "to": "b0"}
    assert report["added"] == report["removed"] == report["changed"] == []
    # matching 4,000 renamed layers: ~25 ms here; the index-then-signature scan this replaced
    # took 7 s for 1,000 (quadratic), so 16× that size would take about two minutes
    assert _match_seconds(4000) < 0.5


@pytest.mark.parametrize("a,b", [("abcabba", "cbabac"), ("", "xyz"), ("same", "same"),
                                 ("kitten", "sitting"), ("a" * 50 + "b", "b" + "a" * 50)])
def test_edit_script_is_a_longest_common_subsequence(a, b):
    pairs = _edit_script_pairs(list(a), list(b), 1000)
    assert all(a[i] == b[j] for i, j in pairs)
    assert all(p[0] < q[0] and p[1] < q[1] for p, q in zip(pairs, pairs[1:]))
    # the LCS length by dynamic programming: the oracle
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) - 1, -1, -1):
        for j in range(len(b) - 1, -1, -1):
            table[i][j] = (table[i + 1][j + 1] + 1 if a[i] == b[j]
                           else max(table[i + 1][j], table[i][j + 1]))
    assert len(pairs) == table[0][0]
    assert _edit_script_pairs(list("abc"), list("xyz"), 2) is None  # over the edit budget


def test_fail_on_incompatible_exit_codes():
    def run(old, new):
        return subprocess.run([sys.executable, "-m", "specc", "diff", old, new,
                               "--fail-on-incompatible", "--format", "json"],
                              capture_output=True, text=True, cwd=ROOT)
    bad = run("specs/resnet18.yaml", "specs/resnet34.yaml")
    assert bad.returncode == 1 and json.loads(bad.stdout)["checkpoint"]["loads"] is False
    assert run("specs/mlp.yaml", "specs/mlp.yaml").returncode == 0


def test_an_inserted_twin_of_a_neighbour_is_added_not_a_change():
    """Inserting Dropout(p=0.1) in front of a Dropout(p=0.2): the old Dropout keeps its
    match (same op and p), the new one is added; nothing reads as `p 0.2 → 0.1`."""
    layers = ["{op: Linear, out_features: 16}", "GELU", "{op: Dropout, p: 0.2}",
              "{op: Linear, out_features: 4}"]
    report = diff(spec(*layers), spec(*layers[:2], "{op: Dropout, p: 0.1}", *layers[2:]))
    assert [(e["node"], e["op"]) for e in report["added"]] == [("2", "Dropout")]
    assert report["changed"] == [] and report["removed"] == []
    # a real change of an argument is still one change
    report = diff(spec(*layers), spec(*layers[:2], "{op: Dropout, p: 0.1}", *layers[3:]))
    assert report["changed"] == [{"node": "2", "op": "Dropout", "changes": {"p": [0.2, 0.1]}}]
    assert report["added"] == report["removed"] == []


def _diff_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "specc", "diff", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_symbolic_macs_read_as_check_prints_them_and_equal_torch(tmp_path):
    """MACs that depend on the sequence length print as check's table prints them
    (`1,048,576·T + 2,048·T²`, not `1048576*T+2048*T*T`), the change too; read back at
    T = 8 and 16 they equal what torch's flop counter measures on both built modules.
    JSON keeps the machine form, as check's JSON does."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    from tests.test_symbolic_counts import SCORES, _evaluate

    old, new = tmp_path / "old.yaml", tmp_path / "new.yaml"
    old.write_text(SCORES)
    new.write_text(SCORES.replace("out_features: 2048", "out_features: 1024"))
    out = _diff_cli(str(old), str(new))
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stdout.splitlines() if "MACs/sample:" in x)
    before, after, change = re.fullmatch(r"  MACs/sample: (.+) → (.+) \(\+?(.+)\)",
                                         line).groups()
    assert before == "1,048,576·T + 2,048·T²" and "*" not in line
    table = _check_cli(str(old))
    assert re.search(r"MACs/sample: (.+?)   ", table).group(1) == before  # as check says
    for length in (8, 16):
        measured = []
        for spec in (old, new):
            with torch.no_grad(), FlopCounterMode(display=False) as counter:
                specc.build(spec)(torch.randn(1, length, 512))
            measured.append(counter.get_total_flops() // 2)
        env = {"T": length}
        assert [_evaluate(before, env), _evaluate(after, env)] == measured
        assert _evaluate(change, env) == measured[1] - measured[0]
    report = json.loads(_diff_cli(str(old), str(new), "--format", "json").stdout)
    assert report["macs"] == {"old": "1048576*T+2048*T*T", "new": "524288*T+1024*T*T",
                              "delta": "-524288*T-1024*T*T"}


def _check_cli(path: str) -> str:
    return subprocess.run([sys.executable, "-m", "specc", "check", path], capture_output=True,
                          text=True, cwd=ROOT).stdout


def test_the_same_change_in_every_copy_of_a_repeat_is_one_line(tmp_path):
    """Llama's MLP narrowed: 96 changed nodes and 96 checkpoint tensors of another shape
    read as three lines each (`model.layers.0–31.mlp.gate_proj: …`), the tensors of wholly
    added blocks as one `layer3.2–5.*` line; the verdicts stay torch's (meta-device
    state_dicts, every key listed in JSON)."""
    text = (ROOT / "specs" / "llama.yaml").read_text()
    narrow = tmp_path / "narrow.yaml"
    narrow.write_text(text.replace("intermediate_size: 14336", "intermediate_size: 11008"))
    out = _diff_cli("specs/llama.yaml", str(narrow)).stdout
    assert "Changed (96 nodes):\n  model.layers.0–31.mlp.gate_proj: out_features 14336 → " \
           "11008\n  model.layers.0–31.mlp.up_proj:" in out
    assert "  96 tensors of another shape (OLD → NEW):\n" in out
    assert "    model.layers.0–31.mlp.down_proj.weight: [4096, 14336] → [4096, 11008]" in out
    assert "model.layers.1." not in out and "*T" not in out
    assert "(-1,308,622,848·T)" in out  # 3 × 4096 × (14336 - 11008) per layer and token × 32
    dropout = tmp_path / "dropout.yaml"  # one more unnamed layer in every copy
    dropout.write_text(text.replace("      - {name: mlp, block: LlamaMLP}\n",
                                    "      - {name: mlp, block: LlamaMLP}\n"
                                    "      - {op: Dropout, p: 0.1}\n"))
    out = _diff_cli("specs/llama.yaml", str(dropout)).stdout
    assert "Added (32 nodes):\n  model.layers.0–31.5 (Dropout)\nUnnamed, at a new index " \
           "(32):\n  model.layers.0–31.5 → model.layers.0–31.6\nCheckpoint: a state_dict of " \
           "OLD loads" in out
    deeper = _diff_cli("specs/resnet18.yaml", "specs/resnet34.yaml").stdout
    # 80, not the 96 tensors of the new blocks: torch fills in BatchNorm's
    # num_batches_tracked (16 of them) and does not report them missing (this said 96)
    assert "  80 tensors missing from OLD (NEW needs them):\n    layer1.2.*\n    layer2.2–3.*\n" \
           "    layer3.2–5.*\n    layer4.2.*\n" in deeper
    report = json.loads(_diff_cli("specs/resnet18.yaml", "specs/resnet34.yaml",
                                  "--format", "json").stdout)["checkpoint"]
    pytest.importorskip("torch")
    old, new = (specc.build(ROOT / "specs" / f"{name}.yaml", device="meta")
                for name in ("resnet18", "resnet34"))
    loaded = new.load_state_dict(old.state_dict(), strict=False, assign=True)
    assert set(report["missing"]) == set(loaded.missing_keys) and len(report["missing"]) == 80
    assert "layer3.5.bn2.running_var" in report["missing"]
    assert report["missing_modules"] == ["layer1.2.*", "layer2.2.*", "layer2.3.*", "layer3.2.*",
                                         "layer3.3.*", "layer3.4.*", "layer3.5.*", "layer4.2.*"]


def test_checkpoint_keys_in_model_order_and_the_index_hint():
    """vgg16 → vgg16_bn: keys in the model's order (features.2 before features.10), and a
    note that unnamed layers at a new index are why their tensors are missing; no note where
    the layers at a new index hold no tensors."""
    out = _diff_cli("specs/vgg16.yaml", "specs/vgg16_bn.yaml").stdout
    assert "features.{2,5,12,19,26}.*" in out
    assert out.index("features.7.weight") < out.index("features.10.bias")
    assert "MACs/sample: 15,470,264,320 (unchanged)" in out
    assert "a `name:` keeps a key stable" in out
    moved_relu = _diff_cli("specs/mlp.yaml", "specs/mlp_img.yaml").stdout
    assert "Unnamed, at a new index (1):\n  2 → 3" in moved_relu
    assert "keeps a key stable" not in moved_relu  # the ReLU that moved has no tensors


def test_blocks_with_nothing_in_common_are_not_a_rename():
    """ViT's `encoder` and Swin's `features` are both the second unnamed-kind sequence, so
    they were aligned and reported as `encoder → features` renamed, with every node inside
    added and removed anyway. Nothing inside matches: one block removed, one added. A
    renamed block whose insides match stays one rename (resnet18's layer4 → stage4 above)."""
    report = diff((ROOT / "specs" / "vit_b_16.yaml").read_text(),
                  (ROOT / "specs" / "swin_t.yaml").read_text())
    assert report["renamed"] == [] and report["reindexed"] == []
    assert {e.get("within") for e in report["removed"]} >= {"encoder"}
    assert {e.get("within") for e in report["added"]} >= {"features"}
    assert report["checkpoint"]["loads"] is False


def test_a_batch_bound_with_dim_labels_the_batchs_macs_as_check_does():
    """With `--dim N=8` the MACs are the whole batch's (what torch's flop counter counts on
    a batch of 8), and the line says "MACs", not "MACs/sample", as check's table does."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    old, new = ROOT / "specs/resnet18.yaml", ROOT / "specs/resnet34.yaml"
    per_sample = _diff_cli(str(old), str(new)).stdout
    assert re.search(r"^  MACs/sample: ", per_sample, re.M)
    out = _diff_cli(str(old), str(new), "--dim", "N=8")
    assert out.returncode == 0, out.stderr
    before, after = re.search(r"^  MACs:        (\S+) → (\S+) ", out.stdout, re.M).groups()
    measured = []
    for spec in (old, new):
        model = specc.build(spec, device="meta")
        with FlopCounterMode(display=False) as counter:
            model(torch.empty(8, 3, 224, 224, device="meta"))
        measured.append(counter.get_total_flops() // 2)
    assert [int(before.replace(",", "")), int(after.replace(",", ""))] == measured
