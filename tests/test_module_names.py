"""Module names are attribute names (issue 12): whatever torch's `add_module` accepts — not
empty, no '.', not an nn.Module attribute — names a node, block instance or nested sequence,
identifier or not (torchvision RegNet's `block1-0`, nn.Sequential's `0`, `conv 1`, `ß`).
specc refuses only '$' (it starts an expression), control/format characters (unseen in
terminals and diagrams) and `__x`. torch is the oracle: the state_dict keys of a module
built by hand with add_module and the same names, and its outputs."""
from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

import specc
from specc.compile.readable import readable_source
from tests.test_emit_python import _emitted_module

torch = pytest.importorskip("torch")
nn = torch.nn

# names torch accepts that are not Python identifiers, or are but only just
ODD_NAMES = ["1a", "0", "conv 1", "stage+1", "ß", "block1-0", "class", "ﬁ", "fi", "a\u00e9",
             "ka[0]", "x:y", "'q'", '"dq"', "a\\b", "<b>", "{c}", "&amp;", "#1", "-", " "]


def _spec(names: list[str]) -> str:
    """Each name on a Linear, and all of them again inside a nested sequence and a block,
    in a chain: every module is in the state_dict."""
    layers = [{"name": n, "op": "Linear", "out_features": 4} for n in names]
    return json.dumps({
        "inputs": {"x": {"shape": ["N", 4]}},
        "blocks": {"Pair": {"layers": [{"name": names[0], "op": "Linear", "out_features": 4},
                                       {"name": names[-1], "op": "Linear",
                                        "out_features": 4}]}},
        "layers": [*layers,
                   {"name": "stage+2", "layers": layers},
                   {"name": "blk[0]", "block": "Pair"}]})


class _Chain(nn.Module):
    """What a hand-written model with these names is: submodules added with add_module,
    run in order."""

    def __init__(self, names: list[str], pair=False):
        super().__init__()
        if pair:
            names = [names[0], names[-1]]
        for name in names:
            self.add_module(name, nn.Linear(4, 4))
        if not pair:
            inner = nn.Module()
            for name in names:
                inner.add_module(name, nn.Linear(4, 4))
            inner.forward = lambda x: _run(inner, x)
            self.add_module("stage+2", inner)
            self.add_module("blk[0]", _Chain(names, pair=True))

    def forward(self, x):
        return _run(self, x)


def _run(module, x):
    for child in module.children():
        x = child(x)
    return x


def _assert_same_model(model, reference):
    """The same state_dict keys in the same order and, with reference's weights loaded,
    equal outputs."""
    assert list(model.state_dict()) == list(reference.state_dict())
    model.load_state_dict(reference.state_dict())
    x = torch.randn(3, 4)
    assert torch.equal(model(x), reference(x))


def test_torch_accepts_every_name_here():
    for name in ODD_NAMES:
        nn.Module().add_module(name, nn.Identity())


@pytest.mark.parametrize("names", [ODD_NAMES[:7], ODD_NAMES[7:14], ODD_NAMES[14:]])
def test_state_dict_keys_and_outputs_match_torch_built_by_hand(names, tmp_path):
    text = _spec(names)
    assert [d for d in specc.check(text).diagnostics if d.severity == "error"] == []
    expected = _Chain(names)
    _assert_same_model(specc.build(text), expected)
    # --emit-python: the file imports (with specc unimportable) and builds the same model
    _assert_same_model(_emitted_module(readable_source(text), tmp_path, "odd").build_model(),
                       expected)


@pytest.mark.parametrize("names", [ODD_NAMES[:7], ODD_NAMES[7:14], ODD_NAMES[14:]])
def test_import_round_trips_such_names(names):
    """`specc import` of a module built with add_module keeps its names: the spec it
    writes builds the same state_dict keys and outputs."""
    original = _Chain(names)
    text = specc.from_module(original, torch.randn(3, 4))
    assert [d for d in specc.check(text).diagnostics if d.severity == "error"] == []
    _assert_same_model(specc.build(text), original)


