"""No generated secret (the mock value of every RandomPassword) appears in plain text anywhere: not in a
Kubernetes object outside a Secret's (secret-marked) data, not in Helm values, not in stack outputs."""

from __future__ import annotations

import pytest

from tests import renderkit as rk
from tests.renderkit import STACKS, run_stack


@pytest.mark.parametrize("stack", STACKS)
def test_generated_secrets_never_appear_in_plain_text(stack):
    run = run_stack(stack)
    assert len(rk.generated_secrets(run)) >= 4  # Milvus root + MinIO keys + Redis (+ app, gateway)
    assert rk.plaintext_leaks(run) == []


def test_the_scan_finds_a_leak_when_there_is_one():
    run = run_stack("dev")
    name, value = next(iter(rk.generated_secrets(run).items()))
    config_map = next(r for r in run.resources if r.type == "kubernetes:core/v1:ConfigMap")
    leaky = type(run)(resources=[*run.resources], outputs={**run.outputs, "oops": f"x{value}x"})
    assert rk.plaintext_leaks(leaky) == [f"stack outputs hold {name}"]
    original = config_map.inputs
    try:
        config_map.inputs = {**original, "data": {"k": value}}
        assert rk.plaintext_leaks(run) == [f"{config_map.type} {config_map.name} holds {name}"]
    finally:
        config_map.inputs = original
