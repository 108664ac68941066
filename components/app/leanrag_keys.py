"""Per-client API keys of the gateway (LiteLLM) and the RAG app (OGX): one check that both call.

Standard library only: this file runs inside the LiteLLM and OGX containers, mounted from a ConfigMap beside
their configs; it never imports the program. (No dataclasses: LiteLLM loads the file without registering it in
sys.modules, which dataclasses need.) docs/access.md says why this and not LiteLLM's virtual keys.

What it reads (mounted directories, re-read every few seconds, so a change needs no restart):

- `CLIENTS_DIR/clients.json` (ConfigMap `client-keys`, written by `pulumi up` from `platform.clients`):
  `{"<name>": {"sha256": "<hex digest of the key>", "models": ["chat", ...] | null}}`. Only digests: the keys
  themselves are in the Secret `client-keys` and the secret stack output `clientKeys`, never in a pod.
- `REVOKED_DIR/<name>` (ConfigMap `client-key-revocations`, which `pulumi up` creates empty and never
  rewrites): the digest of the revoked key. A client is refused while that file holds its current key's digest;
  a new key (`keyVersion` bumped) is not revoked.
- env `OPERATOR_KEY_ENV` names the variable holding the operator's key (the gateway's master key, the app's own
  key): it is accepted as principal `operator`.

Entry points:
- `litellm_auth`: LiteLLM's `general_settings.custom_auth` (`leanrag_keys.litellm_auth`).
- `python leanrag_keys.py serve --port 8322`: the endpoint of OGX's `custom` auth provider (POST /auth with
  `{"api_key": ..., "request": {...}}`, answers `{"principal": ..., "attributes": ...}` or 401).
- `python leanrag_keys.py list`: the clients and whether each is revoked, as JSON lines.
- `revocation_patch(clients_json, name)`: the merge patch of `client-key-revocations` that revokes a client
  (`kubectl patch configmap client-key-revocations --type merge -p <patch>`); `restore_patch` undoes it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

CLIENTS_FILE = "clients.json"
DEFAULT_CLIENTS_DIR = "/etc/leanrag/clients"
DEFAULT_REVOKED_DIR = "/etc/leanrag/revoked"
RELOAD_S = 5.0
"""Seconds a loaded view is trusted before the files are read again."""
OPERATOR = "operator"
TEAM = "leanrag"
"""Every principal's team in OGX: resources the ingest Job (operator) creates stay readable by every client."""


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class Client(NamedTuple):
    name: str
    sha256: str
    models: tuple[str, ...] | None
    """None: every model."""
    revoked: bool


def parse_clients(clients_json: str, revoked: dict[str, str]) -> dict[str, Client]:
    """`clients.json` text and the revocations (name -> digest) -> clients by name."""
    raw: dict[str, Any] = json.loads(clients_json) if clients_json.strip() else {}
    out = {}
    for name, spec in raw.items():
        models = spec.get("models")
        sha = str(spec["sha256"])
        out[name] = Client(
            name=name,
            sha256=sha,
            models=tuple(models) if models is not None else None,
            revoked=hmac.compare_digest(revoked.get(name, "").strip(), sha),
        )
    return out


def _read_dir(path: Path) -> dict[str, str]:
    """Plain files of a mounted ConfigMap (its `..data` links and hidden entries skipped)."""
    if not path.is_dir():
        return {}
    return {p.name: p.read_text() for p in path.iterdir() if not p.name.startswith(".") and p.is_file()}


class KeyRing:
    """The clients as the mounted files say, reloaded at most every `reload_s` seconds."""

    def __init__(
        self,
        clients_dir: str | Path = DEFAULT_CLIENTS_DIR,
        revoked_dir: str | Path = DEFAULT_REVOKED_DIR,
        operator_key: str | None = None,
        reload_s: float = RELOAD_S,
    ):
        self.clients_dir, self.revoked_dir = Path(clients_dir), Path(revoked_dir)
        self.operator_key = operator_key
        self.reload_s = reload_s
        self._lock = threading.Lock()
        self._loaded_at = float("-inf")
        self._by_digest: dict[str, Client] = {}
        self._clients: dict[str, Client] = {}

    @classmethod
    def from_env(cls) -> KeyRing:
        """LEANRAG_CLIENTS_DIR, LEANRAG_REVOKED_DIR, and the operator's key: the file LEANRAG_OPERATOR_KEY_FILE
        names (a Secret mounted as a file: the auth sidecar), else the variable LEANRAG_OPERATOR_KEY_ENV names
        (LiteLLM, whose master key is an environment variable anyway)."""
        operator_file = os.environ.get("LEANRAG_OPERATOR_KEY_FILE", "")
        operator_env = os.environ.get("LEANRAG_OPERATOR_KEY_ENV", "")
        if operator_file:
            operator: str | None = Path(operator_file).read_text().strip()
        else:
            operator = os.environ.get(operator_env) if operator_env else None
        return cls(
            os.environ.get("LEANRAG_CLIENTS_DIR", DEFAULT_CLIENTS_DIR),
            os.environ.get("LEANRAG_REVOKED_DIR", DEFAULT_REVOKED_DIR),
            operator,
        )

    def clients(self) -> dict[str, Client]:
        with self._lock:
            if time.monotonic() - self._loaded_at >= self.reload_s:
                clients_text = _read_dir(self.clients_dir).get(CLIENTS_FILE, "")
                self._clients = parse_clients(clients_text, _read_dir(self.revoked_dir))
                self._by_digest = {c.sha256: c for c in self._clients.values()}
                self._loaded_at = time.monotonic()
            return self._clients

    def check(self, key: str | None) -> Client | None:
        """The client whose key this is, unless revoked; `operator` for the operator's key; else None."""
        if not key:
            return None
        if self.operator_key and hmac.compare_digest(key.encode(), self.operator_key.encode()):
            return Client(OPERATOR, digest(key), None, revoked=False)
        self.clients()
        client = self._by_digest.get(digest(key))
        return client if client is not None and not client.revoked else None


