"""The `--emit-python` file's build_model refuses the var values `specc check` refuses, naming
the var (specc/compile/emit_guards.py), and takes vars named as Python's own names by
their spec names. specc is the oracle: a value counts as refused only when
``specc.build(vars=...)`` refuses it, and build_model's checks never refuse a value it
builds with."""
from __future__ import annotations

import inspect
import subprocess
import sys
import traceback
from pathlib import Path

import pytest

import specc
from specc.compile.emit_guards import PREDICATES, UNGUARDED, _NUMBERS
from specc.compile.readable import readable_source
from specc.errors import SpecError
from specc.ops.ptypes import PTYPES
from tests.helpers import CPU_VARS, SPECS
from tests.test_emit_python import _emitted_module

torch = pytest.importorskip("torch")

ALL_SPECS = sorted(p.stem for p in SPECS.glob("*.yaml"))


def _module(text: str, tmp_path, name: str):
    """The emitted file imported with specc unimportable (it needs only torch)."""
    return _emitted_module(text, tmp_path, f"guarded_{name}")


# values of every kind, for the checks' agreement with specc's own
_SAMPLES = [0, 1, 2, -1, -3, 7, True, False, None, 0.0, 0.5, 1.0, 2.5, -0.5, float("nan"),
            float("inf"), float("-inf"), "", "x", "T", "same", "valid", "inf", "min", "é", "a b",
            "x\n", [], [1], [0], [1, 2], [-1, 2], [True], [1.0], ["N", 3], [None, 2], [None],
            ["a", "a"], ["a", "b"], [[1, 2]], [0.5, 2], (1, 2), {"a": 1}]


@pytest.mark.parametrize("ptype", sorted(PTYPES))
def test_each_check_in_the_file_is_specc_s_own(ptype):
    """The file's test of each parameter type accepts exactly the values specc's
    PTYPES check accepts (the expression is written once, in emit_guards.PREDICATES),
    and calls a value of a type the parameter never takes a TypeError."""
    if ptype in UNGUARDED:
        assert ptype not in PREDICATES
        return
    predicate, kinds = PREDICATES[ptype]
    namespace: dict = {}
    for code in _NUMBERS.values():
        exec(code, namespace)  # noqa: S102 — this module's own constant source
    test = eval(f"lambda value: bool({predicate})", namespace)  # noqa: S307
    for value in _SAMPLES:
        assert test(value) == bool(PTYPES[ptype].check(value)), (ptype, value)
        if PTYPES[ptype].check(value):
            assert type(value).__name__ in kinds.split(", ") or value is None, (ptype, value)


def _candidates(default) -> list:
    """Values a var of this default's type may be given that check may refuse."""
    if isinstance(default, bool):
        return [1, "x", None]
    if isinstance(default, int):
        return [0, -1, True, 2.5, "x"]
    if isinstance(default, float):
        return [True, "x", -1.0, 2]
    if isinstance(default, str):
        return [0, True, ""]
    return [0, "x"]


# (spec, var) whose refused values build_model builds anyway (specc refuses them, naming
# the var): what only shape inference tells
NOT_GUARDED = {
    # StochasticDepth's p (${stochastic_depth_prob * block_id / (total_blocks - 1.0)}) must
    # be in [0, 1]: a shape rule (L104 dropout-p-range), not its parameter's type, which
    # build_model checks for each copy's block_id (a float; total_blocks=1 divides by 0)
    ("convnext_tiny", "stochastic_depth_prob"), ("convnext_tiny", "total_blocks"),
    ("efficientnet_b0", "stochastic_depth_prob"), ("efficientnet_b0", "total_blocks"),
    ("swin_t", "stochastic_depth_prob"), ("swin_t", "total_blocks"),
    # RotaryEmbedding: head_dim × partial_rotary_factor must be a positive even number
    ("llama", "partial_rotary_factor"), ("mistral", "partial_rotary_factor"),
    ("qwen2", "partial_rotary_factor"),
    # pos_embedding's size ${(image // patch) ** 2 + 1} must match the patches of the
    # input, whose shape is no var (image=-1 gives 2: a broadcast error, E301)
    ("vit_b_16", "image"),
}


def _refused_by_specc(name: str, vars_: dict) -> bool:
    try:
        specc.build(SPECS / f"{name}.yaml", vars=vars_, device="meta")
    except SpecError:
        return True
    return False


