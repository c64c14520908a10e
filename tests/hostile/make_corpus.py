"""Writes the hostile-input corpus: tests/hostile/cases/*.yaml and MANIFEST.json.

    python3 tests/hostile/make_corpus.py

Every case states, here, the exit code and the diagnostic code specc must give (these are
decided by hand, not recorded from specc's output). Large cases (bombs, deep nesting, huge
files) are generated, so the corpus stays small on disk.
"""
from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES = HERE / "cases"
OK = "inputs: {x: {shape: [N, 4]}}\nlayers:\n  - {op: Linear, out_features: 2}\n"
PWNED = "/tmp/specc-pwned"  # no case may ever create this file


def layers(body: str, inputs: str = "x: {shape: [N, 4]}") -> str:
    return f"inputs: {{{inputs}}}\nlayers:\n{body}"


def build() -> dict[str, tuple[bytes | str, int, str | None]]:
    c: dict[str, tuple] = {}

    # --- invalid YAML of every kind -------------------------------------------------
    syntax = {
        "unclosed_flow_seq": "layers: [Linear\n",
        "unclosed_flow_map": "inputs: {x: {shape: [N, 4]}\n",
        "bad_indent": "inputs:\n  x: {shape: [N, 4]}\n layers: []\n",
        "tab_indent": "inputs:\n\tx: {shape: [N, 4]}\n",
        "unterminated_string": 'name: "abc\nlayers: []\n',
        "unterminated_single": "name: 'abc\nlayers: []\n",
        "colon_in_plain_key": "inputs: x: y: z\n",
        "bad_escape": 'name: "\\q"\n',
        "stray_closing": "layers: ]\n",
        "mapping_in_sequence_bad": "layers:\n  - a: 1\n   b: 2\n",
        "undefined_alias": "inputs: *missing\n",
        "self_alias": "a: &a [*a]\n",
        "self_alias_map": "a: &x {b: *x}\n",
        "complex_key": "? [a, b]\n: 1\n",
        "map_key": "{a: 1}: 2\n",
        "directive_garbage": "%YAML 9.9\n---\na: 1\n",
        "bad_block_scalar": "name: |\n x\n  y\n-\n",
        "anchor_no_node": "a: &\n",
        "double_dash_seq": "layers:\n  - - - [\n",
    }
    for name, text in syntax.items():
        c[f"yaml_{name}"] = (text, 1, "E001")
    c["yaml_null_keys_twice"] = ("?\n?\n: [\n", 1, "E104")
    c["yaml_null_key"] = ("?", 1, "E104")
    c["yaml_int_key"] = ("1: a\n" + OK, 1, "E104")
    c["yaml_two_documents"] = (OK + "---\n" + OK, 1, "E007")
    c["yaml_duplicate_key_top"] = (OK + "inputs: {y: {shape: [1]}}\n", 1, "E002")
    c["yaml_duplicate_key_node"] = (layers("  - {op: Linear, out_features: 2, out_features: 3}\n"),
                                    1, "E002")
    c["yaml_duplicate_key_block"] = ("blocks:\n  B: {layers: []}\n  B: {layers: []}\n" + OK, 1,
                                     "E002")

    # --- empty, binary, encodings -----------------------------------------------------
    c["empty_file"] = ("", 1, "E006")
    c["empty_whitespace"] = ("   \n\n  \n", 1, "E006")
    c["empty_comment_only"] = ("# nothing here\n", 1, "E006")
    c["null_document"] = ("~\n", 1, "E101")
    c["top_level_list"] = ("- 1\n- 2\n", 1, "E101")
    c["top_level_scalar"] = ("hello\n", 1, "E101")
    c["top_level_int"] = ("42\n", 1, "E101")
    rng = random.Random(7)
    for i in range(4):
        c[f"binary_garbage_{i}"] = (bytes(rng.randrange(256) for _ in range(512)), 1, "E005")
    c["binary_nul_in_text"] = (OK.encode() + b"\x00\x01", 1, "E005")
    c["latin1_bytes"] = ("name: caf\xe9\n" + OK).encode("latin-1"), 1, "E005"
    c["utf8_bom_valid"] = ("\ufeff" + OK).encode("utf-8"), 0, None
    c["utf16_le_bom_valid"] = ("\ufeff" + OK).encode("utf-16-le"), 0, None
    c["utf16_be_bom_valid"] = ("\ufeff" + OK).encode("utf-16-be"), 0, None
    c["utf16_no_bom"] = OK.encode("utf-16-le"), 1, "E005"
    c["control_char"] = (OK.replace("Linear", "Lin\x07ear"), 1, "E005")
    c["utf8_truncated"] = (OK.encode() + "é".encode()[:1], 1, "E005")

    # --- tags: nothing is ever constructed ------------------------------------------------
    tags = {
        "python_apply": f'!!python/object/apply:os.system ["touch {PWNED}"]',
        "python_object": "!!python/object:os.system {}",
        "python_name": "!!python/name:os.system",
        "python_module": "!!python/module:os",
        "python_new": f'!!python/object/new:subprocess.Popen [["touch", "{PWNED}"]]',
        "custom_local": "!mytag {a: 1}",
        "binary": "!!binary aGVsbG8=",
        "set": "!!set {a, b}",
        "omap": "!!omap [a: 1]",
        "timestamp": "!!timestamp 2001-12-14",
        "verbatim": f'!<tag:yaml.org,2002:python/object/apply:os.system> ["touch {PWNED}"]',
    }
    for name, tag in tags.items():
        c[f"tag_{name}"] = (f"name: {tag}\n" + OK, 1, "E003")
    c["tag_on_layer"] = (layers(f'  - !!python/object/apply:os.system ["touch {PWNED}"]\n'), 1,
                         "E003")
    c["tag_on_key"] = (f'!!python/object/apply:os.system ["touch {PWNED}"]: 1\n' + OK, 1, "E003")

    # --- aliases and depth ----------------------------------------------------------------
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        bomb.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    c["alias_bomb_billion_laughs"] = ("\n".join(bomb) + "\n" + OK, 2, "E004")
    c["alias_bomb_in_layers"] = ("\n".join(bomb) + "\ninputs: {x: {shape: [N, 4]}}\n"
                                 "layers: *a9\n", 2, "E004")
    wide = "w: &w [" + ", ".join(["1"] * 1000) + "]\nv: &v [" + ", ".join(["*w"] * 1000) + "]\n"
    c["alias_bomb_wide"] = (wide + OK, 2, "E004")
    c["nesting_10000_seq"] = ("a: " + "[" * 10000 + "]" * 10000 + "\n" + OK, 2, "E004")
    c["nesting_10000_map"] = ("a: " + "{a: " * 10000 + "1" + "}" * 10000 + "\n" + OK, 2, "E004")
    deep_block = "a:\n" + "".join("  " * (i + 1) + "- \n" for i in range(300))
    c["nesting_block_300"] = (deep_block + OK, 2, "E004")
    c["layers_100000"] = ("inputs: {x: {shape: [N, 4]}}\nlayers:\n" + "  - Identity\n" * 100000,
                          2, "E004")
    c["file_over_limit"] = ("# " + "x" * 6_000_000 + "\n" + OK, 2, "E004")

    # --- numbers --------------------------------------------------------------------------
    c["huge_int_literal"] = (layers("  - {op: Linear, out_features: 1000000000000000000000000000000000}\n"),
                             2, "E004")
    c["float_1e308_size"] = (layers("  - {op: Linear, out_features: 1e308}\n"), 1, "E104")
    c["float_overflow_literal"] = (layers("  - {op: Dropout, p: 1e999}\n"), 2, "E004")
    c["nan_value"] = (layers("  - {op: Dropout, p: .nan}\n"), 2, "E004")
    c["inf_value"] = (layers("  - {op: Linear, out_features: .inf}\n"), 2, "E004")
    c["negative_size"] = (layers("  - {op: Linear, out_features: -5}\n"), 1, "E104")
    c["zero_size"] = (layers("  - {op: Linear, out_features: 0}\n"), 1, "E104")
    c["negative_kernel"] = (layers("  - {op: Conv2d, out_channels: 2, kernel_size: -3}\n",
                                   "x: {shape: [N, 1, 8, 8]}"), 1, "E104")
    c["negative_input_dim"] = ("inputs: {x: {shape: [N, -4]}}\nlayers: [Identity]\n", 1, "E104")
    c["absurd_input_dim"] = ("inputs: {x: {shape: [N, 10000000000000]}}\nlayers: [Identity]\n",
                             2, "E004")
    c["absurd_output_dim"] = (layers("  - {op: Upsample, scale_factor: 1000000000000}\n",
                                     "x: {shape: [N, 1, 8]}"), 2, "E004")
    c["float_size"] = (layers("  - {op: Linear, out_features: 2.5}\n"), 1, "E104")
    c["bool_size"] = (layers("  - {op: Linear, out_features: true}\n"), 1, "E104")
    c["string_size"] = (layers("  - {op: Linear, out_features: ten}\n"), 1, "E104")
    c["yaml11_octal_is_decimal"] = (layers("  - {op: Linear, out_features: 010}\n"), 0, None)
    c["yaml11_no_is_string"] = (layers("  - {op: Linear, out_features: 2, bias: no}\n"), 1, "E104")
    c["yaml11_sexagesimal"] = (layers("  - {op: Linear, out_features: 1:30}\n"), 1, "E104")
    c["yaml12_float_exponent"] = (layers("  - {op: Dropout, p: 1e-1}\n  - {op: Linear, out_features: 2}\n"),
                                  0, None)

    # --- names ----------------------------------------------------------------------------
    for bad in ("__class__", "__init__", "forward", "training",
                "state_dict", "cuda", "to", "parameters", "type"):
        c[f"name_reserved_{bad}"] = (layers(f"  - {{name: {bad}, op: Linear, out_features: 2}}\n"),
                                     1, "E203")
    # issue 13: BERT's attention.self — these shadow nothing, the generated code renames its
    # own locals; they build like any name. Issue 12: a module name is any attribute name
    # torch's add_module takes (keywords, digits first, spaces, '-', code-like text: the
    # generated code reaches them with getattr and a string literal)
    for fine in ("self", "torch", "nn", "class", "def", "lambda"):
        c[f"name_allowed_{fine}"] = (layers(f"  - {{name: {fine}, op: Linear, out_features: 2}}\n"),
                                     0, None)
    for label, fine in (("unicode", "'çonv'"), ("emoji", "'🔥'"), ("space", "'a b'"),
                        ("dash", "'-ab'"), ("digit_start", "'1abc'"),
                        ("injection", "'x(); import os'"), ("quotes", '"a\\"\'\'\'b"'),
                        ("triple_quotes", "'\"\"\"; import os; os_system(1) #'")):
        c[f"name_{label}"] = (layers(f"  - {{name: {fine}, op: Linear, out_features: 2}}\n"),
                              0, None)
    # what collides with spec syntax ('.': module paths; '$': expressions) or cannot be seen
    # (controls, bidi overrides, zero-width): refused
    for label, bad in (("dot", "'a.b'"), ("empty", "''"), ("dollar", "\"${'a$'}\""),
                       ("newline", '"a\\nb"'), ("nul", '"a\\0b"'), ("c1", '"a\\x85b"'),
                       ("bidi", '"a\\u202eb"'), ("zero_width", '"a\\u200bb"')):
        c[f"name_{label}"] = (layers(f"  - {{name: {bad}, op: Linear, out_features: 2}}\n"),
                              1, "E203")
    # a module name may hold '-' as torch allows (torchvision's RegNet: block1-0), an input
    # name (a Python parameter) may not
    c["name_input_dash"] = ("inputs: {a-b: {shape: [N, 4]}}\nlayers: [Identity]\n", 1, "E203")
    c["name_input_reserved"] = ("inputs: {forward: {shape: [N, 4]}}\nlayers: [Identity]\n", 1,
                                "E203")
    c["name_duplicate"] = (layers("  - {name: a, op: Linear, out_features: 2}\n"
                                  "  - {name: a, op: ReLU}\n"), 1, "E202")
    c["name_model_injection"] = ('name: "x\\"\\"\\"; import os; os.system(\'touch '
                                 f'{PWNED}\'); \\"\\"\\""\n' + OK, 0, None)

    # --- blocks, references ----------------------------------------------------------------
    c["block_recursive"] = ("blocks:\n  B: {layers: [{block: B}]}\n" + layers("  - {block: B}\n"),
                            1, "E206")
    c["block_mutual_recursion"] = ("blocks:\n  A: {layers: [{block: B}]}\n  B: {layers: [{block: A}]}\n"
                                   + layers("  - {block: A}\n"), 1, "E206")
    c["block_recursive_repeat"] = ("blocks:\n  B: {layers: [{block: B, repeat: 1000}]}\n"
                                   + layers("  - {block: B}\n"), 1, "E206")
    c["block_defined_after_use"] = (layers("  - {block: Late}\n") +
                                    "blocks:\n  Late: {layers: [{op: Linear, out_features: 2}]}\n",
                                    0, None)
    c["block_unknown"] = (layers("  - {block: Nope}\n"), 1, "E204")
    c["block_missing_param"] = ("blocks:\n  B: {params: {n: null}, layers: [{op: Linear, out_features: $n}]}\n"
                                + layers("  - {block: B}\n"), 1, "E205")
    c["block_unknown_param"] = ("blocks:\n  B: {layers: [Identity]}\n"
                                + layers("  - {block: B, size: 3}\n"), 1, "E205")
    c["ref_dangling"] = (layers("  - {op: Linear, from: nowhere, out_features: 2}\n"), 1, "E201")
    c["ref_cycle_forward"] = (layers("  - {name: a, op: Linear, from: b, out_features: 4}\n"
                                     "  - {name: b, op: Linear, from: a, out_features: 4}\n"), 1, "E201")
    c["ref_self"] = (layers("  - {name: a, op: Linear, from: a, out_features: 4}\n"), 1, "E201")
    c["ref_bad_output_name"] = (layers("  - {name: l, op: LSTM, hidden_size: 4}\n"
                                       "  - {op: Identity, from: l.h_x}\n",
                                       "x: {shape: [T, N, 4]}"), 1, "E209")
    c["outputs_dangling"] = (OK + "outputs: [ghost]\n", 1, "E201")
    # `training_only` (aux heads): values that do not exist in eval must not reach it
    aux = "  - {name: aux, op: Linear, out_features: 4, training_only: true}\n"
    c["training_only_read_in_eval"] = (layers(aux + "  - {op: add, from: [x, aux]}\n"), 1, "E210")
    c["training_only_every_output"] = (layers(aux) + "outputs: [aux]\n", 1, "E210")
    c["training_only_block_output"] = (
        "blocks:\n  B:\n    layers:\n" + aux.replace("  -", "      -") + "    output: aux\n"
        + layers("  - {block: B}\n  - {op: Linear, out_features: 2}\n"), 1, "E210")
    c["training_only_code"] = (layers("  - {op: Linear, out_features: 2, training_only: "
                                      "\"__import__('os').system('touch " + PWNED + "')\"}\n"),
                               1, "E104")
    c["training_only_expression_bomb"] = (layers("  - {op: Linear, out_features: 2, "
                                                 "training_only: \"${9 ** 9 ** 9 ** 9}\"}\n"),
                                          1, "E207")
    c["no_inputs"] = ("layers: [Identity]\n", 1, "E105")

    # --- expressions ---------------------------------------------------------------------
    exprs = {
        "overflow_pow": "${10 ** 100}",
        "overflow_tower": "${9 ** 9 ** 9 ** 9}",
        "overflow_mul": "${2**62 * 2**62 * 2**62}",
        "div_zero": "${1 // 0}",
        "mod_zero": "${1 % 0}",
        "import": "${__import__('os').system('touch " + PWNED + "')}",
        "attribute": "${(1).__class__}",
        "subscript": "${[1, 2][5]}",  # indexing is allowed (${hidden_dims[i]}); out of range is not
        "lambda": "${(lambda: 1)()}",
        "comprehension": "${[x for x in range(10**9)]}",
        "call_unknown": "${open('/etc/passwd')}",
        "unknown_var": "${nope + 1}",
        "syntax": "${1 +* 2}",
        "walrus": "${(x := 3)}",
        "fstring": "${f'{1}'}",
        "deep_parens": "${" + "(" * 400 + "1" + ")" * 400 + "}",
        "long": "${" + "1+" * 600 + "1}",
        "string_arith": "${'a' * 10**9}",
        "float_inf": "${1e308 * 10}",
    }
    for name, expr in exprs.items():
        c[f"expr_{name}"] = (layers(f'  - {{op: Linear, out_features: "{expr}"}}\n'), 1, "E207")
    c["expr_result_wrong_type"] = (layers('  - {op: Linear, out_features: "${1 / 2}"}\n'), 1, "E104")
    c["repeat_1e9"] = (layers("  - {op: Identity, repeat: 1000000000}\n"), 2, "E004")
    c["repeat_1e9_named"] = (layers("  - {name: r, op: Identity, repeat: 1000000000}\n"), 2, "E004")
    c["repeat_expr_huge"] = (layers('  - {name: r, op: Identity, repeat: "${10**9}"}\n'), 2, "E004")
    c["repeat_negative"] = (layers("  - {name: r, op: Identity, repeat: -1}\n"), 1, "E104")
    c["repeat_nested_product"] = ("blocks:\n  B: {layers: [{name: r, op: Identity, repeat: 10000}]}\n"
                                  + layers("  - {name: s, block: B, repeat: 10000}\n"), 2, "E004")

    # --- schema-level mistakes -----------------------------------------------------------------
    c["unknown_op"] = (layers("  - {op: Linaer, out_features: 2}\n"), 1, "E102")
    c["unknown_op_bare"] = (layers("  - Relu\n"), 1, "E102")
    c["unknown_param"] = (layers("  - {op: Linear, out_feature: 2}\n"), 1, "E103")
    c["unknown_top_key"] = (OK + "layer: []\n", 1, "E103")
    c["merge_key_valid"] = ("x-base: &b {op: Linear, out_features: 2}\n" + layers("  - {<<: *b}\n"),
                            0, None)
    c["merge_key_not_mapping"] = (layers("  - {<<: 3, op: ReLU}\n"), 1, "E001")
    c["top_key_not_x_prefixed"] = ("base: &b {op: Linear, out_features: 2}\n" + OK, 1, "E103")
    c["missing_required_param"] = (layers("  - {op: Linear}\n"), 1, "E105")
    c["node_op_and_block"] = (layers("  - {op: Linear, block: B, out_features: 2}\n"), 1, "E101")
    c["node_not_mapping"] = (layers("  - 42\n"), 1, "E101")
    c["layers_not_list"] = ("inputs: {x: {shape: [N, 4]}}\nlayers: {a: 1}\n", 1, "E104")
    c["inputs_not_mapping"] = ("inputs: [x]\nlayers: [Identity]\n", 1, "E104")
    c["wrong_choice"] = (layers("  - {op: Conv1d, out_channels: 2, kernel_size: 3, padding_mode: mirror}\n",
                                "x: {shape: [N, 1, 8]}"), 1, "E104")
    c["wrong_dtype"] = ("inputs: {x: {shape: [N, 4], dtype: float128}}\nlayers: [Identity]\n", 1,
                        "E104")

    # --- shape mistakes ----------------------------------------------------------------------
    c["shape_channels"] = (layers("  - {op: Conv2d, in_channels: 4, out_channels: 2, kernel_size: 3}\n",
                                  "x: {shape: [N, 3, 8, 8]}"), 1, "E302")
    c["shape_linear_after_flatten"] = (layers("  - {op: flatten, start_dim: 1}\n"
                                              "  - {op: Linear, in_features: 100, out_features: 2}\n",
                                              "x: {shape: [N, 3, 8, 8]}"), 1, "E302")
    c["shape_add_mismatch"] = (layers("  - {name: a, op: Linear, out_features: 3}\n"
                                      "  - {op: add, from: [a, x]}\n"), 1, "E301")
    c["shape_cat_mismatch"] = (layers("  - {name: a, op: Linear, out_features: 3}\n"
                                      "  - {op: cat, from: [a, x], dim: 0}\n"), 1, "E301")
    c["shape_to_zero"] = (layers("  - {op: MaxPool2d, kernel_size: 2}\n" * 5,
                                 "x: {shape: [N, 1, 8, 8]}"), 1, "E303")
    c["shape_kernel_too_big"] = (layers("  - {op: Conv2d, out_channels: 2, kernel_size: 9}\n",
                                        "x: {shape: [N, 1, 8, 8]}"), 1, "E303")
    c["shape_symbolic_linear"] = (layers("  - {op: flatten, start_dim: 1}\n"
                                         "  - {op: Linear, out_features: 2}\n",
                                         "x: {shape: [N, 3, H, W]}"), 1, "E304")
    c["shape_rank"] = (layers("  - {op: Conv2d, out_channels: 2, kernel_size: 1}\n"), 1, "E301")
    c["shape_wrong_arity"] = (layers("  - {op: matmul}\n"), 1, "E307")
    c["dtype_float_embedding"] = (layers("  - {op: Embedding, num_embeddings: 5, embedding_dim: 2}\n"),
                                  1, "L106")
    c["dtype_int_into_linear"] = (layers("  - {op: Linear, out_features: 2}\n",
                                         "x: {shape: [N, 4], dtype: int64}"), 1, "E305")
    add_round_2(c)
    add_includes(c)
    return c


