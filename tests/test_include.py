"""`include:` (issue 13): blocks shared between spec files.

The model built from a spec with includes is compared with the same network written by hand
in torch; every refusal (a path outside the folder, a cycle, a limit) is a located
diagnostic in the file that holds the `include:` line, and a mistake inside an included
file is located in that file."""
import os

import pytest

import specc
from specc.cli import main
from specc.errors import Limits

RES = """blocks:
  Res:
    params: {c: null}
    layers:
      - {name: fc, op: Linear, out_features: $c}
      - {name: act, block: Act}
      - {op: add, from: [act, x]}
"""
ACT = "blocks:\n  Act:\n    layers: [{name: relu, op: ReLU}]\n"
MAIN = """inputs: {x: {shape: [N, 8]}}
include: [blocks/res.yaml]
layers:
  - {name: r1, block: Res, c: 8}
  - {name: r2, block: Res, c: 8}
"""


def _tree(root, files: dict) -> str:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(root / "main.yaml")


def _errors(path: str, **kw) -> list:
    analysis = specc.check(path, **kw)
    return [(d.code, d.file, d.loc.line, d.message) for d in analysis.diagnostics
            if d.severity == "error"]


@pytest.fixture
def spec(tmp_path):
    return _tree(tmp_path, {"main.yaml": MAIN,
                            "blocks/res.yaml": "include: [inner/act.yaml]\n" + RES,
                            "blocks/inner/act.yaml": ACT})