def _raised_by_a_check(error: BaseException) -> bool:
    return any(frame.name == "_require" for frame in traceback.extract_tb(error.__traceback__))


@pytest.mark.parametrize("name", ALL_SPECS)
def test_build_model_refuses_what_specc_refuses_naming_the_var(name, tmp_path):
    """For every var of every bundled spec and values a user may get wrong (0, -1, True
    and 2.5 for an integer, text for a number...): where specc.build refuses the value,
    build_model refuses it too, and its error names the var with the value; where specc
    builds, build_model's checks let it through."""
    vars_ = CPU_VARS.get(name) or {}
    module = _module(readable_source(SPECS / f"{name}.yaml", vars=vars_), tmp_path, name)
    missed = set()
    for var, parameter in inspect.signature(module.build_model).parameters.items():
        for value in _candidates(parameter.default):
            refused = _refused_by_specc(name, {**vars_, var: value})
            try:
                with torch.device("meta"):
                    module.build_model(**{var: value})
            except (TypeError, ValueError) as error:
                if refused:
                    assert f"{var}={value!r}" in str(error), (var, value, str(error))
                else:
                    assert not _raised_by_a_check(error), (var, value, str(error))
                continue
            if refused:
                missed.add((name, var))
    assert missed == {pair for pair in NOT_GUARDED if pair[0] == name}


def test_the_messages_are_check_s_own_words(tmp_path):
    """The red team's cases: each refused with check's words for the same value, naming
    the var, the value and where the spec uses it; a wrong type is a TypeError."""
    mlp = _module(readable_source(SPECS / "mlp.yaml"), tmp_path, "mlp_words")
    classifier = _module(readable_source(SPECS / "transformer_classifier.yaml"), tmp_path,
                         "classifier_words")
    cases = [
        (classifier, {"layers": 0}, ValueError,
         "build_model: layers=0: encoder: repeat must be a positive integer, got 0"),
        (classifier, {"heads": True}, TypeError,
         "build_model: heads=True: encoder.0: TransformerEncoderLayer.nhead must be a "
         "positive integer, got True"),
        (mlp, {"hidden": 1}, ValueError,
         "build_model: hidden=1: fc2: Linear.out_features (hidden // 2) must be a positive "
         "integer, got 0"),
        (mlp, {"hidden": 2.5}, TypeError,
         "build_model: hidden=2.5: fc1: Linear.out_features must be a positive integer, "
         "got 2.5"),
        (mlp, {"num_classes": "10"}, TypeError,
         "build_model: num_classes='10': head: Linear.out_features must be a positive "
         "integer, got '10'"),
    ]
    for module, vars_, error, message in cases:
        with pytest.raises(error) as info:
            module.build_model(**vars_)
        assert str(info.value) == message
    # check's own message for the same values says the same
    analysis = specc.check(SPECS / "mlp.yaml", vars={"hidden": 1}, lint=False)
    assert [d.message for d in analysis.diagnostics if d.severity == "error"] == \
        ["Linear.out_features must be a positive integer, got 0"]


def test_what_torch_refuses_while_building_names_the_changed_var(tmp_path):
    """heads=3 with d=256: check says d_model must be divisible by nhead (shape
    inference); build_model has no check of its own for it, but torch refuses while
    building, and build_model's error names the var given another value."""
    module = _module(readable_source(SPECS / "transformer_classifier.yaml"), tmp_path, "heads")
    assert _refused_by_specc("transformer_classifier", {"heads": 3})
    with pytest.raises(ValueError, match=r"^build_model: heads=3: torch cannot build the "
                                         r"model with these values: .*divisible"):
        module.build_model(heads=3)