@pytest.mark.parametrize("name, why", [
    ("a.b", "'.', which separates"),
    ("", "non-empty"),
    ("cost$", "'$', which starts an expression"),
    ("a\nb", "U+000A"),
    ("a\x85", "U+0085"),  # C1 control
    ("ab\u202ecd", "RIGHT-TO-LEFT OVERRIDE"),  # bidi override: shows as "abdc"
    ("a\u200bb", "ZERO WIDTH SPACE"),
    ("a\u2028b", "LINE SEPARATOR"),
    ("__x", "reserved"),
    ("training", "reserved"),
])
def test_refused_names_say_why_where(name, why):
    """What collides with spec syntax, what cannot be seen, and what would shadow an
    nn.Module attribute or be mangled: a located E203 that names the character."""
    text = ('inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, out_features: 4}\n'
            f'  - {{name: {json.dumps(name)}, op: Linear, out_features: 4}}\n')
    found = [(d.code, d.loc.line, d.message) for d in specc.check(text).diagnostics
             if d.severity == "error"]
    assert len(found) == 1 and found[0][:2] == ("E203", 4) and why in found[0][2], found
    assert repr(name) in found[0][2] or name in found[0][2]


def test_repeat_name_follows_the_same_rule():
    ok = ('inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: s, op: Linear, out_features: 4, '
          'repeat: 2, repeat_name: "block1-${i}"}\n')
    assert [d for d in specc.check(ok).diagnostics if d.severity == "error"] == []
    assert list(specc.build(ok).state_dict())[::2] == ["s.block1-0.weight",
                                                        "s.block1-1.weight"]
    bad = ok.replace("block1-${i}", "b${'.' if i else ''}${i}")
    found = [(d.code, d.loc.line) for d in specc.check(bad).diagnostics]
    assert ("E203", 3) in found, found


def test_inputs_stay_python_names():
    """An input is a parameter of forward: `1a` or `conv 1` cannot be one."""
    for name in ["1a", "conv 1", "x\n", "class"]:
        text = f"inputs: {{{json.dumps(name)}: {{shape: [N, 4]}}}}\nlayers: [{{op: neg}}]\n"
        found = [(d.code, d.loc.line) for d in specc.check(text).diagnostics]
        assert found == [("E203", 1)], (name, found)


@pytest.mark.parametrize("text, expected", [
    # a shape symbol with a newline was "E102 unknown op 'N\\n'"
    ('inputs: {x: {shape: ["N\\n", 4]}}\nlayers: [{op: neg}]\n',
     ("E104", 1, 23, "'inputs.x.shape.0' must be a symbol")),
    # a var with a newline was "'vars' must be None"
    ('vars: {"n\\n": 3}\ninputs: {x: {shape: [N, 4]}}\nlayers: [{op: neg}]\n',
     ("E203", 1, 9, "var name 'n\\n' is not allowed: it is not a Python-style name")),
    ('inputs: {x: {shape: [N, 4]}}\nblocks: {"b c": {layers: [{op: neg}]}}\n'
     'layers: [{op: neg}]\n', ("E203", 2, 11, "block name 'b c' is not allowed")),
])
def test_bad_key_and_symbol_names_say_what_is_wrong(text, expected):
    found = [(d.code, d.loc.line, d.loc.col, d.message) for d in specc.check(text).diagnostics]
    assert len(found) == 1 and found[0][:3] == expected[:3] and \
        found[0][3].startswith(expected[3]), found


HOSTILE = ['"]; x [label=', "<b>", "</script>", "{c}", "a\\b", "&amp;", "q'", '"""', "'''",
           "# c", "|p|", "ß", "conv 1"]


