"""Every figure's text prints at a readable size: the page scales a drawing down to at most
MIN_SCALE (11-pt box labels at 7 pt), left-to-right drawings pick their depth against the
page's width and wrap into rows, and a drawing that cannot fit (a depth the user forces)
grows larger than a page with one note saying how to get a smaller one. Measured in
Graphviz's own layout (`dot -Tjson`) and in the PNG it writes."""
import json
import re
import shutil
import struct
import subprocess
import sys

import pytest

import specc
from specc.diagram import (LABEL_POINTS, MIN_LABEL_POINTS, MIN_SCALE, PAGE_INCHES, natural_size,
                           run_dot)
from tests.helpers import ROOT, SPECS

pytestmark = pytest.mark.skipif(shutil.which("dot") is None, reason="needs Graphviz's dot")
NAMES = sorted(p.stem for p in SPECS.glob("*.yaml"))
# drawings no depth fits on a page at MIN_SCALE: a U-Net's skips cross every cut of its
# chain, so left to right it cannot wrap into rows (top to bottom it fits)
TOO_LARGE = {("unet", "LR")}


def _size(source: str) -> str:
    return re.search(r'\bsize="([\d.]+,[\d.]+)"', source).group(1)


def _printed(source: str) -> list[tuple[float, float]]:
    """(font size, printed size) in points of every line of text in Graphviz's layout of a
    DOT source, at the scale its `size` gives the drawing (1 where it is smaller)."""
    layout = json.loads(run_dot(source, "json"))
    width, height = natural_size(layout)
    size_w, size_h = (float(v) * 72 for v in _size(source).split(","))
    scale = min(1.0, size_w / width, size_h / height)
    texts = []
    for obj in [layout, *layout.get("objects", []), *layout.get("edges", [])]:
        for key in ("_ldraw_", "_hldraw_", "_tldraw_", "_draw_"):
            font = 14.0
            for op in obj.get(key) or []:
                if op["op"] == "F":
                    font = float(op["size"])
                elif op["op"] == "T" and op["text"].strip():
                    texts.append((font, font * scale))
    return texts


def _assert_readable(source: str, what) -> None:
    texts = _printed(source)
    labels = [printed for font, printed in texts if font == LABEL_POINTS]
    assert labels and min(labels) >= MIN_LABEL_POINTS - 0.01, (what, min(labels))
    smallest = min(printed for _, printed in texts)  # 9-pt shapes on edges: 5.7 pt
    assert smallest >= 9 * MIN_SCALE - 0.01, (what, smallest)


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
@pytest.mark.parametrize("name", NAMES)
def test_every_default_figure_prints_its_labels_at_a_readable_size(name, rankdir):
    """resnet50 left to right was 1400×45 px (11-pt labels at 1.7 pt), Llama 1400×200."""
    notes: list[str] = []
    source = specc.render(SPECS / f"{name}.yaml", rankdir=rankdir, notes=notes).source
    _assert_readable(source, (name, rankdir))
    if (name, rankdir) in TOO_LARGE:
        assert _size(source) != PAGE_INCHES and len(notes) == 1, notes
        assert "larger than a page" in notes[0] and "--rankdir TB" in notes[0]
    else:  # on one page, and nothing to say about it
        assert _size(source) == PAGE_INCHES and notes == [], notes


@pytest.mark.parametrize("rankdir", ["TB", "LR"])
@pytest.mark.parametrize("name,depth", [(n, d) for n in ("resnet18", "llama") for d in (1, 2, 3)])
def test_a_forced_depth_grows_past_the_page_instead_of_shrinking_its_text(name, depth, rankdir):
    """resnet18 --depth 3 was 412×1900 px, a quarter of its natural size (labels at 2.7 pt):
    it now keeps 7-pt labels on a figure larger than a page, and says so once."""
    notes: list[str] = []
    source = specc.render(SPECS / f"{name}.yaml", depth=depth, rankdir=rankdir,
                          notes=notes).source
    _assert_readable(source, (name, depth, rankdir))
    if _size(source) == PAGE_INCHES:
        assert notes == []
    else:
        assert len(notes) == 1 and "larger than a page" in notes[0], notes
        assert "--depth auto" in notes[0]
    if (name, depth) == ("resnet18", 3):
        assert notes  # the audit's case: 608 × 2833 pt cannot fit at 7 pt


def _png_size(data: bytes) -> tuple[int, int]:
    return struct.unpack(">II", data[16:24])


@pytest.mark.parametrize("args,grows", [
    (["specs/resnet50.yaml", "--rankdir", "LR"], False),
    (["specs/llama.yaml", "--rankdir", "LR"], False),
    (["specs/resnet18.yaml", "--depth", "3"], True),
])
def test_png_pixels_follow_the_readable_scale(args, grows, tmp_path):
    """In the PNG itself: the pixels per laid-out point (dpi 200) are at least MIN_SCALE of
    the natural size; the CLI prints the note on stderr, once, only for a larger figure."""
    out = tmp_path / "figure.png"
    res = subprocess.run([sys.executable, "-m", "specc", "render", *args, "-o", str(out)],
                         cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    width, height = _png_size(out.read_bytes())
    options = {"rankdir": "LR"} if "LR" in args else {"depth": 3}
    source = specc.render(ROOT / args[0], dpi=200, **options).source
    natural_w, natural_h = natural_size(json.loads(run_dot(source, "json")))
    scale = min(width / (natural_w * 200 / 72), height / (natural_h * 200 / 72))
    assert scale >= MIN_SCALE - 0.01, (width, height, scale)
    notes = [line for line in res.stderr.splitlines() if "note:" in line]
    if grows:
        assert len(notes) == 1 and "larger than a page" in notes[0] and "--depth auto" in notes[0]
        assert height > 9.5 * 200
    else:
        assert notes == [] and width <= 7 * 200 + 2 and height <= 9.5 * 200 + 2


@pytest.mark.parametrize("name", ["resnet50", "vit_b_16", "lstm_classifier"])
def test_left_to_right_a_long_chain_wraps_into_rows(name):
    """The top-to-bottom wrap into columns, turned: each wrapped edge leaves the end of one
    row and enters the start of the next, below it. ViT's class token joins the patches
    only at the concatenation (its level is its consumer's, not the first), an LSTM's two
    outputs cross one cut together."""
    dot = specc.render(SPECS / f"{name}.yaml", rankdir="LR")
    wrapped = [re.match(r"\s*(\w+) -> (\w+)", line).groups() for line in dot.source.splitlines()
               if "constraint=false" in line]
    assert wrapped
    layout = json.loads(dot.pipe(format="json"))
    pos = {o["name"]: tuple(map(float, o["pos"].split(","))) for o in layout["objects"]
           if "pos" in o}
    for tail, head in wrapped:
        assert pos[head][1] < pos[tail][1], (tail, head)  # the next row is lower
        assert pos[head][0] <= pos[tail][0], (tail, head)  # back towards the left
