"""Where what the `local` stack renders lives on this machine: the one translation table of the demo.

The rendered configuration names places that exist in a cluster: Services (`http://<svc>.<ns>.svc.cluster.local:
<port>`, or a `host:`/`port:` pair), Secret references (`secretKeyRef`, and through the env the configs' own
`${env.X}` (OGX) and `os.environ/X` (LiteLLM)), volumes mounted at container paths (ConfigMaps, Secrets, claims,
emptyDirs, the model store). `LocalSite` maps each to this machine, once:

- **addresses**: every rendered Service -> 127.0.0.1 and one free port per workload it selects (a process listens
  there instead of 0.0.0.0:<container port>); Milvus (a Helm release) -> a Milvus Lite file;
- **secrets** (`LocalSecrets`): every RandomPassword of the stack -> a locally generated one of the same length
  and alphabet, put wherever the rendered Secret had the mock value (a key like "sk-" + password keeps its shape);
  the values reach processes through their environment or as mode-600 files (a Secret volume), never a command
  line or a config file;
- **paths**: each container's mounts -> folders under the data folder (`pods/<workload>/<volume>`: emptyDirs are
  emptied at each start, claims kept; Secret volumes -> the secrets folder); the model store -> the weights of the
  offline packages (local/weights are named by the launchers).

Every translation that changes what runs (a stand-in, a rewritten address, path or flag) is recorded as a
`Divergence`; the demo prints the table at start-up and docs/demo.md holds the same table (a test compares them).
"""

from __future__ import annotations

import re
import secrets
import shutil
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.process import LOOPBACK, free_port
from local.rendered import Container, RenderedStack
from local.services import write_secret_file

CLUSTER_URL = re.compile(
    r"(?P<scheme>https?)://(?P<host>[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local)(?::(?P<port>\d+))?"
)
CLUSTER_HOST = re.compile(r"^[a-z0-9-]+\.[a-z0-9-]+\.svc\.cluster\.local$")
IMAGE_PATHS = {"/app/corpus": Path(__file__).resolve().parent.parent / "corpus"}
"""Files the workload images bundle (workloads/ingest/Dockerfile copies the sample corpus to /app/corpus) -> the
same files in the repository."""
MODEL_STORE_VOLUME = "model-volume"
"""The serving pods' volume of the model store's claim (components/serving/weights.py)."""


class TranslationError(RuntimeError):
    """The rendered configuration names something the local translation does not know; the message says what and
    where to add it."""


@dataclass(frozen=True)
class Divergence:
    """One way the local run differs from what the stack renders."""

    what: str
    rendered: str
    local: str
    why: str


def divergence_table(divergences: Iterable[Divergence]) -> str:
    """A Markdown table (docs/demo.md holds the same)."""
    rows = ["| piece | the stack renders | locally | why |", "|---|---|---|---|"]
    rows += [f"| {d.what} | {d.rendered} | {d.local} | {d.why} |" for d in divergences]
    return "\n".join(rows) + "\n"


# ---------------------------------------------------------------------------------------------------- secrets


def _generate(length: int, special: bool) -> str:
    alphabet = string.ascii_letters + string.digits + ("!#$%&*()-_=+[]{}<>:?" if special else "")
    return "".join(secrets.choice(alphabet) for _ in range(length))


