"""The default drawing is fit for a paper: automatic depth, repeats folded and named, layers
with their norm and activation in one box, branches in source order, page-sized PNGs."""
import json
import re
import shutil
import struct
import subprocess
import sys

import pytest

import specc
from specc.diagram import PAGE_BOXES, PAGE_INCHES, _Layout, max_depth, page_depth, readable_args
from tests.helpers import ROOT, SPECS

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")


def _render(*args):
    return subprocess.run([sys.executable, "-m", "specc", "render", *args], cwd=ROOT,
                          capture_output=True, text=True)


def _png_size(path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_automatic_depth_keeps_the_longest_path_within_a_page(name):
    graph = specc.check(SPECS / f"{name}.yaml").graph
    depth = page_depth(graph, graph.root, True, True)
    length = _Layout(graph, graph.root, depth, True, True).longest_path()
    # either it fits, or even the top level (every block one box) is longer than a page
    assert length <= PAGE_BOXES or depth == 0
    if depth < max_depth(graph.root):  # a deeper drawing would not have fit
        assert _Layout(graph, graph.root, depth + 1, True, True).longest_path() > PAGE_BOXES


@needs_dot
@pytest.mark.parametrize("name", ["small_cnn", "resnet18", "googlenet", "unet", "vit_b_16"])
def test_default_png_fits_a_page_at_its_dpi(name, tmp_path):
    out = tmp_path / f"{name}.png"
    res = _render(f"specs/{name}.yaml", "-o", str(out))
    assert res.returncode == 0, res.stderr
    width, height = _png_size(out)
    assert width <= 7 * 200 + 2 and height <= 9.5 * 200 + 2, (width, height)
    small = tmp_path / "small.png"
    assert _render(f"specs/{name}.yaml", "-o", str(small), "--dpi", "100").returncode == 0
    assert abs(_png_size(small)[1] * 2 - height) <= 4  # --dpi scales the raster


def test_repeats_fold_and_are_named_by_what_repeats():
    vit = specc.render(SPECS / "vit_b_16.yaml", depth=2).source
    assert "EncoderBlock ×12" in vit and vit.count("encoder_layer_") == 1
    tc = specc.render(SPECS / "transformer_classifier.yaml").source
    assert "TransformerEncoderLayer(d=256, 8 heads) ×4" in tc and "repeat ×" not in tc
    assert tc.count("TransformerEncoderLayer") == 1
    # the table names it the same way
    out = subprocess.run([sys.executable, "-m", "specc", "check",
                          "specs/transformer_classifier.yaml"], cwd=ROOT, capture_output=True,
                         text=True)
    assert "TransformerEncoderLayer ×4" in out.stdout


def test_norm_and_activation_join_the_layer_they_follow():
    src = specc.render(SPECS / "resnet18.yaml", depth="all", fold=False).source
    conv1 = re.search(r"label=<<B>conv1</B>[^\n]*", src).group(0)
    assert "Conv2d(3→64, 7×7, stride 2)" in conv1 and "BatchNorm2d · ReLU" in conv1
    assert "<B>bn1</B>" not in src.split("layer1")[0]  # not drawn again on its own
    every = specc.render(SPECS / "resnet18.yaml", depth="all", fold=False, fuse=False).source
    assert "<B>bn1</B>" in every


def test_single_box_blocks_have_no_cluster_title_to_collide_with():
    src = specc.render(SPECS / "small_cnn.yaml").source
    assert "subgraph cluster_" not in src and "<B>stage1</B>" in src


@needs_dot
def test_parallel_branches_keep_source_order():
    dot = specc.render(SPECS / "googlenet.yaml", depth=1)
    layout = json.loads(dot.pipe(format="json"))
    x = {}
    objects = layout["objects"]
    cluster = next(o for o in objects if "nodes" in o and "inception3a" in o.get("label", ""))
    for obj in (objects[i] for i in cluster["nodes"]):  # boxes are named inside clusters
        match = re.search(r">branch(\d)<", obj.get("label", ""))
        if match and "pos" in obj:
            x[int(match.group(1))] = float(obj["pos"].split(",")[0])
    assert sorted(x) == [1, 2, 3, 4] and [x[i] for i in (1, 2, 3, 4)] == sorted(x.values())


def test_block_option_draws_one_block_inside():
    src = specc.render(SPECS / "resnet18.yaml", block="BasicBlock", depth="all", fuse=False).source
    assert "<B>conv1</B>" in src and "<B>bn2</B>" in src and "layer2" not in src
    assert "maxpool" in src  # what flows in, as an input
    # the title says what is drawn, the one output is not called "output output"
    assert "label=<<B>BasicBlock</B> (layer1.0) · <B>resnet18</B>>" in src
    assert "label=<<B>output</B>>" in src
    res = _render("specs/resnet18.yaml", "--block", "Nope")
    assert res.returncode == 2 and "BasicBlock" in res.stderr and "Traceback" not in res.stderr


def test_legend_and_readable_labels():
    src = specc.render(SPECS / "resnet18.yaml", legend=True).source
    assert "convolution" in src and "block (collapsed)" in src
    graph = specc.check(SPECS / "tcn.yaml").graph
    conv = next(n for n in graph.nodes if n.op == "Conv1d")
    label = readable_args(conv)
    assert re.fullmatch(r"\d+→\d+, \d+(, dilation \d+)?", label), label


def test_render_does_not_reprint_lint_warnings(tmp_path):
    spec = tmp_path / "warn.yaml"
    spec.write_text("inputs: {x: {shape: [N, 3, 8, 8]}}\nlayers:\n"
                    "  - {op: Conv2d, out_channels: 4, kernel_size: 3}\n  - {op: BatchNorm2d}\n")
    res = _render(str(spec), "-o", str(tmp_path / "w.dot"))
    assert res.returncode == 0 and "L301" not in res.stderr and "warning" not in res.stderr


def test_a_fully_folded_repeat_is_one_cluster_and_names_are_relative():
    """Llama's 32 identical decoder layers: one cluster titled `(LlamaDecoderLayer ×32)`, not
    a second `model.layers.0–31` cluster inside it, and the folded MLP box reads `mlp` — it
    stands for every copy, so `model.layers.0.mlp` would name one of them."""
    source = specc.render(SPECS / "llama.yaml").source
    assert source.count("LlamaDecoderLayer ×32") == 1
    assert "model.layers.0" not in source
    assert "<B>mlp</B>" in source


def test_a_repeat_folded_into_one_box_has_no_cluster_around_it():
    """GPT-2's 12 identical blocks collapse into one box `h · GPT2Block ×12`: a dashed
    cluster around that single box would only say the same again."""
    source = specc.render(SPECS / "gpt2.yaml").source
    assert source.count("subgraph cluster_") == 1  # `transformer` alone
    assert "<B>h</B>" in source and source.count("GPT2Block ×12") == 1
    assert "h.0" not in source and "transformer.h" not in source


def test_cluster_titles_are_relative_to_the_enclosing_cluster():
    source = specc.render(SPECS / "llama.yaml").source
    assert "label=<layers<BR ALIGN='LEFT'/>(LlamaDecoderLayer ×32)<BR ALIGN='LEFT'/>>" in source
    assert "model.layers" not in source


@needs_dot
def test_an_underscore_does_not_touch_the_line_below(tmp_path):
    """Graphviz spaces label lines by the font size alone and draws `_` below the baseline,
    onto the capitals of the next line (`embed_tokens` over `Embedding` read `Ēmbedding`):
    in the laid-out SVG, a line after one with an underscore starts lower."""
    import xml.etree.ElementTree as ET

    out = tmp_path / "llama.svg"
    assert _render("specs/llama.yaml", "-o", str(out)).returncode == 0
    ns = {"s": "http://www.w3.org/2000/svg"}
    checked = 0
    for group in ET.parse(out).getroot().iterfind(".//s:g[@class='node']", ns):
        lines = [(t.text or "", float(t.get("y")), float(t.get("font-size")))
                 for t in group.iterfind("s:text", ns) if (t.text or "").strip()]
        for (text, y, _), (_, next_y, next_size) in zip(lines, lines[1:]):
            if "_" in text:
                assert next_y - y >= next_size + 2, (text, y, next_y)
                checked += 1
    assert checked >= 5  # input_ids, embed_tokens, input_layernorm, self_attn, lm_head, ...


@needs_dot
def test_readme_figure_is_the_default_render_of_a_non_trivial_model(tmp_path):
    """The README's figure is what `specc render` draws today with the default options (its
    text, box by box: Graphviz versions place things differently), of a model with blocks
    and skip connections."""
    import xml.etree.ElementTree as ET

    readme = (ROOT / "README.md").read_text()
    match = re.search(r"!\[[^\]]*`specc render (specs/\S+\.yaml) -o (docs/images/\S+\.svg)` "
                      r"with the default options\]\((docs/images/\S+\.svg)\)", readme)
    assert match and match.group(2) == match.group(3), "README shows no default-rendered figure"
    spec, figure = match.group(1), ROOT / match.group(2)
    fresh = tmp_path / "fresh.svg"
    assert _render(spec, "-o", str(fresh)).returncode == 0

    def texts(path):
        ns = {"s": "http://www.w3.org/2000/svg"}
        return [t.text for t in ET.parse(path).getroot().iterfind(".//s:text", ns)]

    assert texts(figure) == texts(fresh), f"{figure.name} is stale: render {spec} again"
    graph = specc.check(ROOT / spec).graph
    assert sum(1 for _ in graph.root.walk_scopes()) > 5 and len(graph.nodes) > 30


def _page_scale(dot) -> float:
    """How much Graphviz shrinks the laid-out drawing to fit the page (1: not at all)."""
    width, height = map(float, json.loads(dot.pipe(format="json"))["bb"].split(",")[2:])
    page_w, page_h = (float(v) * 72 for v in PAGE_INCHES.split(","))
    return min(1.0, page_w / width, page_h / height)


@needs_dot
@pytest.mark.parametrize("name,before", [("inception_v3", 0.36), ("googlenet", 0.41)])
def test_a_chain_taller_than_a_page_wraps_into_columns(name, before):
    """Even one box per block, these are 21-23 boxes tall: in one column the page shrank
    the drawing to `before` of its size (11-pt labels printed at 4 pt). Cut where a single
    edge crosses, the chain runs in two columns and prints at least 0.6 of its size."""
    dot = specc.render(SPECS / f"{name}.yaml")
    wraps = [line for line in dot.source.splitlines() if "constraint=false" in line]
    assert len(wraps) == 1, wraps
    assert _page_scale(dot) >= 0.6 > before
    # a drawing that fits is not wrapped; neither is a U-Net, whose skips cross every cut
    # (its columns would criss-cross the page)
    assert "constraint" not in specc.render(SPECS / "unet.yaml").source
    assert "constraint" not in specc.render(SPECS / "resnet50.yaml").source


def test_computed_constants_are_rounded_in_labels():
    """T5 scales its output by d_model ** -0.5: the figure reads 0.04419, not 17 digits."""
    graph = specc.check(SPECS / "t5.yaml").graph
    scaled = next(n for n in graph.nodes if n.op == "mul" and n.id.endswith("scaled"))
    assert readable_args(scaled) == "other=0.04419"
    assert "0.04419417382415922" not in specc.render(SPECS / "t5.yaml").source


@pytest.mark.parametrize("spec,path,shown,not_shown", [
    # T5's stacks read the padding bias first but carry the hidden state
    ("t5", "encoder.block", "[N, S, 512]", "[N, 1, 1, S]"),
    ("t5", "decoder.block", "[N, T, 512]", "[N, 1, 1, S]"),
    # a Llama layer also reads the rotary positions and the mask
    ("llama", "model.layers.0", "[N, T, 4096]", "[N, T] int64"),
    ("resnet50", "layer2", "[N, 256, 56, 56]", None),
    # U-Net's Up concatenates the skip with its upsampled input: the box shows the path
    # it continues, from the level below
    ("unet", "up3", "[N, 256, h, w]", "[N, 128, 2*h, 2*w]"),
])
def test_a_collapsed_block_shows_the_input_its_chain_carries(spec, path, shown, not_shown):
    """A folded box's `in → out` row shows the value the block's output is computed from
    along its chain, one the block reads from outside; not merely the first value it reads."""
    from specc.analyses.memory import scope_inputs
    from specc.diagram import main_input

    from specc.diagram_html import render_html

    analysis = specc.check(SPECS / f"{spec}.yaml")
    scope = next(s for s in analysis.graph.root.walk_scopes() if s.path == path)
    source = main_input(scope)
    assert str(source.type) == shown and source in scope_inputs(scope)
    if not_shown:
        assert any(str(ref.type) == not_shown for ref in scope_inputs(scope))  # it was there
    out = scope.output.type
    depth = path.count(".") - (1 if path.split(".")[-1].isdigit() else 0)
    drawn = specc.render(SPECS / f"{spec}.yaml", depth=depth).source
    assert f"{shown} → {out}" in drawn
    assert not_shown is None or f"{not_shown} → {out}" not in drawn
    assert f'data-id="{path}" title="{shown} → {out} · ' in render_html(analysis)  # its hover


@needs_dot
@pytest.mark.parametrize("name", sorted(p.stem for p in SPECS.glob("*.yaml")))
def test_no_edge_runs_through_a_cluster_title(name):
    """Graphviz routes edges straight through cluster labels: Llama's embed_tokens →
    input_layernorm ran through "layers (LlamaDecoderLayer ×32)", T5's input_ids through
    "encoder", TCN's one chain through "(TemporalBlock ×4)" in every corner. Titles put the
    kind on a line of their own, a title still crossed in the laid-out drawing moves to the
    corner fewest edges cross, and where every corner is crossed a blank beside it widens
    the cluster. Measured in Graphviz's layout of every bundled spec's default drawing, at
    the PNG's dpi too (dpi changes the text metrics Graphviz lays out with)."""
    from specc.cli.render import PNG_DPI
    from specc.diagram import _Drawing, _fitted, title_crossings

    analysis = specc.check(SPECS / f"{name}.yaml")
    # T5's default drawing is now one box per stack (depth 1 printed its labels at 4.9 pt on
    # a page): its titles are checked at depth 1, where they were crossed
    depth = 1 if name == "t5" else "auto"
    # the drawing render_graph makes before it moves any title (depth and wrap fitted)
    _, _, first_layout, _ = _fitted(
        lambda d, wrap, places=None, boxes=PAGE_BOXES: _Drawing(analysis, d, True, False, wrap=wrap,
                                                       boxes=boxes), depth, "TB", None)
    # (BERT's titles were crossed too, until `newrank` laid its clusters out differently)
    if name in ("llama", "mistral", "qwen2", "t5", "tcn"):
        assert title_crossings(first_layout.source)  # what the top-left corner gave
    for dpi in (None, PNG_DPI):
        drawn = specc.render(SPECS / f"{name}.yaml", dpi=dpi, depth=depth)
        assert title_crossings(drawn.source) == {}, dpi
        # only titles moved: the same boxes and edges (and a dpi line)
        assert len(drawn.source.splitlines()) == len(first_layout.source.splitlines()) + bool(dpi)


@needs_dot
def test_title_crossings_reads_the_laid_out_edges():
    """The measure itself, on drawings whose answer is plain: one edge down the middle of
    a cluster under a title wider than half of it, one under a short title."""
    from specc.diagram import title_crossings

    def drawing(title: str) -> str:
        return ("digraph { a; subgraph cluster_c { label=\"" + title + "\" labeljust=l "
                "labelloc=t; b [width=1]; } a -> b; }")

    assert title_crossings(drawing("a title much wider than the box below it")) == \
        {"cluster_c": 1}
    assert title_crossings(drawing("t")) == {}
