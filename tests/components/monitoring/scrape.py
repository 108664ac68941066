"""What Prometheus would scrape: its Kubernetes pod discovery and relabelling, applied to the pods of a plan.

A pure model of the documented behaviour (prometheus.io docs, kubernetes_sd_config role pod and relabel_config):
one target per declared container port (one without a port for a container that declares none), the
`__meta_kubernetes_pod_*` labels, and the keep, drop and replace actions with fully anchored regular expressions.
Enough to check the scrape configs the stack renders against the pods it renders.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

POD_IP = "10.1.2.3"
_NON_NAME = re.compile(r"[^a-zA-Z0-9_]")


def _sanitize(name: str) -> str:
    return _NON_NAME.sub("_", name)


def pod_targets(namespace: str, template: Mapping[str, Any], node: str = "node-1") -> list[dict[str, str]]:
    """The discovered targets of one pod of `template` (a pod template: metadata and spec)."""
    meta = template.get("metadata") or {}
    name = f"{(meta.get('labels') or {}).get('app.kubernetes.io/name', 'pod')}-0"
    common = {
        "__meta_kubernetes_namespace": namespace,
        "__meta_kubernetes_pod_name": name,
        "__meta_kubernetes_pod_ip": POD_IP,
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_node_name": node,
        "__metrics_path__": "/metrics",
        "__scheme__": "http",
    }
    for key, value in (meta.get("labels") or {}).items():
        common[f"__meta_kubernetes_pod_label_{_sanitize(key)}"] = value
    for key, value in (meta.get("annotations") or {}).items():
        common[f"__meta_kubernetes_pod_annotation_{_sanitize(key)}"] = value
    spec = template["spec"]
    out = []
    for init, containers in (("true", spec.get("initContainers", [])), ("false", spec["containers"])):
        for container in containers:
            base = {**common, "__meta_kubernetes_pod_container_name": container["name"]}
            base["__meta_kubernetes_pod_container_init"] = init
            ports = container.get("ports") or []
            if not ports:
                out.append({**base, "__address__": POD_IP})
            for port in ports:
                out.append(
                    {
                        **base,
                        "__address__": f"{POD_IP}:{int(port['containerPort'])}",
                        "__meta_kubernetes_pod_container_port_name": port.get("name", ""),
                        "__meta_kubernetes_pod_container_port_number": str(int(port["containerPort"])),
                    }
                )
    return out


def relabel(labels: dict[str, str], rules: list[Mapping[str, Any]]) -> dict[str, str] | None:
    """The target's labels after `rules`, or None when a rule dropped it."""
    labels = dict(labels)
    for rule in rules:
        action = rule.get("action", "replace")
        value = rule.get("separator", ";").join(labels.get(s, "") for s in rule.get("source_labels", []))
        match = re.fullmatch(rule.get("regex", "(.*)"), value)
        if action == "keep" and not match:
            return None
        if action == "drop" and match:
            return None
        if action == "replace" and match:
            replacement = re.sub(r"\$\{?(\d+)\}?", r"\\\1", rule.get("replacement", "$1"))
            labels[rule["target_label"]] = match.expand(replacement)
        if action not in ("keep", "drop", "replace"):
            raise NotImplementedError(action)
    return labels


def scraped(job: Mapping[str, Any], namespace: str, template: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(address, metrics path) of every target `job` scrapes on one pod of `template` in `namespace`."""
    names = [sd.get("namespaces", {}).get("names") for sd in job.get("kubernetes_sd_configs", [])]
    if names and all(n is not None and namespace not in n for n in names):
        return set()
    out = set()
    for target in pod_targets(namespace, template):
        final = relabel(target, job.get("relabel_configs", []))
        if final is not None:
            out.add((final["__address__"], final["__metrics_path__"]))
    return out
