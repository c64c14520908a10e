"""`specc render -o OUT.html`: a self-contained interactive page (no server, no script),
checked by its DOM: one line per op, one collapsible <details> per block, shapes on hover."""
import subprocess
import sys
from html.parser import HTMLParser

import specc
from specc.diagram_html import render_html
from tests.helpers import ROOT, SPECS


class _Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.nodes, self.scopes, self.details, self.scripts = {}, [], 0, 0

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "script":
            self.scripts += 1
        if tag == "details":
            self.details += 1
        if tag == "li" and "node" in (attrs.get("class") or "").split():
            self.nodes[attrs["data-id"]] = attrs["title"]
        if tag == "li" and attrs.get("class") == "scope":
            self.scopes.append(attrs["data-id"])


def _dom(text: str) -> _Dom:
    dom = _Dom()
    dom.feed(text)
    return dom


def test_html_view_has_every_op_and_collapsible_blocks(tmp_path):
    out = tmp_path / "r18.html"
    res = subprocess.run([sys.executable, "-m", "specc", "render", "specs/resnet18.yaml", "-o",
                          str(out)], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/nonexistent", "PYTHONPATH": str(ROOT)})  # no dot needed
    assert res.returncode == 0, res.stderr
    dom = _dom(out.read_text())
    graph = specc.check(SPECS / "resnet18.yaml").graph
    assert set(dom.nodes) == {n.id for n in graph.nodes}
    scopes = [s.path for s in graph.root.walk_scopes() if s.kind != "model"]
    assert dom.scopes == scopes and dom.details == len(scopes)
    assert dom.nodes["conv1"].startswith("out [N, 64, 112, 112] · 9,408 params · ")
    assert "118,013,952 MACs per sample" in dom.nodes["conv1"]
    assert dom.scripts == 0


def test_html_view_escapes_hostile_names():
    text = ("name: '<script>alert(1)</script>'\ninputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: fc, op: Linear, out_features: 2}\n")
    page = render_html(specc.check(text))
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert _dom(page).scripts == 0