def test_a_check_under_an_if_holds_only_where_the_value_is_built(tmp_path):
    """A layer that `if:` switches off is not checked: the shortcut's first Linear has
    `out_features: ${channels * (stride - 1) - 10}` and `if: ${stride != 1}`; with the
    block's params as the caller gives them (channels: ${width * 2}, stride: $s) the
    check is `width * 2 * (s - 1) - 10` under `if s != 1:`, so s=1 (no shortcut) builds
    and s=0 is refused, as specc does."""
    spec = {
        "inputs": {"x": {"shape": ["N", 16]}}, "vars": {"width": 8, "s": 2},
        "blocks": {"Unit": {"params": {"channels": None, "stride": 1}, "layers": [
            {"name": "main", "op": "Linear", "out_features": "$channels"},
            {"name": "proj", "if": "${stride != 1}", "from": "x", "layers": [
                {"op": "Linear", "out_features": "${channels * (stride - 1) - 10}"},
                {"op": "Linear", "out_features": "$channels"}]},
            {"op": "add", "from": ["main", "proj"]}]}},
        "layers": [
            {"name": "down", "block": "Unit", "channels": "${width * 2}", "stride": "$s"},
            {"name": "stage", "block": "Unit", "channels": "${width * 2}"},
            {"name": "head", "op": "Linear", "out_features": 3}]}
    text = readable_source(spec)
    assert "    if s != 1:\n        _require(\n            _is_posint, lambda: width * 2 * (s - 1) - 10," \
        in text
    module = _module(text, tmp_path, "under_if")
    x = torch.rand(2, 16)
    for vars_ in ({"s": 1}, {"s": 3}):
        torch.manual_seed(0)
        built = specc.build(spec, vars=vars_)
        torch.manual_seed(0)
        emitted = module.build_model(**vars_)
        assert torch.equal(emitted(x), built(x))
    _both_refuse(spec, module, {"s": 0}, r"^build_model: width=8, s=0: down.proj.0: "
                 r"Linear.out_features \(width \* 2 \* \(s - 1\) - 10\) must be a positive "
                 r"integer, got -26$")


def _both_refuse(spec, module, vars_: dict, message: str) -> None:
    """specc.build refuses the vars, and build_model refuses them with ``message``."""
    with pytest.raises(SpecError):
        specc.build(spec, vars=vars_)
    with pytest.raises(ValueError, match=message):
        module.build_model(**vars_)


def test_a_value_each_copy_of_a_repeat_computes_from_its_index_is_checked_per_copy(tmp_path):
    """`k: $i` gives each copy of a repeat its own block param: the check of the layer
    reading it is made for each copy's value (a loop over them), as check makes it for
    each copy: width=2 gives the third copy out_features=0."""
    spec = {"inputs": {"x": {"shape": ["N", 4]}}, "vars": {"width": 6},
            "blocks": {"Lin": {"params": {"k": 0}, "layers": [
                {"op": "Linear", "out_features": "${width - k}"}]}},
            "layers": [{"layers": [{"block": "Lin", "repeat": 3, "k": "$i"}]},
                       {"name": "head", "op": "Linear", "out_features": 2}]}
    text = readable_source(spec)
    assert "    for k in (0, 1, 2):\n        _require(\n" in text
    module = _module(text, tmp_path, "per_copy")
    _both_refuse(spec, module, {"width": 2}, r"^build_model: width=2: 0.0.0 and 2 other "
                 r"copies: Linear.out_features \(width - k\) must be a positive integer, got 0$")
    _same(module.build_model(), specc.build(spec), torch.rand(2, 4))


def test_a_derived_var_that_cannot_be_computed_is_refused(tmp_path):
    """`head_dim: ${hidden // heads}` with heads=0: check says `in vars.head_dim: division
    by zero`; build_model names heads and the derived var."""
    spec = {"inputs": {"x": {"shape": ["N", 8]}}, "vars": {"hidden": 8, "heads": 2,
                                                        "head_dim": "${hidden // heads}"},
            "layers": [{"op": "Linear", "out_features": "$head_dim"}]}
    module = _module(readable_source(spec), tmp_path, "derived")
    _both_refuse(spec, module, {"heads": 0},
                 r"^build_model: hidden=8, heads=0: vars.head_dim \(hidden // heads\): .*by zero")
    assert module.build_model(heads=4)(torch.rand(2, 8)).shape == (2, 2)


