"""The image definition: pinned base, non-root, and package pins identical to the gateway environment the
tests run in (so what the tests exercised is what the image installs)."""

from __future__ import annotations

import re

from local.envs import ROOT

WORKLOAD = ROOT / "workloads" / "moderation"


def _pins(path: str) -> dict[str, str]:
    pins = {}
    for line in (ROOT / path).read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"{path}: {line!r} is not pinned with =="
            pins[re.sub(r"[-_.]+", "-", name).lower()] = version
    return pins


def test_requirements_are_the_gateway_pins() -> None:
    ours = _pins("workloads/moderation/requirements.txt")
    gateway = _pins("local/requirements-gateway.txt")
    assert {"fastapi", "uvicorn", "httpx", "prometheus-client"} <= set(ours)
    assert {name: gateway.get(name) for name in ours} == ours


def test_dockerfile_is_pinned_and_non_root() -> None:
    dockerfile = (WORKLOAD / "Dockerfile").read_text()
    (base,) = re.findall(r"^FROM (\S+)", dockerfile, re.MULTILINE)
    assert re.fullmatch(r"python:3\.11\.\d+-slim-\w+", base), base
    assert ":latest" not in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.MULTILINE)
    assert "useradd --create-home --uid 10001" in dockerfile
    assert "-c /tmp/requirements/requirements-gateway.txt -r /tmp/requirements/requirements.txt" in dockerfile
    assert 'ENTRYPOINT ["python", "-m", "workloads.moderation"]' in dockerfile
    assert "COPY workloads/moderation/*.py /app/workloads/moderation/" in dockerfile