class LocalSecrets:
    """The stack's Secrets with locally generated passwords: the one place a secret reference resolves."""

    def __init__(self, rendered: RenderedStack, folder: Path) -> None:
        self.folder = folder
        self._rendered = rendered
        self._passwords = {name: _generate(spec.length, spec.special) for name, spec in rendered.passwords.items()}

    def value(self, namespace: str, name: str, key: str) -> str:
        """What key `key` of Secret `namespace/name` holds here."""
        try:
            source = self._rendered.secrets[(namespace, name)][key]
        except KeyError:
            raise TranslationError(f"the stack renders no Secret {namespace}/{name} with key {key}") from None
        text = source.text
        for password, mocked in source.passwords.items():
            text = text.replace(mocked, self._passwords[password])
        return text

    def secret_folder(self, namespace: str, name: str) -> Path:
        """Every key of the Secret as a mode-600 file in a mode-700 folder (as a Secret volume mounts it)."""
        folder = self.folder / namespace / name
        for key in self._rendered.secrets.get((namespace, name), {}):
            write_secret_file(folder / key, self.value(namespace, name, key))
        return folder

    def projected_folder(self, container: Container, volume: dict[str, Any]) -> Path:
        """A projected volume of Secret keys as mode-600 files (each item at its `path`) in a mode-700 folder."""
        folder = self.folder / container.namespace / f"{container.workload}-{volume['name']}"
        for source in volume["projected"].get("sources") or []:
            secret = source.get("secret")
            if secret is None:
                raise TranslationError(f"{container.key}: a projected {sorted(source)} source has no local mapping")
            for item in secret.get("items") or []:
                value = self.value(container.namespace, secret["name"], item["key"])
                write_secret_file(folder / item["path"], value)
        return folder

    def table(self) -> list[str]:
        """One line per rendered Secret key that holds a generated password: which password (its length) and which
        workloads read it (env or volume). Values are never shown."""
        readers: dict[tuple[str, str, str], set[str]] = {}
        for c in self._rendered.containers:
            for entry in c.env:
                ref = (entry.get("valueFrom") or {}).get("secretKeyRef")
                if ref:
                    readers.setdefault((c.namespace, ref["name"], ref["key"]), set()).add(f"{c.workload} (env)")
            for volume in c.volumes.values():
                for source in (volume.get("projected") or {}).get("sources") or []:
                    ref = source.get("secret") or {}
                    for item in ref.get("items") or []:
                        readers.setdefault((c.namespace, ref["name"], item["key"]), set()).add(f"{c.workload} (file)")
                secret = volume.get("secret")
                if not secret:
                    continue
                mounted = [i["key"] for i in secret.get("items") or []] or list(
                    self._rendered.secrets.get((c.namespace, secret["secretName"]), {})
                )
                for key in mounted:
                    readers.setdefault((c.namespace, secret["secretName"], key), set()).add(f"{c.workload} (file)")
        lines = []
        for (namespace, name), keys in sorted(self._rendered.secrets.items()):
            for key, text in sorted(keys.items()):
                for password in text.passwords:
                    spec = self._rendered.passwords[password]
                    users = ", ".join(sorted(readers.get((namespace, name, key), set()))) or "no local process"
                    lines.append(f"{namespace}/{name}:{key} <- {password} ({spec.length} chars); read by {users}")
        return lines

    def all_values(self) -> list[str]:
        """Every generated password (to check that none leaks into a config, a command line or a log)."""
        return list(self._passwords.values())


# ---------------------------------------------------------------------------------------------------- the site


