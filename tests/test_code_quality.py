"""The code habits of issue 12, as tests so the README's test command and CI run them:
`ruff check` (pyflakes, bugbear, unused arguments) and `mypy`, both configured in
pyproject.toml. Skipped only where the tool is not installed."""
import ast
import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _tool(name: str) -> list[str]:
    """The tool next to this Python (a venv), else on PATH."""
    local = ROOT.parent / "venv" / "bin" / name
    beside = __import__("pathlib").Path(sys.executable).with_name(name)
    for candidate in (beside, local):
        if candidate.exists():
            return [str(candidate)]
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return [found]


def test_ruff_check_passes():
    out = subprocess.run(_tool("ruff") + ["check", "specc"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_passes():
    out = subprocess.run(_tool("mypy"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr


# {name}, {len(pad)}, {op.name!r}, {size:,}: what an f-string would fill in (not a YAML flow
# map such as {op: permute}, nor the spec language's ${expr})
_PLACEHOLDER = re.compile(r"(?<!\$)\{[A-Za-z_]\w*(\.[A-Za-z_]\w*|\[[^\]]*\]|\([^)]*\))*"
                          r"(![rsa])?(:[^{}\s]*)?\}")


def _plain_strings_with_placeholders(source: str) -> list[tuple[int, str]]:
    """String literals outside f-strings, docstrings, ``"...".format(...)`` receivers and
    templates (they escape their braces: ``{{``) that hold an f-string placeholder: a message
    that lost its f-prefix."""
    tree = ast.parse(source)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("format", "format_map"):
            skip.add(id(node.func.value))
        elif isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.body and isinstance(node.body[0], ast.Expr):
            skip.add(id(node.body[0].value))
    return [(node.lineno, node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and "{{" not in node.value
            and _PLACEHOLDER.search(node.value)]


def test_no_message_lost_its_f_prefix():
    """Issue 12 found `got {len(pad)}` shown to a user (ops/resample.py): no string literal
    in specc/ holds a placeholder outside an f-string or a .format() call."""
    assert _plain_strings_with_placeholders(
        'def f(pad):\n    raise ValueError("needs 2 values, got {len(pad)}")\n')
    assert not _plain_strings_with_placeholders(
        'x = f"got {len(pad)}"\ny = "add {op: permute, dims: [0, 2, 1]} or ${n}"\n'
        'z = "{a} and {b!r}".format(a=1, b=2)\n')
    found = [f"{path.relative_to(ROOT)}:{line}: {text[:60]!r}"
             for path in sorted((ROOT / "specc").rglob("*.py"))
             for line, text in _plain_strings_with_placeholders(path.read_text())]
    assert not found, found


def test_only_the_cli_prints():
    """Subcommand bodies (argparse, printing, exit codes) live under specc/cli/; the
    libraries (compile, diagram, diff, analyses, report) return values or write to the
    stream they are given, never to the process's stdout/stderr."""
    found = []
    for path in sorted((ROOT / "specc").rglob("*.py")):
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("specc/cli/") or relative == "specc/__main__.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                    and node.func.id in ("print", "exit", "quit"):
                found.append(f"{relative}:{node.lineno}: {node.func.id}()")
            if isinstance(node, ast.Attribute) and node.attr in ("exit", "stdout", "stderr") \
                    and isinstance(node.value, ast.Name) and node.value.id == "sys":
                # choosing colours by whether stdout is a terminal reads it, no more
                if (relative, node.attr) != ("specc/report/style.py", "stdout"):
                    found.append(f"{relative}:{node.lineno}: sys.{node.attr}")
    assert not found, found