def test_emitted_checks_pass_ruff(tmp_path):
    """The checks' code passes the same ruff rules as the rest of the file, and its lines
    (the module's functions and build_model after its docstring) are at most 100 long
    but where one argument is longer."""
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if not Path(ruff).exists():
        pytest.skip("ruff is not installed")
    paths = []
    for name in ("transformer_classifier", "t5", "convnext_tiny", "mobilenet_v3_small", "tcn"):
        path = tmp_path / f"{name}.py"
        text = readable_source(SPECS / f"{name}.yaml", vars=CPU_VARS.get(name))
        path.write_text(text)
        paths.append(str(path))
        checks = text[text.index("\ndef _require("):]
        function = checks.index("\ndef build_model(")
        doc_end = checks.index('"""\n', checks.index('"""', function) + 3)
        checks = checks[:function] + checks[doc_end + 4:]
        # (but a line of one argument too long by itself: a spec's path, its expression)
        assert [line for line in checks.split("\n")[1:] if len(line) > 100
                and "this file was generated with" not in line and not (
                    line.strip().startswith(("'", "lambda: ")) and line.count("'") <= 2
                    and line.endswith(","))] == [], name
    res = subprocess.run([ruff, "check", "--isolated", "--select", "E4,E7,E9,F", *paths],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


# vars named as Python's keywords, builtins and the file's own names, and one of them
# shadowed by a block's param of the same name (`nn` inside Pair is the param)
PYTHON_NAMED = {
    "inputs": {"x": {"shape": ["N", 6]}},
    "vars": {"nn": 5, "torch": 4, "model": 3, "self": 2, "class": 7, "int": 3,
             "build_model": 2, "_private": 4, "input": 3, "spec_vars": 2,
             "derived": "${nn + int}"},
    "blocks": {"Pair": {"params": {"nn": 2}, "layers": [
        {"op": "Linear", "out_features": "${nn * 2}"}]}},
    "layers": [
        {"name": "a", "op": "Linear", "out_features": "$nn"},
        {"name": "b", "op": "Linear", "out_features": "${torch + model}"},
        {"name": "c", "op": "Linear", "out_features": "$class"},
        {"name": "d", "op": "Linear", "out_features": "${int(self * int)}"},
        {"name": "e", "op": "Linear", "out_features": "${build_model + _private + input}"},
        {"name": "f", "block": "Pair", "nn": "$derived"},
        {"name": "g", "block": "Pair"},
        {"name": "h", "op": "Linear", "out_features": "${derived * spec_vars}"}]}


def _same(emitted, built, x) -> None:
    assert [(k, tuple(v.shape)) for k, v in emitted.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in built.state_dict().items()]
    emitted.load_state_dict(built.state_dict(), strict=True)
    with torch.no_grad():
        assert torch.equal(emitted(x), built(x))


def test_vars_named_as_python_s_names_are_passed_by_their_names(tmp_path):
    """Vars named nn, torch, model, self, class, int, build_model (and a builtin, one
    starting with _) are build_model's by their spec names: build_model(**{"class": 3})
    builds what specc.build(vars={"class": 3}) builds (torch.equal), nn=... included; the
    code calls them nn_, class_ inside, and torch's nn is still nn."""
    text = readable_source(PYTHON_NAMED)
    assert "def build_model(spec_vars=2, **spec_vars_):\n" in text
    assert "    class_ = spec_vars_.pop('class', 7)\n" in text
    assert "self.a = nn.Linear(in_features=6, out_features=nn_)" in text
    module = _module(text, tmp_path, "python_named")
    x = torch.rand(2, 6)
    for vars_ in ({}, {"class": 3}, {"nn": 6, "torch": 2, "model": 2, "self": 3, "class": 4,
                                     "int": 2, "build_model": 5, "_private": 1, "input": 2,
                                     "spec_vars": 3}):
        _same(module.build_model(**vars_), specc.build(PYTHON_NAMED, vars=vars_), x)
    _same(module.build_model(nn=8), specc.build(PYTHON_NAMED, vars={"nn": 8}), x)
    # refused as check refuses them, by their names
    for vars_, message in (({"class": 0}, "build_model: class=0: c: Linear.out_features must "
                                          "be a positive integer, got 0"),
                           ({"int": "x"}, "build_model: nn=5, int='x': vars.derived (nn + int): ")):
        with pytest.raises(SpecError):
            specc.build(PYTHON_NAMED, vars=vars_)
        with pytest.raises((TypeError, ValueError)) as info:
            module.build_model(**vars_)
        assert str(info.value).startswith(message), str(info.value)
    with pytest.raises(TypeError, match="unexpected keyword argument 'klass'"):
        module.build_model(klass=3)
    import shutil

    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    if Path(ruff).exists():
        res = subprocess.run([ruff, "check", "--isolated", "--select", "E4,E7,E9,F",
                              str(tmp_path / "guarded_python_named.py")], capture_output=True, text=True)
        assert res.returncode == 0, res.stdout + res.stderr
