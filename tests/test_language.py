"""Spec-language features not covered elsewhere: expressions, naming, wiring, YAML rules."""
import pytest

import specc
from specc.dims import Sym
from specc.expr import ExprError, evaluate


def diags(text, **kw):
    return [(d.code, d.loc.line, d.loc.col) for d in specc.check(text, **kw).diagnostics]


def test_expression_errors_point_into_the_expression():
    text = ('vars: {w: 4}\ninputs: {x: {shape: [N, 4]}}\nlayers:\n'
            '  - {op: Linear, out_features: "${w * 2 + nope}"}\n')
    (code, line, col), = diags(text)
    assert (code, line) == ("E207", 4)
    assert text.splitlines()[3][col - 1:col + 3] == "nope"


@pytest.mark.parametrize("expr,value", [
    ("${2 if i == 0 else 1}", 2), ("${max(3, i * 4)}", 3), ("${round(7 / 2)}", 4),
    ("${not i}", True), ("${i == 0 and 5 or 6}", 5), ("layer_${i}_${i + 1}", "layer_0_1"),
    ("$i", 0), ("${-i ** 2}", 0), ("${10 // 3 % 2}", 1), ("${int(2.9)}", 2),
    ("${[4, 5][i]}", 4), ("${[4, 5][-1]}", 5),
])
def test_expression_values(expr, value):
    assert evaluate(expr, {"i": 0}) == value


# list indexing is allowed (issue 16: ${hidden_dims[i]}); out of range and slices are not
@pytest.mark.parametrize("expr", ["${__import__('os')}", "${i.real}", "${[1][1]}", "${[1, 2][0:1]}",
                                  "${i[0]}", "${[1][True]}",
                                  "${open('x')}", "${10 ** 100}", "${1/0}", "${(lambda: 1)()}"])
def test_expression_whitelist(expr):
    with pytest.raises(ExprError):
        evaluate(expr, {"i": 1})


def test_yaml_1_2_scalars_do_not_change_the_model():
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {op: Dropout, p: 1e-1}\n  - {op: Linear, out_features: 010}\n")
    graph = specc.check(text).graph
    assert graph.nodes[0].attrs["p"] == 0.1
    assert graph.nodes[1].attrs["out_features"] == 10
    bad = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, out_features: 2, bias: no}\n"
    assert diags(bad)[0][0] == "E104"  # `no` is the string "no", not false


def test_duplicate_keys_name_both_lines():
    text = "inputs: {x: {shape: [N, 4]}}\nlayers: []\ninputs: {y: {shape: [1]}}\n"
    d = specc.check(text).diagnostics[0]
    assert d.code == "E002" and "line 1" in d.message and "line 3" in d.message


def test_unnamed_nodes_take_their_index_and_disabled_ones_none():
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {op: Linear, out_features: 4}\n  - {op: ReLU, if: false}\n"
            "  - {name: act, op: ReLU}\n  - {op: Linear, out_features: 2}\n")
    ids = [n.id for n in specc.check(text).graph.nodes]
    assert ids == ["0", "act", "2"]


def test_symbols_flow_and_simplify():
    text = ("inputs: {x: {shape: [N, 3, H, W]}}\nlayers:\n"
            "  - {name: a, op: Conv2d, out_channels: 4, kernel_size: 3, stride: 2, padding: 1}\n"
            "  - {name: b, op: Conv2d, from: x, out_channels: 4, kernel_size: 1, stride: 2}\n"
            "  - {op: add, from: [a, b]}\n")
    graph = specc.check(text).graph
    H = Sym.symbol("H")
    assert graph.nodes[2].out_types[0].shape[2] == (H + 1) // 2
    assert str(graph.nodes[2].out_types[0].shape[2]) == "(H+1)//2"


def test_need_concrete_names_the_symbol_and_dim_binds_it():
    text = ("inputs: {x: {shape: [N, 3, H, W]}}\nlayers:\n  - {op: flatten, start_dim: 1}\n"
            "  - {op: Linear, out_features: 2}\n")
    d = specc.check(text).diagnostics[0]
    assert d.code == "E304" and "H" in d.hint and "--dim" in d.hint
    assert specc.check(text, dims={"H": 8, "W": 8}).ok


def test_nested_sequence_reads_outer_names_and_inputs_by_name():
    text = ("inputs:\n  a: {shape: [N, 4]}\n  b: {shape: [N, 4]}\nlayers:\n"
            "  - {name: first, op: Linear, out_features: 4}\n"
            "  - name: inner\n    layers:\n      - {op: add, from: [first, b]}\n"
            "      - {op: Linear, out_features: 3}\n")
    analysis = specc.check(text)
    assert analysis.ok, [d.message for d in analysis.diagnostics]
    assert str(analysis.graph.outputs[0][1].type) == "[N, 3]"