# Files the include cases read: cases/include/ (not cases themselves: the tests glob
# cases/*.yaml). A str is a file's text; a Path a symbolic link to that target.
INC = "x: {shape: [N, 4]}"
SUPPORT: dict[str, str | Path] = {
    "include/ok.yaml": "blocks:\n  Lin: {layers: [{op: Linear, out_features: 4}]}\n",
    "include/escape.yaml": Path("../../make_corpus.py"),  # a link out of the folder
    "include/cycle_a.yaml": "include: [cycle_b.yaml]\nblocks: {}\n",
    "include/cycle_b.yaml": "include: [cycle_a.yaml]\nblocks: {}\n",
    "include/model.yaml": OK,  # a whole spec: `inputs`/`layers` do not belong in an include
    "include/tagged.yaml": f'blocks: !!python/object/apply:os.system ["touch {PWNED}"]\n',
    "include/bomb.yaml": "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{b}: &{b} [*{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}, *{a}]\n"
        for a, b in zip("abcdefgh", "bcdefghi")) + "blocks: {}\n",
    "include/bad.yaml": "blocks: {Lin: {layers: [Linear}\n",
    "include/lin_again.yaml": "blocks:\n  Lin: {layers: [ReLU]}\n",
    "include/deep_0.yaml": "include: [deep/deep_1.yaml]\n",
    **{f"include/{'deep/' * i}deep_{i}.yaml": f"include: [deep/deep_{i + 1}.yaml]\n"
       for i in range(1, 30)},
}


