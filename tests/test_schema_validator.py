"""specc's built-in schema validator agrees with python-jsonschema (the reference
implementation) on every bundled spec, the hostile corpus and random documents."""
import json
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from specc.errors import SpecError
from specc.loader import load_yaml, unwrap
from specc.schema_validator import Validator
from tests.test_fuzz import keys, trees

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "schemas" / "specc.schema.json").read_text())
REFERENCE = jsonschema.Draft202012Validator(SCHEMA)
OURS = Validator(SCHEMA)


def _documents():
    paths = sorted((ROOT / "specs").glob("*.yaml")) + sorted(
        (ROOT / "tests" / "hostile" / "cases").glob("*.yaml"))
    for path in paths:
        try:
            yield path.name, unwrap(load_yaml(path.read_bytes()))
        except SpecError:
            continue


def _summary(errors):
    return sorted((tuple(map(str, e.absolute_path)), e.validator) for e in errors)


@pytest.mark.parametrize("name,doc", list(_documents()))
def test_same_verdict_and_errors_as_jsonschema(name, doc):
    assert OURS.is_valid(doc) == REFERENCE.is_valid(doc)
    assert _summary(OURS.iter_errors(doc)) == _summary(REFERENCE.iter_errors(doc))


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(keys, trees, max_size=6))
def test_random_documents(tree):
    doc = yaml.safe_load(yaml.safe_dump(tree))
    assert OURS.is_valid(doc) == REFERENCE.is_valid(doc)
    assert _summary(OURS.iter_errors(doc)) == _summary(REFERENCE.iter_errors(doc))