def test_block_defaults_required_params_and_closed_scope():
    base = ("blocks:\n  B:\n    params: {n: null, k: 2}\n    layers:\n"
            "      - {op: Linear, out_features: \"${n * k}\"}\n")
    ok = base + "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: b, block: B, n: 3}\n"
    assert str(specc.check(ok).graph.nodes[0].out_types[0]) == "[N, 6]"
    closed = ("blocks:\n  B:\n    layers:\n      - {op: add, from: [x, outer]}\n"
              "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {name: outer, op: ReLU}\n"
              "  - {block: B}\n")
    assert "E201" in [d.code for d in specc.check(closed).diagnostics]


# -- issue 13: check said OK, build disagreed ---------------------------------------------

def test_disabled_node_does_not_resolve_its_from():
    text = """
vars: {use_extra: false}
inputs: {x: {shape: [N, 4]}}
layers:
  - {name: fc, op: Linear, out_features: 4}
  - {name: extra, op: add, from: [fc, nowhere], if: $use_extra}
  - {op: ReLU}
"""
    analysis = specc.check(text)
    assert analysis.ok, [d.format() for d in analysis.diagnostics]
    torch = pytest.importorskip("torch")
    model = specc.build(text).eval()
    x = torch.randn(2, 4)
    assert torch.allclose(model(x), torch.relu(model.fc(x)))
    # reading it is still the located error it always was
    read = text + "  - {op: Identity, from: extra}\n"
    (code, line, _), = diags(read)
    assert code == "E201" and line == 8


def test_unnamed_repeat_of_a_multi_input_block_equals_the_named_one():
    torch = pytest.importorskip("torch")
    body = """
inputs: {x: {shape: [N, 4]}, ctx: {shape: [N, 4]}}
blocks:
  mix:
    inputs: [h, c]
    layers:
      - {name: fc, op: Linear, from: h, out_features: 4}
      - {op: add, from: [fc, c]}
layers:
"""
    named = specc.build(body + "  - {name: stack, block: mix, from: [x, ctx], repeat: 3}\n")
    unnamed = specc.build(body + "  - {block: mix, from: [x, ctx], repeat: 3}\n")
    state = {k.replace("stack.", ""): v for k, v in named.state_dict().items()}
    unnamed.load_state_dict(state, strict=True)
    x, ctx = torch.randn(2, 4), torch.randn(2, 4)
    want = x
    for i in range(3):  # each copy reads the previous one and the same ctx
        want = getattr(named.stack, str(i)).fc(want) + ctx
    with torch.no_grad():
        assert torch.allclose(unnamed(x, ctx), want)
        assert torch.allclose(named(x, ctx), want)


def test_init_values_may_be_expressions():
    torch = pytest.importorskip("torch")
    text = """
vars: {width: 4096, fill: 0.5}
inputs: {x: {shape: [N, 64]}}
init: {Linear: {bias: {method: constant, value: $fill}}}
layers:
  - {name: fc, op: Linear, out_features: 4096, init: {method: normal, std: "${1 / width ** 0.5}"}}
  - {name: head, op: Linear, out_features: 2}
"""
    model = specc.build(text)
    assert abs(model.fc.weight.std().item() - 4096 ** -0.5) < 1e-3
    assert torch.all(model.head.bias == 0.5)
    bad = text.replace('"${1 / width ** 0.5}"', '"${\'wide\'}"')
    assert [c for c, _, _ in diags(bad)] == ["E104"]


def test_module_names_may_hold_a_hyphen_as_torch_allows():
    """torchvision's RegNet names blocks "block1-0"; input names stay identifiers."""
    torch = pytest.importorskip("torch")
    text = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n"
            "  - {name: stage, op: Linear, out_features: 4, repeat: 2, repeat_name: 'block1-${i}'}\n"
            "  - {op: add, from: [stage.block1-0, stage]}\n")
    model = specc.build(text)
    assert list(model.state_dict())[:2] == ["stage.block1-0.weight", "stage.block1-0.bias"]
    x = torch.randn(2, 4)
    first = model.get_submodule("stage.block1-0")(x)
    assert torch.allclose(model(x), first + model.get_submodule("stage.block1-1")(first))
    assert "E203" in [c for c, _, _ in diags("inputs: {x-y: {shape: [N, 4]}}\nlayers: [ReLU]\n")]


# -- issue 13 (Swin): constant tables, registration order --------------------------------
@pytest.mark.parametrize("expr,value", [
    ("${[i * i for i in range(4)]}", [0, 1, 4, 9]),
    ("${[a - b for a in range(2) for b in range(a + 1)]}", [0, 1, 0]),
    ("${[x for x in xs if x % 2]}", [1, 3]),
    ("${[[i, j] for i in range(2) for j in range(1)]}", [[0, 0], [1, 0]]),
    ("${range(1, 7, 2)}", [1, 3, 5]),
    ("${round(log(128 / 8), 6)}", 2.772589), ("${log(8, 2)}", 3.0),
    ("${[i for i in range(3)][i]}", 0),  # the comprehension's i does not leak
])
def test_list_comprehensions(expr, value):
    assert evaluate(expr, {"i": 0, "xs": [1, 2, 3]}) == value


