"""From a stack's outputs to a client: a `.env` and OpenAI-SDK snippets for the gateway and the RAG app.

The outputs come from `pulumi stack output --json` (run for the stack) or from a saved copy of it. Secret
outputs (the keys) are read and written only when asked (`with_secrets`): without it, pulumi prints them as
"[secret]" and the `.env` names the command that reads them. `openai_client_for(outputs)` is the one place that
turns outputs into client settings (base URL, key, model); the `.env`, the printed snippets and the demo use it.
Pure Python: no Pulumi SDK is imported (the CLI stays quick).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from components.app import INFERENCE_PROVIDER_ID

REDACTED = "[secret]"
"""What `pulumi stack output --json` prints for a secret output without --show-secrets."""
PULUMI_INSTALL = "https://www.pulumi.com/docs/iac/download-install/"
_CLUSTER_URL = re.compile(
    r"^(?P<scheme>https?)://(?P<svc>[a-z0-9-]+)\.(?P<ns>[a-z0-9-]+)\.svc(\.cluster\.local)?"
    r"(:(?P<port>\d+))?(?P<path>/.*)?$"
)


class ClientEnvError(Exception):
    """A problem with the outputs or how to get them, as one line naming the fix."""


@dataclass(frozen=True)
class OpenAIClient:
    """What `OpenAI(base_url=..., api_key=...)` needs to call one service, and the model to ask."""

    base_url: str
    model: str
    api_key: str | None
    """None when the key is secret and was not read (see `key_output`), or when the service needs none."""
    key_output: str | None
    """The stack output that holds the key; None when the service takes no key (e.g. app auth off)."""
    key_entry: str | None = None
    """The client's name when `key_output` is the map `clientKeys` (name -> key); None for a plain key output."""

    @property
    def needs_key(self) -> bool:
        return self.key_output is not None

    @property
    def key_source(self) -> str:
        """Where the key is, as the messages name it: `gatewayMasterKey`, `clientKeys["docs-bot"]`."""
        return f'{self.key_output}["{self.key_entry}"]' if self.key_entry else str(self.key_output)

    @property
    def read_command(self) -> str:
        """The command that prints the key."""
        if self.key_entry:
            return f"pulumi stack output {self.key_output} --show-secrets --json | jq -r '.[\"{self.key_entry}\"]'"
        return f"pulumi stack output {self.key_output} --show-secrets"

    def openai_kwargs(self) -> dict[str, str]:
        """Keyword arguments of `openai.OpenAI`; a placeholder key where the service takes none (the SDK needs
        one). ClientEnvError when the key is needed but was not read."""
        if self.needs_key and self.api_key is None:
            raise ClientEnvError(
                f"the key in stack output {self.key_source} is secret and was not read: pass --with-secrets "
                f"(or `{self.read_command}`)"
            )
        return {"base_url": self.base_url, "api_key": self.api_key or "no-key"}


def _required(outputs: Mapping[str, Any], name: str, fix: str | None = None) -> Any:
    value = outputs.get(name)
    if value is None or value == "" or value == []:
        have = ", ".join(sorted(outputs)) or "none: the stack has not been deployed (`pulumi up`)"
        raise ClientEnvError(
            f"stack output {name} is missing (outputs present: {have}); "
            + (fix or "deploy the stack with `pulumi up`, or save the outputs of a stack that has it")
        )
    return value


def _secret(outputs: Mapping[str, Any], name: str) -> str | None:
    value = outputs.get(name)
    return None if value in (None, REDACTED) else str(value)


