"""Preflight for monitoring: autoscaling and dashboards need a Prometheus, the user's needs its URL, and each key is
used by the provider it belongs to. Every rule passes on a good config and fails with the key and the fix."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks.config import StackConfig
from stacks.load import parse
from stacks.monitoring import prometheus_provider
from stacks.preflight import PreflightError

BASE: dict[str, Any] = {
    "cloud": "existing",
    "cluster": {"systemPool": {"name": "system", "instanceType": "kind-node"}},
    "serving": {"cpuTier": {"enabled": True}},
}
YOURS = "http://prometheus-operated.monitoring.svc:9090"


def problems(monitoring: dict[str, Any] | None = None, autoscaling: bool = False) -> dict[str, str]:
    raw = copy.deepcopy(BASE)
    if monitoring is not None:
        raw["monitoring"] = monitoring
    if autoscaling:
        raw["serving"]["autoscaling"] = {"enabled": True}
    try:
        parse(raw)
    except PreflightError as e:
        return {p.path: f"{p.message} | {p.fix}" for p in e.problems}
    return {}


def provider(**monitoring: Any) -> str:
    raw = copy.deepcopy(BASE)
    raw["monitoring"] = monitoring
    return prometheus_provider(StackConfig.model_validate(raw))


def test_unset_provider_installs_when_something_needs_metrics():
    assert provider() == "install"  # dashboards are on by default
    assert provider(dashboards=False) == "none"
    assert provider(prometheus={"provider": "external", "url": YOURS}) == "external"


@pytest.mark.parametrize(
    "monitoring,autoscaling",
    [
        (None, True),
        ({"prometheus": {"provider": "install", "storageGb": 5, "retention": "72h"}}, True),
        ({"prometheus": {"provider": "external", "url": YOURS}}, True),
        ({"prometheus": {"provider": "operator", "url": YOURS, "podMonitorLabels": {"release": "kps"}}}, True),
        ({"prometheus": {"provider": "none"}, "dashboards": False}, False),
    ],
)
def test_consistent_configs_pass(monitoring, autoscaling):
    assert problems(monitoring, autoscaling) == {}


def test_autoscaling_without_prometheus_is_refused():
    found = problems({"prometheus": {"provider": "none"}, "dashboards": False}, autoscaling=True)
    assert set(found) == {"monitoring.prometheus.provider"}
    assert "KEDA's triggers query it" in found["monitoring.prometheus.provider"]
    assert "set provider: external or operator with url" in found["monitoring.prometheus.provider"]


def test_dashboards_without_prometheus_are_refused():
    found = problems({"prometheus": {"provider": "none"}})
    assert set(found) == {"monitoring.dashboards"}
    assert "set monitoring.dashboards: false" in found["monitoring.dashboards"]


@pytest.mark.parametrize("kind", ["external", "operator"])
def test_your_prometheus_needs_its_url(kind):
    found = problems({"prometheus": {"provider": kind}}, autoscaling=True)
    assert set(found) == {"monitoring.prometheus.url"}
    assert f"provider {kind} uses your Prometheus" in found["monitoring.prometheus.url"]


def test_keys_of_another_provider_are_refused_all_at_once():
    found = problems({"prometheus": {"url": YOURS, "podMonitorLabels": {"release": "kps"}}})
    assert set(found) == {"monitoring.prometheus.url", "monitoring.prometheus.podMonitorLabels"}
    assert "with install it would be ignored" in found["monitoring.prometheus.url"]


def test_bad_values_name_their_key():
    found = problems({"prometheus": {"retention": "two weeks", "url": "prometheus:9090", "resources": {"cpu": "lots"}}})
    assert "monitoring.prometheus.retention" in found and "15d or 72h" in found["monitoring.prometheus.retention"]
    assert "monitoring.prometheus.url" in found and "not an http(s) URL" in found["monitoring.prometheus.url"]
    assert problems({"prometheus": {"resources": {"cpu": "lots", "memory": "1Gi"}}}) == {
        "monitoring.prometheus.resources.cpu": "'lots' is not a CPU quantity | use cores or millicores, e.g. 2 or 500m"
    }


@pytest.mark.parametrize(
    "serving",
    [
        {"monitoring": {"serviceMonitor": True}},
        {"grafanaDashboard": False},
        {"autoscaling": {"enabled": True, "prometheusUrl": YOURS}},
    ],
)
def test_keys_that_moved_to_monitoring_say_where(serving):
    raw = copy.deepcopy(BASE)
    raw["serving"].update(serving)
    with pytest.raises(PreflightError, match=r"moved to leanrag:monitoring"):
        parse(raw)