def add_includes(c: dict) -> None:
    """Issue 13: `include:` stays in the spec's folder, bounded, acyclic, located."""
    def spec(entries: str) -> str:
        return f"include: {entries}\ninputs: {{{INC}}}\nlayers:\n  - {{block: Lin}}\n"

    c["include_ok"] = (spec("[include/ok.yaml, ./include/ok.yaml]"), 0, None)
    c["include_absolute"] = (spec("[/etc/passwd.yaml]"), 1, "E008")
    c["include_dev_zero"] = (spec("[/dev/zero]"), 1, "E008")
    c["include_dotdot"] = (spec("[include/../../make_corpus.yaml]"), 1, "E008")
    c["include_symlink_escape"] = (spec("[include/escape.yaml]"), 1, "E008")
    c["include_missing"] = (spec("[include/missing.yaml]"), 1, "E008")
    c["include_not_a_path"] = (spec("{a: 1}"), 1, "E008")
    c["include_nul_byte"] = (spec('["include/ok\\0.yaml"]'), 1, "E008")
    c["include_long_name"] = (spec("[" + "a" * 5000 + ".yaml]"), 1, "E008")
    c["include_self"] = (spec("[include_self.yaml]"), 1, "E008")
    c["include_cycle"] = (spec("[include/cycle_a.yaml]"), 1, "E008")
    c["include_a_model"] = (spec("[include/model.yaml]"), 1, "E008")
    c["include_block_twice"] = (spec("[include/ok.yaml, include/lin_again.yaml]"), 1, "E008")
    c["include_tag"] = (spec("[include/tagged.yaml]"), 1, "E003")
    c["include_bad_yaml"] = (spec("[include/bad.yaml]"), 1, "E001")
    c["include_alias_bomb"] = (spec("[include/bomb.yaml]"), 2, "E004")
    c["include_too_deep"] = (spec("[include/deep_0.yaml]"), 2, "E004")
    c["include_too_many"] = (spec("[" + ", ".join(["include/ok.yaml"] * 1000) + "]"), 2,
                             "E004")