def client_key(outputs: Mapping[str, Any], client: str | None) -> tuple[str | None, str | None]:
    """(the client's name, its key) from the secret output `clientKeys` (`platform.clients`: name -> key).

    The name is `client`, or the only client the stack declares; the key is None when `clientKeys` was not read
    (no --with-secrets). ClientEnvError, naming the fix, when the stack declares no client, when `client` is not
    one of them, or when there are several and none was chosen."""
    keys = outputs.get("clientKeys")
    if keys is None or keys == REDACTED:
        return client, None
    if not isinstance(keys, dict):
        raise ClientEnvError("stack output clientKeys is not a map of client name to key; use `pulumi stack output`")
    if not keys:
        raise ClientEnvError(
            "the stack declares no clients (stack output clientKeys is {}): add one to leanrag:platform.clients "
            "(e.g. `pulumi config set --path 'leanrag:platform.clients[0].name' my-app`, docs/access.md) and run "
            "`pulumi up`; --operator uses the operator's own keys instead (never hand those out)"
        )
    names = ", ".join(sorted(keys))
    if client is None:
        if len(keys) > 1:
            raise ClientEnvError(f"the stack has several clients ({names}): pass --client NAME")
        client = next(iter(keys))
    if client not in keys:
        raise ClientEnvError(
            f"--client {client} is not a client of the stack (clients: {names}); add it to "
            "leanrag:platform.clients and run `pulumi up`, or pick one of these"
        )
    return client, str(keys[client])


def openai_client_for(
    outputs: Mapping[str, Any], model: str | None = None, client: str | None = None, operator: bool = False
) -> dict[str, OpenAIClient]:
    """Client settings for the gateway (`gateway`) and the RAG app (`app`) from `pulumi stack output --json`.

    The URLs are what a client outside the cluster uses (`gatewayUrl`, `ragAppUrl`: the exposure's, or the
    in-cluster ones when not exposed). The key is a client's own (`clientKeys`, see `client_key`): it works for
    the gateway and, when the app's auth is on, for the app, and can be revoked alone (docs/access.md). With
    `operator`, the operator's keys instead (`gatewayMasterKey`, `ragAppApiKey`): for the operator's own checks.
    The model is `model` or the stack's default chat model (`defaultChatModel`, the gateway's first chat route);
    the app lists it under its inference provider (`vllm/<model>`)."""
    chat = model or _required(
        outputs,
        "defaultChatModel",
        "the stack serves no chat model: pass --model NAME (one of stack output servedModels), or deploy the "
        "stack with `pulumi up` (stacks deployed before defaultChatModel existed: `pulumi up` adds it)",
    )
    # gatewayBaseUrl: the name before exposure existed (stacks deployed before it)
    gateway_url = outputs.get("gatewayUrl") or outputs.get("gatewayBaseUrl") or _required(outputs, "gatewayUrl")
    app_url = str(_required(outputs, "ragAppUrl"))
    app_auth = "ragAppApiKey" in outputs and outputs["ragAppApiKey"] is not None
    if operator:
        gateway = OpenAIClient(str(gateway_url), chat, _secret(outputs, "gatewayMasterKey"), "gatewayMasterKey")
        app_key = _secret(outputs, "ragAppApiKey") if app_auth else None
        app = OpenAIClient(app_url, f"{INFERENCE_PROVIDER_ID}/{chat}", app_key, "ragAppApiKey" if app_auth else None)
        return {"gateway": gateway, "app": app}
    name, key = client_key(outputs, client)
    entry = name or "NAME"
    return {
        "gateway": OpenAIClient(str(gateway_url), chat, key, "clientKeys", entry),
        "app": OpenAIClient(
            app_url,
            f"{INFERENCE_PROVIDER_ID}/{chat}",
            key if app_auth else None,
            "clientKeys" if app_auth else None,
            entry if app_auth else None,
        ),
    }


@dataclass(frozen=True)
class PortForward:
    namespace: str
    service: str
    remote_port: int
    local_port: int

    def command(self) -> str:
        return f"kubectl -n {self.namespace} port-forward svc/{self.service} {self.local_port}:{self.remote_port}"


