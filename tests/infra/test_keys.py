"""`leanrag keys list|revoke|restore`: against a stand-in kubectl (tests/infra/fake_kubectl.py; no cluster exists
here) seeded with the ConfigMaps the prod stack renders under the SDK's mocks. The end-to-end part: the
revocations the CLI patched in are laid out as the kubelet mounts them and read by the real key check
(`leanrag_keys.KeyRing.check`, what the gateway's `litellm_auth` and the app's sidecar call), which refuses the
revoked key and accepts it again after `restore`. Errors are one line with the fix; the real kubectl (when
installed) gives the unreachable-cluster case."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from components.app import leanrag_keys
from infra import cli
from infra.mocks import mock_secret
from local.envs import ensure_venv
from local.process import free_port
from local.services import start_redis, start_tiny_upstream
from tests import renderkit as rk
from tests.components.app.test_client_keys_servers import (
    MASTER,
    WAIT_S,
    call,
    configmap_dir,
    start_key_checking_gateway,
)
from tests.infra.test_cli import one_line_error, run_cli

FAKE = Path(__file__).parent / "fake_kubectl.py"
KEYS = {name: "sk-" + mock_secret(f"leanrag-prod-client-key-{name}") for name in ("docs-portal", "analytics")}
"""The keys the prod stack's RandomPasswords get under the mocks (as tests/components/app/test_client_keys.py)."""
PORTAL = leanrag_keys.digest(KEYS["docs-portal"])


class Cluster:
    """The fake kubectl's state: ConfigMaps by context and namespace, and the calls it got."""

    def __init__(self, state: Path):
        self.state = state

    def put(self, manifest: dict, namespace: str = "rag", context: str = "default") -> None:
        folder = self.state / context / namespace
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{manifest['metadata']['name']}.json").write_text(json.dumps(manifest))

    def data(self, name: str, namespace: str = "rag", context: str = "default") -> dict[str, str]:
        return json.loads((self.state / context / namespace / f"{name}.json").read_text()).get("data") or {}

    def calls(self) -> list[list[str]]:
        path = self.state / "calls"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def seed(self, namespace: str = "rag", context: str = "default") -> None:
        """The ConfigMaps `pulumi up` of the prod stack creates (its clients: docs-portal and analytics)."""
        run = rk.prod()
        for name in ("client-keys", "client-key-revocations"):
            self.put({**rk.find(run, "ConfigMap", name, "rag"), "metadata": {"name": name}}, namespace, context)