# ------------------------------------------------------------------------------------------ admin helpers


def revocation_patch(clients_json: str, name: str) -> dict[str, Any]:
    """The merge patch of ConfigMap `client-key-revocations` that revokes `name`'s current key."""
    clients = parse_clients(clients_json, {})
    if name not in clients:
        raise KeyError(f"no client {name!r}; clients: {sorted(clients)}")
    return {"data": {name: clients[name].sha256}}


def restore_patch(name: str) -> dict[str, Any]:
    """The merge patch of ConfigMap `client-key-revocations` that lifts `name`'s revocation."""
    return {"data": {name: None}}


def listing(clients: dict[str, Client]) -> list[dict[str, Any]]:
    """One row per client: name, models (null = all), revoked, and the key's fingerprint (first 12 hex digits
    of its SHA-256, to match a key in hand: `printf %s "$KEY" | sha256sum`)."""
    return [
        {
            "name": c.name,
            "models": list(c.models) if c.models is not None else None,
            "revoked": c.revoked,
            "fingerprint": c.sha256[:12],
        }
        for c in sorted(clients.values(), key=lambda c: c.name)
    ]


# ------------------------------------------------------------------------------------------ LiteLLM


_RING: KeyRing | None = None


def _ring() -> KeyRing:
    global _RING
    if _RING is None:
        _RING = KeyRing.from_env()
    return _RING


async def litellm_auth(request: Any, api_key: str) -> Any:
    """LiteLLM's custom_auth: the operator (master key) is proxy admin; a client may call the OpenAI API routes
    (chat, completions, embeddings, models, ...) with its models only (enforced by LiteLLM with
    `custom_auth_run_common_checks`), never the management routes (403); anything else is refused with 401."""
    from litellm.proxy._types import LitellmUserRoles, ProxyErrorTypes, ProxyException, UserAPIKeyAuth
    from litellm.proxy.auth.route_checks import RouteChecks

    key = api_key.removeprefix("Bearer ").strip() if api_key else ""
    client = _ring().check(key)
    if client is None:
        raise ProxyException(
            message="invalid, unknown or revoked API key",
            type=ProxyErrorTypes.auth_error,
            param="api_key",
            code=401,
        )
    if client.name == OPERATOR:
        return UserAPIKeyAuth(api_key=key, key_alias=OPERATOR, user_role=LitellmUserRoles.PROXY_ADMIN)
    route = str(getattr(getattr(request, "url", None), "path", "") or "")
    if not RouteChecks.is_llm_api_route(route):
        raise ProxyException(
            message=f"a client key may call the model API only, not {route}",
            type=ProxyErrorTypes.auth_error,
            param="api_key",
            code=403,
        )
    return UserAPIKeyAuth(
        api_key=key,
        key_alias=client.name,
        key_name=client.name,
        user_id=client.name,
        models=list(client.models) if client.models is not None else [],
        user_role=LitellmUserRoles.INTERNAL_USER,
    )


# ------------------------------------------------------------------------------------------ OGX


def ogx_principal(ring: KeyRing, body: dict[str, Any]) -> dict[str, Any] | None:
    """OGX's custom auth request -> its response (`principal`, `attributes`), or None to refuse."""
    client = ring.check(str(body.get("api_key") or ""))
    if client is None:
        return None
    roles = ["admin", "owner"] if client.name == OPERATOR else ["user"]
    return {"principal": client.name, "attributes": {"roles": roles, "teams": [TEAM]}}


class _AuthHandler(BaseHTTPRequestHandler):
    ring: KeyRing

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, {"status": "ok", "clients": len(self.ring.clients())})
        else:
            self._send(404, {"message": "not found"})

    def do_POST(self) -> None:
        if self.path != "/auth":
            self._send(404, {"message": "not found"})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except ValueError:
            self._send(400, {"message": "body is not JSON"})
            return
        answer = ogx_principal(self.ring, body if isinstance(body, dict) else {})
        if answer is None:
            self._send(401, {"message": "invalid, unknown or revoked API key"})
        else:
            self._send(200, answer)

    def log_message(self, format: str, *args: Any) -> None:
        # Request lines only (no bodies: they hold keys).
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def serve(ring: KeyRing, host: str, port: int) -> ThreadingHTTPServer:
    """The OGX auth endpoint on host:port (not started: call `serve_forever`)."""
    handler = type("AuthHandler", (_AuthHandler,), {"ring": ring})
    return ThreadingHTTPServer((host, port), handler)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="leanrag_keys", description="per-client API keys of the RAG stack")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("serve", help="OGX's custom auth endpoint (POST /auth)")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=8322)
    sub.add_parser("list", help="the clients, one JSON object a line")
    args = parser.parse_args(argv)
    ring = KeyRing.from_env()
    if args.command == "list":
        for row in listing(ring.clients()):
            print(json.dumps(row))
        return 0
    server = serve(ring, args.host, args.port)
    sys.stderr.write(f"leanrag_keys: OGX auth endpoint on http://{args.host}:{args.port}/auth\n")
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