def through_port_forward(clients: dict[str, OpenAIClient]) -> tuple[dict[str, OpenAIClient], list[PortForward]]:
    """The clients with cluster-internal URLs rewritten to 127.0.0.1, and the `kubectl port-forward` that
    makes each one work (distinct local ports). URLs that are not cluster-internal are kept."""
    forwards: list[PortForward] = []
    out: dict[str, OpenAIClient] = {}
    for name, client in clients.items():
        m = _CLUSTER_URL.match(client.base_url)
        if not m:
            out[name] = client
            continue
        remote = int(m["port"] or (443 if m["scheme"] == "https" else 80))
        local = remote if remote >= 1024 else 8000 + remote
        while any(f.local_port == local for f in forwards):
            local += 1
        forwards.append(PortForward(m["ns"], m["svc"], remote, local))
        out[name] = replace(client, base_url=f"http://127.0.0.1:{local}{m['path'] or ''}")
    return out, forwards


def is_cluster_internal(url: str) -> bool:
    return bool(_CLUSTER_URL.match(url))


# --- reading the outputs ---------------------------------------------------------------------------------

Runner = Callable[..., subprocess.CompletedProcess[str]]


def outputs_from_pulumi(stack: str, with_secrets: bool, cwd: Path, run: Runner = subprocess.run) -> dict[str, Any]:
    """`pulumi stack output --json` for `stack` (secrets only with `with_secrets`)."""
    cmd = ["pulumi", "stack", "output", "--json", "--stack", stack, "--non-interactive"]
    if with_secrets:
        cmd.append("--show-secrets")
    try:
        proc = run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise ClientEnvError(
            f"the pulumi CLI is not on PATH: install it ({PULUMI_INSTALL}), or pass --outputs FILE with a saved "
            "`pulumi stack output --json`"
        ) from None
    if proc.returncode != 0:
        said = " ".join((proc.stderr or proc.stdout or "").split()) or f"exit code {proc.returncode}"
        if re.search(r"no stack named|stack .* not found|could not find stack", said, re.IGNORECASE):
            raise ClientEnvError(
                f"pulumi has no stack {stack!r} in this project ({said}); list them with `pulumi stack ls` "
                "(after `pulumi login` to the backend that holds it), or pass --outputs FILE"
            )
        raise ClientEnvError(f"`{' '.join(cmd)}` failed: {said}; run it yourself to see why")
    return _parse(proc.stdout, f"the output of `{' '.join(cmd)}`")


def outputs_from_file(path: Path) -> dict[str, Any]:
    """A saved `pulumi stack output --json` (with or without --show-secrets)."""
    try:
        text = path.read_text()
    except OSError as e:
        raise ClientEnvError(
            f"cannot read --outputs {path}: {e.strerror}; save one with `pulumi stack output --json > outputs.json`"
        ) from None
    return _parse(text, str(path))


