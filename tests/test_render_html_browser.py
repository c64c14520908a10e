"""The interactive HTML view in a real browser engine: headless Chromium opens the page from
file:// (no server), its console stays clean, clicking a block's summary hides and shows its
children, and hovering an op puts the pointer on the element whose tooltip (``title``) gives
the op's output shape, the shape torch really produces.

Skips only when Chromium (with its chromedriver) is not installed; .ci/run installs both.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest

import specc
from specc.ir import Node
from tests.helpers import ROOT, SPECS, concrete_shape, run_on_meta

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER),
                                reason="needs chromium and chromium-driver (apt-get install)")
DIMS = {"resnet18": {"N": 2}, "llama": {"N": 2, "T": 16}}


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver  # the test extra's; only Chromium itself may be absent
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    yield driver
    driver.quit()


def _open(browser, name, tmp_path):
    out = tmp_path / f"{name}.html"
    res = subprocess.run([sys.executable, "-m", "specc", "render", f"specs/{name}.yaml", "-o",
                          str(out)], cwd=ROOT, capture_output=True, text=True,
                         env={"PATH": "/nonexistent", "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stderr
    browser.get(out.as_uri())
    assert browser.execute_script("return document.readyState") == "complete"
    return browser


def _by_id(browser, kind, ident):
    return browser.find_element("css selector", f'li.{kind}[data-id="{ident}"]')


def _summary(browser, path):
    return _by_id(browser, "scope", path).find_element("css selector", ":scope > details > summary")


def _tooltip_under_pointer(browser, element):
    """Move the mouse onto ``element``; return the tooltip the browser would show there: the
    ``title`` of the nearest titled ancestor of whatever is really under the pointer."""
    from selenium.webdriver import ActionChains

    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    ActionChains(browser).move_to_element(element).perform()
    return browser.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);"
        "const titled = hit && hit.closest('[title]');"
        "return titled ? titled.getAttribute('title') : null;", element)


def _shape_text(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


@pytest.mark.parametrize("name", ["resnet18", "llama"])
def test_html_view_in_headless_chromium(browser, name, tmp_path):
    analysis = specc.check(SPECS / f"{name}.yaml")
    graph = analysis.graph
    _open(browser, name, tmp_path)
    assert browser.get_log("browser") == []  # no script errors, no failed loads, no warnings
    assert browser.execute_script("return document.characterSet") == "UTF-8"

    # every op and block is in the page; top-level blocks start open, deeper ones closed
    assert len(browser.find_elements("css selector", "li.node")) == len(graph.nodes)
    scopes = [s for s in graph.root.walk_scopes() if s.kind != "model"]
    top = next(s for s in scopes if "." not in s.path)
    inner = next(s for s in scopes if s.path.startswith(top.path + ".")
                 and any(isinstance(i, Node) for i in s.items))
    inner_node = next(i for i in inner.items if isinstance(i, Node))
    first_child = _by_id(browser, "node", inner_node.id)
    assert not first_child.is_displayed()

    # opening a closed block (and its closed ancestors) shows its children; closing hides them
    chain = [s.path for s in scopes if inner.path.startswith(s.path + ".") or s is inner]
    for path in chain:
        if _by_id(browser, "scope", path).find_element("css selector", ":scope > details") \
                .get_attribute("open") is None:
            _summary(browser, path).click()
    assert first_child.is_displayed()
    children = [_by_id(browser, "node", i.id) for i in inner.items if isinstance(i, Node)]
    assert children and all(c.is_displayed() for c in children)

    # hover: the pointer lands on the op and its tooltip states the shape torch produces
    seen, _ = run_on_meta(graph, DIMS[name], train=False)
    for node in [inner_node, *[n for n in graph.nodes if n.scope is graph.root][:3]]:
        tooltip = _tooltip_under_pointer(browser, _by_id(browser, "node", node.id)
                                         .find_element("css selector", ".op"))
        assert tooltip is not None, f"no tooltip over {node.id}"
        shape = re.match(r"out (\[[^\]]*\])", tooltip).group(1)
        assert shape == _shape_text(node.out_types[0].shape)
        torch_shape = seen[node.id][0][0]
        inferred = concrete_shape(node.out_types[0].shape, DIMS[name])
        assert inferred == torch_shape, f"{node.id}: page says {shape}, torch made {torch_shape}"

    _summary(browser, inner.path).click()
    assert not first_child.is_displayed()
    _summary(browser, top.path).click()  # closing the outer block hides everything inside
    assert not _summary(browser, inner.path).is_displayed()
    assert browser.get_log("browser") == []
