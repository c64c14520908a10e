"""Smoke runs of the benchmarks with tiny sizes: they still work end to end.
(No timing is asserted — timings are reported in the README, not tested.)"""
import subprocess
import sys

import pytest

from tests.helpers import ROOT


def _quick(script: str) -> str:
    """stdout of ``benchmarks/SCRIPT --quick``, which must exit 0."""
    out = subprocess.run([sys.executable, f"benchmarks/{script}", "--quick"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_check_speed_quick():
    stdout = _quick("check_speed.py")
    assert "| deep MLP | 100 |" in stdout and "ResNet-like" in stdout


def test_build_overhead_quick():
    pytest.importorskip("torch")
    assert "ResNet-18, batch 8" in _quick("build_overhead.py")


@pytest.mark.parametrize("argv,heavy", [
    (["--version"], ("yaml", "torch", "jsonschema", "graphviz")),
    # json belongs to other subcommands and output formats; tomllib is imported only for
    # a pyproject.toml that may hold a specc table (this repository's does not); typing
    # (~2 ms) only for annotations, which are strings on the check path (collections.abc
    # has Callable and Iterable; `if TYPE_CHECKING:` imports for mypy, see specc/ops/base.py);
    # shutil (~2 ms with bz2 and lzma) is what argparse's formatter imports for the terminal
    # width, which specc.cli gives it; dataclasses imports inspect (~7 ms with ast, dis and
    # tokenize) and execs the methods of every class it makes (~0.5 ms each): the check
    # path's value types are plain classes (specc/values.py)
    (["check", "specs/resnet50.yaml", "-q"], ("torch", "jsonschema", "graphviz", "json",
                                              "tomllib", "difflib", "typing", "pkgutil",
                                              "shutil", "dataclasses", "inspect")),
])
def test_commands_import_only_what_they_use(argv, heavy):
    code = ("import sys, specc.cli\n"
            f"try:\n    specc.cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
            f"print(sorted(m for m in {heavy!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().endswith("[]"), out.stdout + out.stderr


@pytest.mark.parametrize("argv,module", [
    (["--version"], None), (["--help"], None), (["check", "specs/resnet50.yaml", "-q"], "check"),
    (["init", "--help"], "new"), (["explain", "L101"], "explain")])
def test_a_command_imports_its_own_module_only(argv, module):
    """`specc --help` lists the commands from specc.cli.COMMANDS alone; a command imports
    its own module of specc.cli (build's, render's and diff's dependencies stay unloaded)."""
    code = ("import sys, specc.cli\n"
            f"try:\n    specc.cli.main({argv!r})\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('specc.cli.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    wanted = ["specc.cli._common"] + ([f"specc.cli.{module}"] if module else [])
    assert out.stdout.strip().splitlines()[-1] == repr(wanted), out.stdout + out.stderr


def test_every_command_parses_its_help():
    """Each module named in specc.cli.COMMANDS adds its arguments (make_parser() without
    argv builds them all) and answers --help."""
    from specc.cli import COMMANDS, make_parser

    make_parser()
    for name in COMMANDS:
        out = subprocess.run([sys.executable, "-m", "specc", name, "--help"], cwd=ROOT,
                             capture_output=True, text=True)
        assert out.returncode == 0 and out.stdout.startswith(f"usage: specc {name}"), out


def test_scaling_quick():
    """benchmarks/scaling.py runs end to end (it reports ratios; nothing is timed here)."""
    stdout = _quick("scaling.py")
    assert "| check |" in stdout and "| render (DOT) |" in stdout


def test_value_types_list_their_fields_in_init_order():
    """specc/values.py's equality, hash, repr, pickling and replace() read a value's fields
    from its __slots__ as the parameters of its __init__: the two must name the same fields
    in the same order, and a changed copy, a pickled one and the original agree."""
    import inspect
    import pickle

    import specc.analysis  # noqa: F401  (the check path's modules)
    import specc.config  # noqa: F401
    import specc.expand.place  # noqa: F401
    import specc.initializers  # noqa: F401
    from specc.errors import Diagnostic, Loc
    from specc.values import Record

    classes, todo = [], [Record]
    while todo:
        for sub in todo.pop().__subclasses__():
            classes.append(sub)
            todo.append(sub)
    assert len(classes) >= 15, classes
    for cls in classes:
        assert list(inspect.signature(cls).parameters) == list(cls.__slots__), cls
    d = Diagnostic("E301", "m", loc=Loc(3, 4), instances=("a", "b"))
    assert pickle.loads(pickle.dumps(d)) == d and hash(pickle.loads(pickle.dumps(d))) == hash(d)
    moved = d.replace(loc=d.loc.replace(col=5))
    assert moved != d and moved.loc == Loc(3, 5) and moved.replace(loc=Loc(3, 4)) == d
    with pytest.raises(AttributeError):
        d.message = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        d.replace(colour=1)


def test_a_pyproject_is_parsed_when_it_may_hold_a_specc_table(tmp_path):
    """The text prefilter that spares `check` the TOML parser misses no form of the table."""
    from specc.config import _find

    forms = ['[tool.specc]\nselect = ["L1"]\n', '[tool."specc"]\nselect = ["L1"]\n',
             '[tool]\nspecc.select = ["L1"]\n', 'tool.specc.select = ["L1"]\n',
             'tool = {specc = {select = ["L1"]}}\n', '[ tool . specc ]\nselect = ["L1"]\n']
    for i, text in enumerate(forms):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "pyproject.toml").write_text(text + '[project]\nname = "specc"\n')
        table = _find(str(folder))
        assert table is not None and table.values == {"select": ["L1"]}, text
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "pyproject.toml").write_text('[project.scripts]\nspecc = "specc.cli:main"\n'
                                          '[tool.ruff]\nline-length = 100\n')
    assert _find(str(plain)) is None