@pytest.mark.parametrize("expr,message", [
    ("${[i for i in range(200) for j in range(200)]}", "iterations"),  # counted, not built
    ("${[1 for i in range(10 ** 6)]}", "elements"),  # range refused before it is built
    ("${[i for i in 3]}", "iterates over a list"),
    ("${[i for (i, j) in [[1, 2]]]}", "binds one name"),
    ("${range(1.5)}", "integers"),
    ("${log(0)}", "log"), ("${log('e')}", "numbers"),
])
def test_list_comprehensions_are_bounded(expr, message):
    with pytest.raises(ExprError, match=message):
        evaluate(expr, {})


def test_a_comprehension_far_over_the_limit_is_refused_before_it_runs():
    """Where its passes are known before it runs (no `if` but on the last `for`, no
    iterable reading an earlier `for`'s name), a comprehension over the limit is refused
    at once: its element (here an error) is never computed. Swin with window 14 (38,416
    passes) took 0.8 s per block to refuse; --emit-python tries window * 2 first."""
    with pytest.raises(ExprError, match="iterations"):
        evaluate("${[a // 0 for a in range(200) for b in range(200)]}", {})
    with pytest.raises(ExprError, match="division by zero"):  # (under the limit: it runs)
        evaluate("${[a // 0 for a in range(2) for b in range(2)]}", {})


def test_a_table_is_computed_once_per_value_of_what_it_reads():
    """Swin's 12 blocks share one 2,401-element index: the result is kept by the values of
    the names it reads, and a caller that changes its copy changes nothing else."""
    table = "${[a * w + b for a in range(w) for b in range(w)]}"
    first = evaluate(table, {"w": 3, "unrelated": 1})
    assert first == list(range(9))
    first.append("changed")
    assert evaluate(table, {"w": 3, "unrelated": 2}) == list(range(9))
    assert evaluate(table, {"w": 2}) == [0, 1, 2, 3]
    with pytest.raises(ExprError, match="integers"):  # 2.0 is not the 2 it was kept for
        evaluate("${[a * w for a in range(2)] + [range(w)]}", {"w": 2.0})


MERGING = """
inputs: {x: {shape: [N, 4, 4, 3]}}
blocks:
  Merging:
    module_order: ORDER
    layers:
      - {name: rows, op: slice, dim: 1, step: 2}
      - {name: norm, op: LayerNorm}
      - {name: reduction, op: Linear, out_features: 2, bias: false}
layers:
  - {name: merge, block: Merging}
"""


def test_module_order_sets_the_state_dict_order_not_the_run_order():
    torch = pytest.importorskip("torch")

    class Reference(torch.nn.Module):  # torchvision's PatchMerging: reduction made first
        def __init__(self):
            super().__init__()
            self.reduction = torch.nn.Linear(3, 2, bias=False)
            self.norm = torch.nn.LayerNorm(3)

        def forward(self, x):
            return self.reduction(self.norm(x[:, ::2]))

    reference = Reference()
    model = specc.build(MERGING.replace("ORDER", "[reduction, norm]"))
    assert list(model.merge.state_dict()) == list(reference.state_dict())
    assert list(specc.build(MERGING.replace("module_order: ORDER", "")).merge.state_dict()) \
        == ["norm.weight", "norm.bias", "reduction.weight"]
    model.merge.load_state_dict(reference.state_dict())
    x = torch.randn(2, 4, 4, 3)
    assert torch.equal(model(x), reference(x))


def test_chain_with_module_order_still_runs_in_order():
    """An nn.Sequential would run its children in registration order: not used then."""
    torch = pytest.importorskip("torch")
    text = MERGING.replace("ORDER", "[reduction, norm]").replace(
        "      - {name: rows, op: slice, dim: 1, step: 2}\n", "")
    model = specc.build(text)
    assert not isinstance(model.merge, torch.nn.Sequential)
    assert list(model.merge.state_dict())[0] == "reduction.weight"
    x = torch.randn(2, 4, 4, 3)
    assert torch.equal(model(x), model.merge.reduction(model.merge.norm(x)))


@pytest.mark.parametrize("order,code", [("[reduction, nope]", "E201"), ("[rows, norm]", "E201"),
                                        ("[norm, norm]", "E202")])
def test_module_order_errors_are_located_once_per_block(order, code):
    text = MERGING.replace("ORDER", order) + "  - {block: Merging}\n"
    found = diags(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "module_order" in row)
    assert [(c, row) for c, row, _ in found] == [(code, line)]