def _parse(text: str, source: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ClientEnvError(
            f"{source} is not JSON ({e.msg} at line {e.lineno}); it should be the output of "
            "`pulumi stack output --json`"
        ) from None
    if not isinstance(value, dict):
        raise ClientEnvError(f"{source} is not a JSON object of stack outputs; use `pulumi stack output --json`")
    return value


# --- what is written and printed ---------------------------------------------------------------------------

ENV_NAMES = {
    "gateway": ("LEANRAG_GATEWAY_BASE_URL", "LEANRAG_GATEWAY_API_KEY", "LEANRAG_GATEWAY_MODEL"),
    "app": ("LEANRAG_RAG_APP_BASE_URL", "LEANRAG_RAG_APP_API_KEY", "LEANRAG_RAG_APP_MODEL"),
}
"""The `.env` variables of each client: base URL, key, model. OPENAI_BASE_URL / OPENAI_API_KEY repeat the
gateway's, so `OpenAI()` with no arguments calls the gateway."""
VECTOR_STORE_ENV = "LEANRAG_VECTOR_STORE"


def dotenv(stack: str, clients: dict[str, OpenAIClient], outputs: Mapping[str, Any]) -> str:
    """The `.env` text: shell-sourceable (`set -a; . ./.env; set +a`) and python-dotenv compatible. A key that
    is needed but was not read is left out, with the command that reads it."""
    lines = [
        f"# Written by `leanrag client-env {stack}` from the stack's outputs (docs/outputs.md).",
        "# Load it with `set -a; . ./.env; set +a` (or python-dotenv). It holds keys: keep it out of git.",
    ]

    def put(name: str, value: str | None, key_of: OpenAIClient | None = None) -> None:
        if value is not None:
            lines.append(f"{name}={shlex.quote(value)}")
        elif key_of is not None and key_of.needs_key:
            lines.append(
                f"# {name}: secret, not written: rerun with --with-secrets{_client_flag(key_of)} "
                f"(or `{key_of.read_command}`)"
            )
        else:
            lines.append(f"{name}=")

    gateway = clients["gateway"]
    if gateway.key_entry and gateway.key_entry != "NAME":
        lines.append(
            f"# The keys are client {gateway.key_entry}'s (platform.clients): revocable alone (docs/access.md)."
        )
    elif gateway.key_output == "gatewayMasterKey":
        lines.append("# The keys are the operator's (--operator): never hand them to a client.")
    put("OPENAI_BASE_URL", gateway.base_url)
    put("OPENAI_API_KEY", gateway.api_key, gateway)
    for name, client in clients.items():
        url_env, key_env, model_env = ENV_NAMES[name]
        put(url_env, client.base_url)
        put(key_env, client.api_key, client)
        put(model_env, client.model)
    put(VECTOR_STORE_ENV, str(outputs.get("vectorStoreName") or ""))
    return "\n".join(lines) + "\n"


def _client_flag(client: OpenAIClient) -> str:
    return " --client NAME" if client.key_entry == "NAME" else ""


GATEWAY_SNIPPET = """\
import os
from openai import OpenAI

# the gateway (LiteLLM): cache, fallbacks, guardrails in front of the served models
gateway = OpenAI(base_url=os.environ["LEANRAG_GATEWAY_BASE_URL"], api_key=os.environ["LEANRAG_GATEWAY_API_KEY"])
reply = gateway.chat.completions.create(
    model=os.environ["LEANRAG_GATEWAY_MODEL"],
    messages=[{"role": "user", "content": "What is a vector database? One sentence."}],
    max_tokens=64,
)
print(reply.choices[0].message.content)
"""

APP_SNIPPET = """\
import os
from openai import OpenAI

# the RAG app (OGX): find the stack's vector store by name, search it, answer from what it found
app = OpenAI(
    base_url=os.environ["LEANRAG_RAG_APP_BASE_URL"],
    api_key=os.environ.get("LEANRAG_RAG_APP_API_KEY") or "no-key",  # empty when the app's auth is off
)
question = "How do I create an index?"
store = next(s for s in app.vector_stores.list() if s.name == os.environ["LEANRAG_VECTOR_STORE"])
hits = app.vector_stores.search(store.id, query=question, max_num_results=3)
context = "\\n\\n".join(part.text for hit in hits.data for part in hit.content)
reply = app.chat.completions.create(
    model=os.environ["LEANRAG_RAG_APP_MODEL"],
    messages=[
        {"role": "system", "content": "Answer from this context only:\\n" + context},
        {"role": "user", "content": question},
    ],
    max_tokens=128,
)
print(reply.choices[0].message.content)
"""
"""The OpenAI-SDK snippets `leanrag client-env` prints; they read the `.env` variables, so the same code runs
against any stack (and against the local demo's servers)."""


def write_env_file(path: Path, text: str, force: bool) -> None:
    """Write `text` to `path`, readable by its owner only; an existing file is kept unless `force`."""
    if path.exists() and not force:
        raise ClientEnvError(f"{path} exists; pass --force to replace it, or --env-file PATH to write elsewhere")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)  # all or nothing: a failed write leaves the old file