def _hostile_spec() -> str:
    inner = [{"name": n, "op": "Linear", "out_features": 4} for n in HOSTILE]
    return json.dumps({"inputs": {"x": {"shape": ["N", 4]}},
                       "layers": [{"name": "s<\"]>", "layers": inner},
                                  {"name": "t", "op": "ReLU"}]})


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")
def test_render_shows_hostile_names_escaped_in_valid_dot():
    """Every name is visible text in the SVG that `dot` makes of the source; none adds a
    node, an attribute or markup."""
    text = _hostile_spec()
    for depth in ("auto", "all"):
        dot = specc.render(text, depth=depth)
        svg = subprocess.run(["dot", "-Tsvg"], input=dot.source.encode(), capture_output=True,
                             check=True).stdout
        root = ET.fromstring(svg)
        shown = " ".join(t for e in root.iter() for t in [e.text or ""])
        ns = "{http://www.w3.org/2000/svg}"
        drawn = len([g for g in root.iter(f"{ns}g") if g.get("class") == "node"])
        if depth == "all":
            graph = specc.check(text).graph
            assert drawn == len(graph.nodes) + len(graph.inputs) + len(graph.outputs)
            for name in HOSTILE:
                assert name in shown, name
        assert "x [label" not in dot.source.replace('&quot;]; x [label=', "")


def test_html_view_escapes_hostile_names():
    from html.parser import HTMLParser

    from specc.diagram_html import render_html

    class Texts(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.texts, self.tags = [], set()

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)

        def handle_data(self, data):
            self.texts.append(data)

    def parse(text):
        parser = Texts()
        parser.feed(render_html(specc.check(text).graph and specc.check(text)))
        return parser

    hostile = parse(_hostile_spec())
    plain = parse(_hostile_spec().replace('"s<\\"]>"', '"s"'))
    assert hostile.tags == plain.tags  # no name added an element
    for name in HOSTILE:
        assert any(name in t for t in hostile.texts), name


def test_emitted_python_with_hostile_names(tmp_path):
    text = _hostile_spec()
    model = specc.build(text)
    _assert_same_model(_emitted_module(readable_source(text), tmp_path, "hostile").build_model(),
                       model)


def test_emitted_conditional_module_with_an_odd_name(tmp_path):
    """--emit-python's one class for two instances of a block, one lacking its `if:` layer:
    the absent module is registered as None under its name, whatever the name."""
    text = json.dumps({
        "inputs": {"x": {"shape": ["N", 4]}},
        "blocks": {"Res": {"params": {"down": False}, "layers": [
            {"name": "conv 1", "op": "Linear", "out_features": 4},
            {"name": "down-sample", "op": "Linear", "out_features": 4, "from": "x",
             "if": "$down"},
            {"op": "add", "from": ["conv 1", "down-sample"]}]}},
        "layers": [{"name": "1st", "block": "Res", "down": True},
                   {"name": "2nd", "block": "Res"}]})
    source = readable_source(text)
    assert source.count("class Res(") == 1 and "add_module('down-sample', None)" in source
    model = specc.build(text)
    assert "2nd.down-sample.weight" not in model.state_dict()
    _assert_same_model(_emitted_module(source, tmp_path, "cond").build_model(), model)


@pytest.mark.parametrize("first, second", [
    ("{op: Linear, out_features: 4}", '{name: "0", op: Linear, out_features: 4}'),
    ('{name: "1", op: Linear, out_features: 4}', "{op: Linear, out_features: 4}"),
])
def test_a_digit_name_that_meets_an_index_is_a_located_duplicate(first, second):
    """An unnamed item is called by its index (nn.Sequential): a digit name elsewhere that
    equals it would make two modules of one name (torch's add_module would replace one)."""
    text = f"inputs: {{x: {{shape: [N, 4]}}}}\nlayers:\n  - {first}\n  - {second}\n"
    found = [(d.code, d.loc.line) for d in specc.check(text).diagnostics if d.severity == "error"]
    assert found == [("E202", 4)], found