def test_included_blocks_build_the_hand_written_model(spec):
    torch = pytest.importorskip("torch")
    from tests.helpers import assert_matches_torch

    analysis = specc.check(spec)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    assert_matches_torch(analysis.graph, {"N": 3})
    model = specc.build(spec).eval()

    class Act(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = torch.nn.ReLU()

    class Res(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc, self.act = torch.nn.Linear(8, 8), Act()

        def forward(self, x):
            return self.act.relu(self.fc(x)) + x

    reference = torch.nn.Sequential()
    reference.add_module("r1", Res())
    reference.add_module("r2", Res())
    reference.load_state_dict(model.state_dict(), strict=True)
    x = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.allclose(model(x), reference(x))


def test_a_mistake_in_an_included_file_is_located_there(spec, tmp_path, capsys):
    res = tmp_path / "blocks" / "res.yaml"
    res.write_text(res.read_text().replace("out_features: $c}", "out_features: $c, bogus: 1}"))
    found = _errors(spec)
    assert found and found[0][:3] == ("E103", str(res), 6)
    os.chdir(tmp_path)
    assert main(["check", "main.yaml", "--format", "concise"]) == 1
    assert "blocks/res.yaml:6:" in capsys.readouterr().out
    act = tmp_path / "blocks" / "inner" / "act.yaml"
    act.write_text("blocks:\n  Act:\n    layers: [{name: relu, op: ReLU]\n")  # bad YAML
    found = _errors(spec)
    assert found[0][0] == "E001" and found[0][2] == 3
    assert found[0][1] == str(tmp_path / "blocks" / "inner" / "act.yaml")


@pytest.mark.parametrize("entry, words", [
    ("/etc/passwd.yaml", "absolute"),
    ("../outside.yaml", "leaves"),
    ("blocks/../../outside.yaml", "leaves"),
    ("C:/x.yaml", "absolute"),
    ("blocks\\\\res.yaml", "absolute"),
    ("blocks/res.json", "not a .yaml"),
    ("blocks/missing.yaml", "cannot include"),
    ("blocks", "not a .yaml"),
])
def test_paths_outside_the_folder_or_unreadable_are_refused_at_the_include_line(
        tmp_path, entry, words):
    path = _tree(tmp_path / "spec", {"main.yaml": MAIN.replace("[blocks/res.yaml]",
                                                               f'["{entry}"]'),
                                     "blocks/res.yaml": RES.replace("block: Act}",
                                                                    "op: ReLU}")})
    (tmp_path / "outside.yaml").write_text(ACT)
    found = _errors(path)
    assert found[0][0] == "E008" and found[0][2] == 2 and words in found[0][3], found


def test_a_symbolic_link_out_of_the_folder_is_refused(tmp_path):
    (tmp_path / "secret.yaml").write_text(ACT)
    path = _tree(tmp_path / "spec", {"main.yaml": MAIN.replace("blocks/res.yaml", "link.yaml")})
    os.symlink(tmp_path / "secret.yaml", tmp_path / "spec" / "link.yaml")
    found = _errors(path)
    assert found[0][0] == "E008" and "outside" in found[0][3] and found[0][2] == 2
    # a link that stays inside the folder is fine
    (tmp_path / "spec" / "real.yaml").write_text(RES.replace("block: Act}", "op: ReLU}"))
    os.remove(tmp_path / "spec" / "link.yaml")
    os.symlink(tmp_path / "spec" / "real.yaml", tmp_path / "spec" / "link.yaml")
    assert _errors(path) == []


def test_cycles_are_refused_and_diamonds_read_once(tmp_path):
    path = _tree(tmp_path, {"main.yaml": MAIN,
                            "blocks/res.yaml": "include: [inner/act.yaml]\n" + RES,
                            "blocks/inner/act.yaml": "include: [../res.yaml]\n" + ACT})
    found = _errors(path)  # `..` is refused before a cycle could form
    assert found[0][0] == "E008" and found[0][1].endswith("act.yaml") and found[0][2] == 1
    path = _tree(tmp_path, {"main.yaml": MAIN.replace("[blocks/res.yaml]",
                                                      "[blocks/res.yaml, self.yaml]"),
                            "self.yaml": "include: [self.yaml]\n",
                            "blocks/inner/act.yaml": ACT})
    found = _errors(path)
    assert found[0][0] == "E008" and "cycle" in found[0][3] and found[0][1].endswith("self.yaml")
    path = _tree(tmp_path, {"main.yaml": MAIN.replace(
        "[blocks/res.yaml]", "[blocks/res.yaml, blocks/inner/act.yaml, ./blocks/res.yaml]")})
    assert _errors(path) == []  # the same files by several routes: read once
    path = _tree(tmp_path, {"main.yaml": MAIN.replace("[blocks/res.yaml]", "[main.yaml]")})
    assert "cycle" in _errors(path)[0][3]


def test_a_block_defined_twice_and_other_keys_are_refused(tmp_path):
    path = _tree(tmp_path, {"main.yaml": MAIN + "blocks:\n  Act: {layers: [Tanh]}\n",
                            "blocks/res.yaml": "include: [inner/act.yaml]\n" + RES,
                            "blocks/inner/act.yaml": ACT})
    found = _errors(path)
    assert found[0][0] == "E008" and "defined twice" in found[0][3]
    assert found[0][1].endswith("act.yaml") and found[0][2] == 2
    path = _tree(tmp_path, {"main.yaml": MAIN,
                            "blocks/res.yaml": RES + "layers: [ReLU]\n"})
    found = _errors(path)
    assert found[0][0] == "E008" and "`layers:`" in found[0][3] and found[0][2] == 8
    path = _tree(tmp_path, {"blocks/res.yaml": "- just a list\n"})
    assert _errors(path)[0][:3] == ("E008", str(path), 2)


def test_includes_are_bounded(tmp_path):
    files = {"main.yaml": MAIN.replace("[blocks/res.yaml]", "[d0.yaml]")}
    for depth in range(20):
        files[f"d{depth}.yaml"] = f"include: [d{depth + 1}.yaml]\n"
    files["d20.yaml"] = "blocks: {}\n"
    path = _tree(tmp_path, files)
    found = _errors(path)
    assert found[0][0] == "E004" and "max_include_depth" in found[0][3]
    assert found[0][1].endswith("d15.yaml")  # the 16th file's include line
    assert _errors(path, config=None) == found
    many = MAIN.replace("[blocks/res.yaml]", "[" + ", ".join(["x.yaml"] * 300) + "]")
    path = _tree(tmp_path, {"main.yaml": many, "x.yaml": "blocks: {}\n"})
    found = _errors(path)
    assert found[0][0] == "E004" and "max_includes" in found[0][3] and found[0][2] == 2
    # the spec and its includes share max_file_bytes and max_yaml_nodes
    limits = Limits(max_file_bytes=400)
    path = _tree(tmp_path, {"main.yaml": MAIN.replace("[blocks/res.yaml]", "[big.yaml]"),
                            "big.yaml": "x-pad: '" + "a" * 300 + "'\nblocks: {}\n"})
    from specc.analysis import analyse_path

    found = [d for d in analyse_path(path, limits=limits).diagnostics if d.severity == "error"]
    assert found[0].code == "E004" and "max_file_bytes" in found[0].message
    limits = Limits(max_yaml_nodes=40)
    path = _tree(tmp_path, {"big.yaml": "x-pad: [" + ", ".join(["1"] * 30) + "]\n"})
    found = [d for d in analyse_path(path, limits=limits).diagnostics if d.severity == "error"]
    assert found[0].code == "E004" and "max_yaml_nodes" in found[0].message
    assert found[0].file.endswith("big.yaml")


def test_include_needs_a_file_and_the_cli_exits_1_or_2(tmp_path, capsys):
    found = [d.code for d in specc.check(MAIN).diagnostics]
    assert found == ["E008"]
    path = _tree(tmp_path, {"main.yaml": MAIN.replace("blocks/res.yaml", "nope.yaml")})
    assert main(["check", path]) == 1
    files = {"main.yaml": MAIN.replace("[blocks/res.yaml]", "[d0.yaml]")}
    files.update({f"d{i}.yaml": f"include: [d{i + 1}.yaml]\n" for i in range(20)})
    path = _tree(tmp_path, files)
    assert main(["check", path]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err


def test_lint_findings_in_an_included_file_are_located_and_suppressible_there(tmp_path):
    conv = "      - {op: Conv2d, out_channels: 4, kernel_size: 3, padding: 1}"
    block = "blocks:\n  CB:\n    layers:\n" + conv + "{comment}\n      - {op: BatchNorm2d}\n"
    main_text = ("inputs: {x: {shape: [N, 3, 8, 8]}}\ninclude: [cb.yaml]\n"
                 "layers:\n  - {name: a, block: CB}\n")
    path = _tree(tmp_path, {"main.yaml": main_text, "cb.yaml": block.replace("{comment}", "")})
    found = [(d.rule, d.file, d.loc.line) for d in specc.check(path).diagnostics]
    assert found == [("bias-before-norm", str(tmp_path / "cb.yaml"), 4)]
    rule = "bias-before-norm"
    _tree(tmp_path, {"cb.yaml": block.replace("{comment}", f"  # specc: ignore[{rule}]")})
    assert [d for d in specc.check(path).diagnostics if d.rule == rule] == []
    _tree(tmp_path, {"cb.yaml": block.replace("{comment}", "") + "# specc: ignore[" + rule + "]\n"})
    unused = [(d.code, d.file, d.loc.line) for d in specc.check(path).diagnostics
              if d.code == "L001"]
    assert unused == [("L001", str(tmp_path / "cb.yaml"), 6)]
