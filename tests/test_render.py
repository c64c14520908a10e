"""specc render: DOT structure, SVG output, depth collapsing, broken specs, escaping."""
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

import specc
from tests.helpers import ROOT, SPECS

graphviz = pytest.importorskip("graphviz")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")


def _render(path, **kw):
    return specc.render(path, **kw)


def _count(source: str, pattern: str) -> int:
    return len(re.findall(pattern, source, re.M))


def test_dot_nodes_edges_clusters_resnet18():
    # every op and every copy: the full drawing (the default folds and fuses, tested below)
    dot = _render(SPECS / "resnet18.yaml", depth="all", fold=False, fuse=False)
    src = dot.source
    graph = specc.check(SPECS / "resnet18.yaml").graph
    node_lines = _count(src, r"^\s+n\d+ \[label=")
    # every op node + the input + one output node
    assert node_lines == len(graph.nodes) + len(graph.inputs) + len(graph.outputs)
    edges = _count(src, r"^\s+n\d+ -> n\d+")
    assert edges == sum(len(n.inputs) for n in graph.nodes) + len(graph.outputs)
    clusters = _count(src, r"subgraph cluster_")
    assert clusters == sum(1 for s in graph.root.walk_scopes()) - 1  # all scopes but the model
    assert 'label=<[N, 64, 56, 56]>' in src  # shapes on edges (HTML-like labels: escaped text)
    assert "layer2.0<BR ALIGN='LEFT'/>(BasicBlock)<BR ALIGN='LEFT'/>" in src  # name over kind


def test_depth_collapses_blocks_and_folds_repeats():
    src = _render(SPECS / "resnet18.yaml", depth=0, fold=False).source
    assert _count(src, r"subgraph cluster_") == 0
    assert "BasicBlock ×2" in src and "525,568 params" in src  # layer2 folded to one node
    src1 = _render(SPECS / "resnet18.yaml", depth=1, fold=False).source
    assert _count(src1, r"subgraph cluster_") == 4  # layer1..4 as clusters, blocks collapsed
    assert "[N, 64, 56, 56] → [N, 128, 28, 28]" in src1.replace("&gt;", ">").replace("→", "→")


def test_no_shapes_and_params_options():
    src = _render(SPECS / "mlp.yaml", shapes=False, params=True, fuse=False).source
    assert "[N, 256]" not in src and "200,960 params" in src


def test_broken_spec_still_renders_with_marked_nodes():
    text = ("inputs: {x: {shape: [N, 3, 32, 32]}}\nlayers:\n"
            "  - {name: conv, op: Conv2d, out_channels: 8, kernel_size: 3}\n"
            "  - {name: bad, op: Linear, in_features: 99, out_features: 4}\n"
            "  - {name: after, op: ReLU}\n")
    dot = specc.render(text)
    src = dot.source
    assert "E302" in src and "#b00020" in src
    assert "after" in src  # downstream nodes are still drawn


def test_labels_are_escaped():
    text = ("name: 'a<b>&\"c'\ninputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: fc, op: Linear, out_features: 2}\n")
    dot = specc.render(text)
    # the name is escaped text in an HTML-like label, never a DOT id (a `<...>` id would be
    # markup: issue 14)
    assert dot.source.startswith("digraph model {")
    assert "label=<<B>a&lt;b&gt;&amp;&quot;c</B>>" in dot.source
    if shutil.which("dot"):
        ET.fromstring(dot.pipe(format="svg"))  # the SVG is well-formed XML


@needs_dot
@pytest.mark.parametrize("name", ["resnet18.yaml", "googlenet.yaml", "lstm_classifier.yaml"])
def test_svg_output_parses_with_titles(name, tmp_path):
    out = tmp_path / "d.svg"
    res = subprocess.run([sys.executable, "-m", "specc", "render", f"specs/{name}", "-o", str(out),
                          "--depth", "all", "--every-op"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    tree = ET.parse(out)
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = tree.getroot().findall(".//s:g", ns)
    kinds = {}
    for g in groups:
        kinds.setdefault(g.get("class"), []).append(g.find("s:title", ns).text if
                                                    g.find("s:title", ns) is not None else "")
    graph = specc.check(SPECS / name).graph
    assert len(kinds["node"]) == len(graph.nodes) + len(graph.inputs) + len(graph.outputs)
    assert len(kinds["edge"]) == sum(len(n.inputs) for n in graph.nodes) + len(graph.outputs)
    assert all("->" in t for t in kinds["edge"])
    assert len(kinds.get("cluster", [])) == sum(1 for _ in graph.root.walk_scopes()) - 1


@needs_dot
def test_error_spec_renders_svg_and_exits_1(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, in_features: 5, "
                   "out_features: 2}\n")
    out = tmp_path / "bad.svg"
    res = subprocess.run([sys.executable, "-m", "specc", "render", str(bad), "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 1 and out.exists() and "E302" in out.read_text()


def test_dot_output_needs_no_binary_and_missing_dot_is_exit_2(tmp_path):
    env = {"PATH": "/nonexistent", "HOME": str(tmp_path)}
    res = subprocess.run([sys.executable, "-m", "specc", "render", "specs/mlp.yaml", "-o",
                          str(tmp_path / "m.dot")], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    assert res.returncode == 0 and (tmp_path / "m.dot").read_text().startswith("digraph")
    res = subprocess.run([sys.executable, "-m", "specc", "render", "specs/mlp.yaml", "-o",
                          str(tmp_path / "m.png")], cwd=ROOT, capture_output=True, text=True,
                         env=env)
    assert res.returncode == 2 and "apt-get install graphviz" in res.stderr
    assert "Traceback" not in res.stderr and not (tmp_path / "m.png").exists()


def test_render_does_not_import_torch():
    code = ("import sys, specc; specc.render('specs/resnet50.yaml').source; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip() == "False", out.stderr