def add_round_2(c: dict) -> None:
    """Issue 14: budgets of the evaluator and of symbolic sizes, count bounds, escapes."""
    # the evaluator bounds the size of every value before computing it
    c["expr_round_huge_digits"] = ('vars: {a: "${round(3, -10**17)}"}\n' + OK, 1, "E207")
    doubling = "".join(f'  v{i}: "${{v{i - 1} * 2}}"\n' for i in range(1, 40))
    c["expr_list_doubling_vars"] = ('vars:\n  v0: "${[1, 2, 3, 4]}"\n' + doubling + OK, 1,
                                    "E207")
    text = "".join(f'  v{i}: "${{v{i - 1}}}${{v{i - 1}}}"\n' for i in range(1, 40))
    c["expr_text_doubling_vars"] = ('vars:\n  v0: "abcdefgh"\n' + text + OK, 1, "E207")
    c["expr_list_times_huge"] = ('vars: {a: "${[0] * 10**12}"}\n' + OK, 1, "E207")
    c["expr_neg_none"] = ('vars: {a: "${-None}"}\n' + OK, 1, "E207")
    c["expr_neg_list"] = (layers('  - {op: Linear, out_features: "${-[2]}"}\n'), 1, "E207")
    c["expr_complex_power"] = (layers('  - {op: Dropout, p: "${(-8) ** 0.5}"}\n'), 1, "E207")
    c["expr_pow_2_33_like_literal"] = (layers('  - {op: Linear, out_features: "${2**33}"}\n',
                                              "x: {shape: [N, 1]}"), 0, None)
    # symbolic sizes that grow like Fibonacci through pool/cat chains
    chain = "  - {name: a0, op: Identity}\n" + "".join(
        f"  - {{name: p{i}, op: MaxPool1d, kernel_size: 3, stride: 2, from: a{i - 1}}}\n"
        f"  - {{name: a{i}, op: cat, dim: 2, from: [p{i}, a{i - 1}]}}\n" for i in range(1, 36))
    c["sym_fibonacci_atoms"] = (layers(chain, "x: {shape: [N, 2, H]}"), 2, "E004")
    # counts past max_count
    c["count_params_huge"] = (layers("  - {op: Linear, out_features: 1000000000000}\n",
                                     "x: {shape: [N, 1000000000]}"), 2, "E004")
    c["count_numel_huge"] = ("inputs: {x: {shape: [1099511627776, 1099511627776, "
                             "1099511627776]}}\nlayers: [ReLU]\n", 2, "E004")
    c["count_macs_huge"] = (layers("  - {op: Linear, out_features: 1000000}\n",
                                   "x: {shape: [N, 1000000000000, 1000000]}"), 2, "E004")
    # text that must reach no terminal and no Graphviz as syntax
    c["term_escape_in_names"] = ('name: "x\\e]52;c;aGVsbG8=\\a\\e[2J"\n'
                                 + layers('  - {op: "Lin\\e[8mear", out_features: 2}\n'),
                                 1, "E102")
    c["dot_html_id_name"] = ("name: '<<TABLE><TR><TD HREF=\"javascript:alert(1)\">x</TD></TR>"
                             "</TABLE>>'\n" + OK, 0, None)
    # expansion budgets: nesting the recursive stages survive, every step counted
    nest, indent = "", "  "
    for i in range(52):
        nest += f"{indent}- name: s{i}\n{indent}  layers:\n"
        indent += "    "
    c["nesting_52_sequences"] = (layers(nest + f"{indent}- ReLU\n"), 2, "E004")
    inline = "".join(f"  b{i}: {{layers: [{{block: b{i + 1}, inline: true}}]}}\n"
                     for i in range(90)) + "  b90: {layers: [ReLU]}\n"
    c["nesting_inline_blocks_90"] = ("inputs: {x: {shape: [N, 4]}}\nblocks:\n" + inline
                                     + "layers:\n  - {block: b0, inline: true}\n", 2, "E004")
    c["expansion_empty_repeats"] = ("inputs: {x: {shape: [N, 4]}}\nblocks:\n  E: {layers: []}\n"
                                    "  R: {layers: [{block: E, inline: true, repeat: 10000}]}\n"
                                    "layers:\n  - {block: R, inline: true, repeat: 10000}\n"
                                    "  - ReLU\n", 2, "E004")
    c["expansion_disabled_repeats"] = (layers("  - {name: r, repeat: 10000, layers: [{repeat: "
                                              "10000, op: ReLU, if: '${i < 0}'}]}\n"), 2, "E004")
    # what torch rejects is refused by check
    c["ops_kernel_one_element_list"] = (layers("  - {op: Conv2d, out_channels: 2, "
                                               "kernel_size: [3]}\n", "x: {shape: [N, 1, 8, 8]}"),
                                        1, "E306")
    c["ops_hardtanh_min_above_max"] = (layers("  - {op: Hardtanh, min_val: 2, max_val: 1}\n"),
                                       1, "E306")
    c["ops_layernorm_symbolic_last"] = (layers("  - LayerNorm\n", "x: {shape: [N, T]}"), 1,
                                        "E304")
    c["ops_zero_dim_into_cat"] = (layers("  - {name: r, op: mean}\n  - {op: cat, from: [r, r]}\n"),
                                  1, "E301")
    c["ops_names_nfkc_collide"] = (layers("  - {op: chunk, chunks: 2, dim: 1, names: ['ｐ', p]}\n"),
                                   1, "E104")
    c["ops_chunk_names_count"] = (layers("  - {op: chunk, chunks: 1, dim: 1, names: [a, b, c]}\n"),
                                  1, "E301")
    c["ops_softshrink_negative"] = (layers("  - {op: Softshrink, lambd: -1.0}\n"), 1, "E104")
    c["ops_batchnorm_negative_eps"] = (layers("  - {op: BatchNorm1d, eps: -1.0}\n"), 1, "E104")
    c["ops_glu_symbolic_half"] = (layers("  - {op: GLU, dim: 0}\n"), 1, "E304")
    c["dot_backslash_name"] = ("name: 'a\\\\N\\\\G\\\\'\n" + OK, 0, None)


def main() -> None:
    if CASES.exists():
        shutil.rmtree(CASES)
    CASES.mkdir()
    manifest = {}
    for name, (content, exit_code, code) in sorted(build().items()):
        if name in ("layers_100000", "file_over_limit", "nesting_10000_seq", "nesting_10000_map",
                    "alias_bomb_wide"):
            manifest[name] = {"exit": exit_code, "code": code, "generated": True}
            continue  # big: the test generates these on the fly
        data = content.encode("utf-8") if isinstance(content, str) else content
        (CASES / f"{name}.yaml").write_bytes(data)
        manifest[name] = {"exit": exit_code, "code": code}
    for relative, content in SUPPORT.items():
        target = CASES / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, Path):
            target.symlink_to(content)
        else:
            target.write_text(content)
    (HERE / "MANIFEST.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    print(f"{len(manifest)} cases")


if __name__ == "__main__":
    main()