@pytest.fixture
def cluster(tmp_path, monkeypatch) -> Cluster:
    bin_dir, state = tmp_path / "bin", tmp_path / "cluster"
    bin_dir.mkdir()
    (state / "default").mkdir(parents=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(f"#!{sys.executable}\n" + FAKE.read_text())
    kubectl.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_KUBECTL_STATE", str(state))
    return Cluster(state)


def keys(*args: str, capsys) -> tuple[int, str, str]:
    return run_cli("keys", *args, capsys=capsys)


def materialise(cluster: Cluster, mount: Path) -> tuple[Path, Path]:
    """The two ConfigMaps as the kubelet mounts them in the gateway's and the app's pods (updated in place, as the
    kubelet does on a change): the clients' folder and the revocations' folder."""
    clients_dir, revoked_dir = mount / "clients", mount / "revoked"
    configmap_dir(clients_dir, cluster.data("client-keys"))
    current = {p.name for p in revoked_dir.iterdir() if not p.name.startswith(".")} if revoked_dir.exists() else set()
    data = cluster.data("client-key-revocations")
    configmap_dir(revoked_dir, {**dict.fromkeys(current - set(data)), **data})
    return clients_dir, revoked_dir


def mounted(cluster: Cluster, tmp_path: Path) -> leanrag_keys.KeyRing:
    """The real key check on the mounted ConfigMaps (no cache: the test does not wait out the 5 s)."""
    return leanrag_keys.KeyRing(*materialise(cluster, tmp_path / "mnt"), reload_s=0)


# --- list ------------------------------------------------------------------------------------------------------


def test_list_shows_the_stacks_clients_with_fingerprints_and_never_a_key(cluster, capsys):
    cluster.seed()
    code, out, _ = keys("list", "prod", capsys=capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "MODELS", "REVOKED", "FINGERPRINT"]
    assert lines[1].split() == ["analytics", "(all)", "no", leanrag_keys.digest(KEYS["analytics"])[:12]]
    assert lines[2].split() == ["docs-portal", "llama-3-1-8b", "no", PORTAL[:12]]
    code, out, _ = keys("list", "prod", "--json", capsys=capsys)
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows == [
        {
            "name": "analytics",
            "models": None,
            "revoked": False,
            "fingerprint": leanrag_keys.digest(KEYS["analytics"])[:12],
        },
        {"name": "docs-portal", "models": ["llama-3-1-8b"], "revoked": False, "fingerprint": PORTAL[:12]},
    ]
    assert not [k for k in KEYS.values() if k in out] and PORTAL not in out  # neither keys nor whole digests
    code, out, _ = keys("list", "prod", "docs-portal", "--json", capsys=capsys)
    assert [json.loads(line)["name"] for line in out.splitlines()] == ["docs-portal"]
    # platform.namespace of Pulumi.prod.yaml is the default, rag; only reads
    assert cluster.calls()[:2] == [
        ["get", "configmap", "client-keys", "-n", "rag", "-o", "json"],
        ["get", "configmap", "client-key-revocations", "-n", "rag", "-o", "json"],
    ]


def test_list_dry_run_prints_the_reads_and_runs_nothing(cluster, capsys):
    code, out, _ = keys("list", "prod", "--dry-run", "--context", "ops", capsys=capsys)
    assert code == 0 and out.splitlines() == [
        "kubectl --context ops get configmap client-keys -n rag -o json",
        "kubectl --context ops get configmap client-key-revocations -n rag -o json",
    ]
    assert cluster.calls() == []


# --- revoke and restore, through the real key check ----------------------------------------------------------------


def test_revoke_is_refused_by_the_key_check_and_restore_lets_the_key_in_again(cluster, capsys, tmp_path):
    cluster.seed()
    ring = mounted(cluster, tmp_path)
    assert ring.check(KEYS["docs-portal"]).name == "docs-portal"  # before: the key works

    code, out, _ = keys("revoke", "prod", "docs-portal", capsys=capsys)
    assert code == 0
    assert f"revoked client docs-portal (key {PORTAL[:12]}) in namespace 'rag'" in out
    assert "about a minute), plus up to 5 s of the key check's cache" in out
    assert "undo with `leanrag keys restore prod docs-portal`" in out
    assert cluster.calls()[-1] == [
        "patch", "configmap", "client-key-revocations", "-n", "rag", "--type", "merge",
        "-p", json.dumps({"data": {"docs-portal": PORTAL}}, separators=(",", ":")),
    ]  # fmt: skip
    assert cluster.data("client-key-revocations") == {"docs-portal": PORTAL}
    assert cluster.data("client-keys") == rk.find(rk.prod(), "ConfigMap", "client-keys", "rag")["data"]  # untouched
    ring = mounted(cluster, tmp_path)
    assert ring.check(KEYS["docs-portal"]) is None  # refused
    assert ring.check(KEYS["analytics"]).name == "analytics"  # the others keep working
    code, out, _ = keys("list", "prod", "--json", capsys=capsys)
    assert {r["name"]: r["revoked"] for r in map(json.loads, out.splitlines())} == {
        "analytics": False,
        "docs-portal": True,
    }

    code, out, _ = keys("restore", "prod", "docs-portal", capsys=capsys)
    assert code == 0 and f"restored client docs-portal (key {PORTAL[:12]})" in out
    assert cluster.calls()[-1][-1] == '{"data":{"docs-portal":null}}'
    assert cluster.data("client-key-revocations") == {}  # null deleted the entry (merge patch)
    ring = mounted(cluster, tmp_path)
    assert ring.check(KEYS["docs-portal"]).name == "docs-portal"  # accepted again


def test_revoking_twice_or_restoring_a_working_key_changes_nothing_and_exits_0(cluster, capsys):
    cluster.seed()
    code, out, _ = keys("restore", "prod", "analytics", capsys=capsys)
    assert code == 0 and out.strip() == (
        f"client analytics (key {leanrag_keys.digest(KEYS['analytics'])[:12]}) is not revoked: nothing changed"
    )
    assert keys("revoke", "prod", "docs-portal", capsys=capsys)[0] == 0
    patches = len([c for c in cluster.calls() if c[0] == "patch"])
    code, out, _ = keys("revoke", "prod", "docs-portal", capsys=capsys)
    assert code == 0 and out.strip() == f"client docs-portal (key {PORTAL[:12]}) is already revoked: nothing changed"
    assert len([c for c in cluster.calls() if c[0] == "patch"]) == patches == 1  # no second patch


def test_restore_removes_the_revocation_of_an_earlier_key(cluster, capsys):
    """After keyVersion is bumped, an old revocation names a digest no key has any more: the client is not
    revoked (list says so), and restore tidies the entry away."""
    cluster.seed()
    old = leanrag_keys.digest("sk-the-key-before-keyVersion-2")
    cluster.put({"metadata": {"name": "client-key-revocations"}, "data": {"docs-portal": old}})
    code, out, _ = keys("list", "prod", "docs-portal", "--json", capsys=capsys)
    assert json.loads(out)["revoked"] is False
    code, out, _ = keys("restore", "prod", "docs-portal", capsys=capsys)
    assert code == 0 and "was not revoked; removed the revocation of an earlier key" in out
    assert cluster.data("client-key-revocations") == {}


def test_dry_run_prints_the_patch_and_changes_nothing(cluster, capsys):
    cluster.seed()
    code, out, _ = keys("revoke", "prod", "docs-portal", "--dry-run", capsys=capsys)
    assert code == 0
    assert out.strip() == (
        "kubectl patch configmap client-key-revocations -n rag --type merge -p "
        f'\'{{"data":{{"docs-portal":"{PORTAL}"}}}}\''
    )
    assert cluster.data("client-key-revocations") == {}
    assert [c[0] for c in cluster.calls()] == ["get", "get"]  # it read what the patch depends on, no more


def test_namespace_from_the_stack_file_or_the_flag_and_context_and_kubeconfig_pass_through(cluster, capsys, tmp_path):
    cluster.seed(namespace="team-a", context="ops")
    stack = tmp_path / "Pulumi.team.yaml"
    stack.write_text("config:\n  leanrag:cloud: existing\n  leanrag:platform:\n    namespace: team-a\n")
    code, out, _ = keys("revoke", str(stack), "analytics", "--context", "ops", "--kubeconfig", "kc", capsys=capsys)
    assert code == 0 and "in namespace 'team-a'" in out
    patch = ["--context", "ops", "--kubeconfig", "kc", "patch", "configmap", "client-key-revocations", "-n", "team-a"]
    assert cluster.calls()[-1][:9] == patch
    assert cluster.data("client-key-revocations", "team-a", "ops") == {
        "analytics": leanrag_keys.digest(KEYS["analytics"])
    }
    code, out, _ = keys("list", "prod", "-n", "team-a", "--context", "ops", "--json", capsys=capsys)
    assert code == 0 and json.loads(out.splitlines()[0])["revoked"] is True  # the revocation just made there
    read = ["--context", "ops", "get", "configmap", "client-key-revocations", "-n", "team-a", "-o", "json"]
    assert cluster.calls()[-1] == read


# --- errors: one line with the fix -----------------------------------------------------------------------------


def test_an_unknown_client_names_the_known_ones(cluster, capsys):
    cluster.seed()
    for action in ("revoke", "restore", "list"):
        code, _, err = keys(action, "prod", "nobody", capsys=capsys)
        line = one_line_error(err)
        assert code == 2 and "no client 'nobody' in namespace 'rag' (clients: analytics, docs-portal)" in line
        assert "leanrag:platform.clients" in line
    assert cluster.data("client-key-revocations") == {}


def test_configmaps_not_found_asks_whether_pulumi_up_ran(cluster, capsys):
    code, _, err = keys("list", "prod", capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "`kubectl get configmap client-keys -n rag -o json` failed" in line
    assert 'Error from server (NotFound): configmaps "client-keys" not found' in line
    assert "did `pulumi up` run for prod" in line and "is the context right" in line


def test_forbidden_names_the_rbac_it_needs(cluster, capsys):
    cluster.seed()
    (cluster.state / "default" / "rag" / "forbidden").touch()
    code, _, err = keys("revoke", "prod", "docs-portal", capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "Error from server (Forbidden)" in line and "ask for get and patch on configmaps" in line


def test_an_unknown_context_says_how_to_list_them(cluster, capsys):
    cluster.seed()
    code, _, err = keys("list", "prod", "--context", "nope", capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and 'error: context "nope" does not exist' in line and "kubectl config get-contexts" in line


def test_without_kubectl_the_error_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = keys("revoke", "prod", "docs-portal", capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "kubectl is not installed (not on PATH): install it" in line


def test_an_unknown_stack_file_lists_the_known_stacks(cluster, capsys, tmp_path):
    code, _, err = keys("list", "nope", capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "no stack file" in line and "known stacks: dev, " in line and "--namespace NS" in line
    bad = tmp_path / "Pulumi.bad.yaml"
    bad.write_text("config:\n  leanrag:platform: {namespace: Team_A}\n")
    code, _, err = keys("list", str(bad), capsys=capsys)
    assert code == 2 and "leanrag:platform.namespace 'Team_A' is not a namespace name" in one_line_error(err)
    bad.write_text("config: [\n")
    code, _, err = keys("list", str(bad), capsys=capsys)
    assert code == 2 and "not valid YAML" in one_line_error(err)
    assert cluster.calls() == []


def test_the_real_kubectl_on_an_unreachable_cluster_is_one_line(tmp_path, capsys):
    """The real kubectl (when installed) pointed at a port nothing listens on: its last stderr line, and the fix."""
    if shutil.which("kubectl") is None:
        pytest.skip("kubectl is not installed")
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": f"https://127.0.0.1:{free_port()}"}}],
                "users": [{"name": "u", "user": {"token": "not-a-real-token"}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    code, _, err = keys("list", "prod", "--kubeconfig", str(kubeconfig), capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "was refused" in line and "is the cluster of prod reachable from here?" in line


# --- the real gateway ------------------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.servers
def test_the_real_gateway_refuses_a_key_revoked_with_leanrag_keys_and_takes_it_back_after_restore(cluster, tmp_path):
    """LiteLLM with `leanrag_keys.litellm_auth`, its folders materialised from the stand-in cluster's ConfigMaps
    (the prod stack's clients) after each `leanrag keys` call, as the kubelet would."""
    ensure_venv("gateway")
    cluster.seed()
    clients_dir, revoked_dir = materialise(cluster, tmp_path / "mnt")
    with (
        start_redis(tmp_path / "redis") as redis,
        start_tiny_upstream(tmp_path / "upstream", ["tiny-chat"], ["tiny-embed"]) as upstream,
    ):
        gateway, _ = start_key_checking_gateway(tmp_path / "gateway", redis, upstream, clients_dir, revoked_dir)
        with gateway as gw:
            assert call(gw.url, KEYS["analytics"]) == 200
            assert call(gw.url, KEYS["docs-portal"]) == 403  # its models (llama-3-1-8b) are not `chat`

            assert cli.main(["keys", "revoke", "prod", "analytics"]) == 0
            materialise(cluster, tmp_path / "mnt")
            time.sleep(WAIT_S)
            assert call(gw.url, KEYS["analytics"]) == 401
            assert call(gw.url, MASTER) == 200  # the operator is untouched

            assert cli.main(["keys", "restore", "prod", "analytics"]) == 0
            materialise(cluster, tmp_path / "mnt")
            time.sleep(WAIT_S)
            assert call(gw.url, KEYS["analytics"]) == 200
