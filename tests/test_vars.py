"""Variables from outside: --var, --vars config.json, specc.build(vars=...)."""
import json

import specc
from tests.helpers import ROOT
from tests.test_cli import run

LLAMA = str(ROOT / "specs" / "llama.yaml")
SMALL = {"vocab_size": 10, "hidden_size": 8, "intermediate_size": 5, "num_hidden_layers": 1,
         "num_attention_heads": 2, "num_key_value_heads": 1}


def test_a_config_json_sets_the_declared_vars_and_ignores_the_rest(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**SMALL, "architectures": ["LlamaForCausalLM"],
                                  "torch_dtype": "bfloat16"}))
    quiet = run("check", LLAMA, "--vars", str(config), "--format", "json")
    assert quiet.returncode == 0, quiet.stderr
    assert "ignored" not in quiet.stderr
    report = json.loads(quiet.stdout)
    assert report["files"][0]["model"]["params"] == \
        sum(n.params for n in specc.check(LLAMA, vars=SMALL).graph.nodes) == 496
    verbose = run("check", LLAMA, "--vars", str(config), "-q", "--verbose")
    assert verbose.returncode == 0
    assert "ignored vars the spec does not declare: architectures, torch_dtype" in verbose.stderr


def test_var_overrides_the_file_and_derived_vars_follow(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps(SMALL))
    result = run("check", LLAMA, "--vars", str(config), "--var", "hidden_size=16",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    graph = specc.check(LLAMA, vars={**SMALL, "hidden_size": 16}).graph
    assert graph.node("model.layers.0.self_attn").attrs["head_dim"] == 8
    assert json.loads(result.stdout)["files"][0]["model"]["params"] == \
        sum(n.params for n in graph.nodes)


def test_an_unknown_var_is_a_usage_error_with_a_suggestion():
    result = run("check", LLAMA, "--var", "hiden_size=8")
    assert result.returncode == 2
    assert "declares no var 'hiden_size'" in result.stderr
    assert "did you mean 'hidden_size'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_var_syntax_and_unreadable_files_are_usage_errors(tmp_path):
    assert run("check", LLAMA, "--var", "hidden_size").returncode == 2
    assert run("check", LLAMA, "--vars", str(tmp_path / "missing.json")).returncode == 2
    (tmp_path / "list.json").write_text("[1, 2]")
    result = run("build", LLAMA, "--vars", str(tmp_path / "list.json"))
    assert result.returncode == 2 and "mapping" in result.stderr


def test_a_bad_value_from_outside_is_a_located_diagnostic():
    analysis = specc.check(LLAMA, vars={"num_attention_heads": 3})
    assert not analysis.ok
    (d,) = [d for d in analysis.diagnostics if d.severity == "error"][:1]
    assert d.loc.line > 0 and d.code.startswith("E3")  # 4096 / 3 heads: odd head_dim
