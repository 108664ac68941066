"""A minimal stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, for the online code path offline.

It serves one repository from a local directory at one commit: the model-info route with file metadata
(`/api/models/{repo}/revision/{rev}`: LFS size and sha256 for *.safetensors, as the hub reports them) and
file downloads (`/{repo}/resolve/{rev}/{path}` with the X-Repo-Commit and ETag headers huggingface_hub reads).
huggingface_hub itself runs unchanged against it (HF_ENDPOINT). Every request is recorded.
It is a test double of the hub's protocol, not the hub: xet storage, redirects to a CDN and auth are not
modelled.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse


class HubServer:
    def __init__(self, repo_id: str, commit: str, model_dir: Path) -> None:
        self.repo_id, self.commit, self.model_dir = repo_id, commit, model_dir
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                """Quiet: requests are recorded in `HubServer.requests`."""

            def do_HEAD(self) -> None:
                server._answer(self, body=False)

            def do_GET(self) -> None:
                server._answer(self, body=True)

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def downloads(self) -> list[str]:
        return [path for method, path in self.requests if method == "GET" and "/resolve/" in path]

    def _files(self) -> list[Path]:
        return sorted(p for p in self.model_dir.rglob("*") if p.is_file())

    def _info(self) -> dict[str, object]:
        siblings = []
        for path in self._files():
            data = path.read_bytes()
            sibling: dict[str, object] = {
                "rfilename": path.relative_to(self.model_dir).as_posix(),
                "size": len(data),
                "blobId": hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest(),
            }
            if path.suffix == ".safetensors":
                sibling["lfs"] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "pointerSize": 134}
            siblings.append(sibling)
        return {"id": self.repo_id, "modelId": self.repo_id, "sha": self.commit, "private": False, "siblings": siblings}

    def _answer(self, handler: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(handler.path).path)
        self.requests.append((handler.command, path))
        info_prefix = f"/api/models/{self.repo_id}"
        resolve_prefix = f"/{self.repo_id}/resolve/"
        if path == info_prefix or path.startswith(info_prefix + "/revision/"):
            revision = path.removeprefix(info_prefix + "/revision/") if "/revision/" in path else "main"
            if revision not in ("main", self.commit):
                return self._send(handler, 404, b'{"error": "Invalid rev id"}', {"X-Error-Code": "RevisionNotFound"})
            return self._send(handler, 200, json.dumps(self._info()).encode(), {}, body)
        if path.startswith(resolve_prefix):
            revision, _, name = path.removeprefix(resolve_prefix).partition("/")
            target = self.model_dir / name
            if revision not in ("main", self.commit) or not target.is_file():
                return self._send(handler, 404, b"not found", {"X-Error-Code": "EntryNotFound"})
            data = target.read_bytes()
            etag = hashlib.sha256(data).hexdigest()
            return self._send(handler, 200, data, {"X-Repo-Commit": self.commit, "ETag": f'"{etag}"'}, body)
        return self._send(handler, 404, b'{"error": "Repository not found"}', {"X-Error-Code": "RepoNotFound"})

    def _send(
        self, handler: BaseHTTPRequestHandler, status: int, data: bytes, headers: dict[str, str], body: bool = True
    ) -> None:
        handler.send_response(status)
        for name, value in {"Content-Length": str(len(data)), **headers}.items():
            handler.send_header(name, value)
        handler.end_headers()
        if body:
            handler.wfile.write(data)
