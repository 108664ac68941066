"""Every stack output is documented (infra/outputs.py -> docs/outputs.md) with its real type and secrecy: the
program is run for every stack file and each exported output is checked against the table."""

from __future__ import annotations

import pytest

from infra import outputs
from infra.outputs import BY_NAME, OUTPUTS
from tests.renderkit import STACKS, run_stack


@pytest.mark.parametrize("stack", STACKS)
def test_every_exported_output_is_documented(stack):
    exported = run_stack(stack).outputs
    undocumented = sorted(set(exported) - set(BY_NAME))
    assert not undocumented, (
        f"stack {stack} exports {undocumented} with no row in infra/outputs.py OUTPUTS: add each (type, secret, "
        "what it is, a client call), then run `python -m infra.outputs --write`"
    )


def test_every_documented_output_is_exported_by_some_stack():
    exported = {name for stack in STACKS for name in run_stack(stack).outputs}
    assert sorted(set(BY_NAME) - exported) == [], "documented in infra/outputs.py but exported by no stack"


@pytest.mark.parametrize("stack", STACKS)
def test_types_and_secrecy_are_as_documented(stack):
    run = run_stack(stack)
    wrong = [
        f"{name}: {value!r} is not {BY_NAME[name].type}"
        for name, value in run.outputs.items()
        if name in BY_NAME and not outputs.output_matches(BY_NAME[name], value)
    ]
    assert wrong == []
    secret = set(run.secret_outputs)
    assert sorted(n for n in secret if n in BY_NAME and not BY_NAME[n].secret) == [], "secret but documented plain"
    plain_but_secret = [
        o.name for o in OUTPUTS if o.secret and run.outputs.get(o.name) is not None and o.name not in secret
    ]
    assert plain_but_secret == [], "documented secret but exported in plain text"


def test_the_table_has_one_row_per_output_with_an_example():
    assert len(BY_NAME) == len(OUTPUTS)
    assert all(o.description and o.example for o in OUTPUTS)


def test_docs_outputs_md_is_generated_from_the_table():
    assert outputs.DOC.read_text() == outputs.render(), "run `python -m infra.outputs --write`"
    assert all(f"| `{o.name}` |" in outputs.DOC.read_text() for o in OUTPUTS)


def test_an_unknown_type_in_the_table_is_an_error():
    with pytest.raises(ValueError, match="unknown output type 'number'"):
        outputs.value_matches("number", 1)


def test_a_secret_output_may_show_redacted_whatever_its_type_a_plain_one_may_not():
    assert outputs.output_matches(BY_NAME["clientKeys"], "[secret]")  # a map, shown redacted
    assert not outputs.output_matches(BY_NAME["dnsRecords"], "[secret]")
    assert outputs.output_matches(BY_NAME["embedding"], {"model": "m", "dimension": 384})
    assert not outputs.output_matches(BY_NAME["embedding"], "m") and outputs.output_matches(BY_NAME["reranker"], None)