@dataclass
class LocalSite:
    """The translation table for one run of the demo (see the module docstring)."""

    rendered: RenderedStack
    data: Path
    milvus_lite: Path
    """The Milvus Lite file standing in for the Milvus Helm release."""
    secrets: LocalSecrets = field(init=False)
    ports: dict[str, int] = field(init=False, default_factory=dict)
    """<namespace>/<workload> -> the local port its Services map to."""
    divergences: list[Divergence] = field(init=False, default_factory=list)
    _addresses: dict[tuple[str, int], str] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.secrets = LocalSecrets(self.rendered, self.data / "secrets")
        for service in self.rendered.services:
            workload = self._selected(service.selector)
            if workload is None:
                continue
            port = self.ports.setdefault(workload, free_port())
            self._addresses[(service.host, service.port)] = f"{LOOPBACK}:{port}"
        self.diverge(
            "Service addresses",
            "`http://<svc>.<ns>.svc.cluster.local:<port>`, processes listening on 0.0.0.0",
            "`http://127.0.0.1:<free port>`, one port per workload, listening on 127.0.0.1 only",
            "no cluster DNS here; nothing is reachable from outside this machine",
        )
        self.diverge(
            "Secrets",
            "Kubernetes Secrets from RandomPasswords (env `secretKeyRef`, Secret volumes)",
            "passwords generated per run, same length and alphabet; env of the process, or mode-600 files under "
            "`.demo/secrets/<ns>/<secret>/`",
            "no Kubernetes API; never on a command line or in a config file",
        )

    def _selected(self, selector: Mapping[str, str]) -> str | None:
        for c in self.rendered.containers:
            if selector and all(c.labels.get(k) == v for k, v in selector.items()):
                return c.key
        return None

    def diverge(self, what: str, rendered: str, local: str, why: str) -> None:
        entry = Divergence(what, rendered, local, why)
        if entry not in self.divergences:
            self.divergences.append(entry)

    # --- addresses

    def stand_in_milvus(self, uri: str) -> None:
        """Map the Milvus Helm release's address (`milvusUri`) to the Milvus Lite file."""
        m = CLUSTER_URL.fullmatch(uri)
        if m is None:
            raise TranslationError(f"milvusUri {uri!r} is not an in-cluster address")
        self._addresses[(m["host"], int(m["port"] or 80))] = str(self.milvus_lite)

    def listen_port(self, container: Container) -> int:
        """The local port a workload listens on (its Services' address here)."""
        try:
            return self.ports[container.key]
        except KeyError:
            raise TranslationError(f"no rendered Service selects {container.key}: it has no address") from None

    def address(self, host: str, port: int) -> str:
        """host:port here (or a Milvus Lite path) of an in-cluster host and port."""
        try:
            return self._addresses[(host, port)]
        except KeyError:
            known = ", ".join(f"{h}:{p}" for h, p in self._addresses)
            raise TranslationError(
                f"the rendered config names {host}:{port}, which no rendered Service serves (known: {known}); "
                "map it in local/site.py"
            ) from None

    def url(self, text: str) -> str:
        """Every in-cluster URL in `text` pointed here (`http://127.0.0.1:<port>`, or the Milvus Lite path)."""

        def local(m: re.Match[str]) -> str:
            default = 443 if m["scheme"] == "https" else 80
            target = self.address(m["host"], int(m["port"] or default))
            return target if target.startswith("/") else f"http://{target}"

        return CLUSTER_URL.sub(local, text)

    # --- paths

    def pod_folder(self, container: Container, volume: str) -> Path:
        return self.data / "pods" / container.workload / volume

    def mounts(self, container: Container) -> dict[str, Path]:
        """mountPath -> the local path, for every mount but the model store (see `weights`) and ConfigMaps (the
        caller writes the translated config: `config_path`)."""
        out: dict[str, Path] = {}
        for mount in container.mounts:
            volume = container.volumes.get(mount["name"], {})
            if "secret" in volume:
                local = self.secrets.secret_folder(container.namespace, volume["secret"]["secretName"])
                out[mount["mountPath"]] = local / mount["subPath"] if mount.get("subPath") else local
            elif "projected" in volume:
                local = self.secrets.projected_folder(container, volume)
                out[mount["mountPath"]] = local / mount["subPath"] if mount.get("subPath") else local
            elif "configMap" in volume or mount["name"] == MODEL_STORE_VOLUME:
                continue
            elif "emptyDir" in volume or "persistentVolumeClaim" in volume:
                out[mount["mountPath"]] = self.pod_folder(container, mount["name"])
            else:
                raise TranslationError(f"{container.key} mounts a {sorted(volume)} volume that the demo cannot map")
        return out

    def config_path(self, container: Container, mount_path: str) -> Path:
        """Where the translated copy of a ConfigMap file mounted at `mount_path` goes."""
        return self.data / "config" / container.workload / Path(mount_path).name

    def prepare_volumes(self, container: Container) -> None:
        """Create the folders of its volumes: emptyDirs empty (as a new pod gets them), claims as they were."""
        for mount in container.mounts:
            volume = container.volumes.get(mount["name"], {})
            folder = self.pod_folder(container, mount["name"])
            if "emptyDir" in volume:
                shutil.rmtree(folder, ignore_errors=True)
            if "emptyDir" in volume or ("persistentVolumeClaim" in volume and mount["name"] != MODEL_STORE_VOLUME):
                folder.mkdir(parents=True, exist_ok=True)

    def path(self, container: Container, text: str) -> str:
        """Container paths in `text` (at the start of a word) pointed at the local folders of its mounts."""
        places = {path: str(local) for path, local in {**IMAGE_PATHS, **self.mounts(container)}.items()}
        if not places:
            return text
        # one pass, longest first: a local folder (under /tmp, say) is never translated again
        alternatives = "|".join(re.escape(p) for p in sorted(places, key=len, reverse=True))
        pattern = re.compile(r"(?<![\w./-])(" + alternatives + r")(?=/|$|[\s\"',;])")
        return pattern.sub(lambda m: places[m[1]], text)

    def mounted_config(self, container: Container, path: str) -> str:
        """The rendered text of the ConfigMap file the container sees at `path`."""
        for mount in container.mounts:
            volume = container.volumes.get(mount["name"], {})
            if "configMap" not in volume:
                continue
            mount_path = mount["mountPath"]
            key = mount.get("subPath") if path == mount_path else path.removeprefix(mount_path + "/")
            if key and key != path:
                return self.rendered.config_file(container.namespace, volume["configMap"]["name"], key)
        raise TranslationError(f"{container.key}: no ConfigMap is mounted at {path}")

    def text(self, container: Container, text: str) -> str:
        """Addresses and paths of a rendered string (an arg, an env value, a config line) pointed here: paths
        first, so that a local path an address became (the Milvus Lite file) is not translated again."""
        return self.url(self.path(container, text))

    def config_yaml(self, container: Container, text: str) -> dict[str, Any]:
        """A rendered YAML config (LiteLLM's, OGX's) with its addresses and paths pointed here: every string, and
        every mapping with an in-cluster `host` and a `port`. References to secrets (`${env.X}`, `os.environ/X`)
        are kept: the process resolves them from its environment."""

        def walk(value: Any) -> Any:
            if isinstance(value, dict):
                host = value.get("host")
                if isinstance(host, str) and CLUSTER_HOST.match(host) and "port" in value:
                    local_host, _, local_port = self.address(host, int(value["port"])).partition(":")
                    value = {**value, "host": local_host, "port": int(local_port)}
                return {k: walk(v) for k, v in value.items()}
            if isinstance(value, list):
                return [walk(v) for v in value]
            if isinstance(value, str):
                return self.text(container, value)
            return value

        data = walk(yaml.safe_load(text))
        assert isinstance(data, dict)
        return data

    # --- environment

    def env(self, container: Container, skip: Iterable[str] = ()) -> dict[str, str]:
        """The container's environment as the kubelet would fill it, pointed here: plain values translated,
        Secret keys from `LocalSecrets`, ConfigMap keys as rendered."""
        out: dict[str, str] = {}
        for entry in container.env:
            name = entry["name"]
            if name in skip:
                continue
            source = entry.get("valueFrom") or {}
            if "value" in entry:
                out[name] = self.text(container, str(entry["value"]))
            elif "secretKeyRef" in source:
                ref = source["secretKeyRef"]
                out[name] = self.secrets.value(container.namespace, ref["name"], ref["key"])
            elif "configMapKeyRef" in source:
                ref = source["configMapKeyRef"]
                out[name] = self.rendered.config_file(container.namespace, ref["name"], ref["key"])
            else:
                raise TranslationError(f"{container.key}: env {name} comes from {sorted(source)}, not mapped here")
        return out
