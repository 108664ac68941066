"""The RAG app the ingest tests write into and search: real processes on 127.0.0.1.

- MiniLM behind an OpenAI-compatible /v1/embeddings (the same model as the job), for the app's query
  embeddings: local/embedding_server.py, started by the local harness (``local.services.start_embeddings``);
- OGX 1.5 (.venvs/ogx, Python 3.12) with the run config the program renders (``build_ogx_run_config``):
  Milvus Lite inside OGX, SQLite storage, API-key authentication on.

This is the one place the ingest tests start these servers; the local harness (``local.services``) knows how.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from components.app.ogx_config import build_ogx_run_config
from components.app.ogx_settings import (
    AuthSettings,
    EmbeddingSettings,
    InferenceSettings,
    MilvusLite,
    RagAppSettings,
    ServerSettings,
    SqliteStorage,
)
from local import services
from local.process import free_port

ROOT = Path(__file__).resolve().parents[3]
EMBEDDING_MODEL_ID = "all-MiniLM-L6-v2"
APP_KEY_ENV = "INGEST_APP_API_KEY"


@dataclass(frozen=True)
class RagApp:
    url: str  # base URL, no /v1
    api_key: str = field(repr=False)
    embed_url: str  # .../v1
    workdir: Path

    def env(self) -> dict[str, str]:
        """What the ingest job needs in its environment to use this app."""
        return {APP_KEY_ENV: self.api_key}

    def log_tail(self, chars: int = 4000) -> str:
        log = self.workdir / "ogx" / "ogx.log"
        return log.read_text(errors="replace")[-chars:] if log.exists() else ""


@contextmanager
def embedding_server(workdir: Path, api_key: str) -> Iterator[str]:
    """local/embedding_server.py (local.services.start_embeddings) on a free port; yields its /v1 base URL."""
    workdir.mkdir(parents=True, exist_ok=True)
    with services.start_embeddings(workdir / "embeddings.log", api_key) as embeddings:
        yield embeddings.base_url


def ogx_config(embed_url: str, workdir: Path, port: int) -> str:
    """The app's run config as the program renders it. Chat is pointed at the embedding server (the
    ingest tests never chat); the keys are ${env.NAME} references."""
    settings = RagAppSettings(
        inference=InferenceSettings(base_url=embed_url, model_ids=["chat"], api_key_env="EMBED_API_KEY", max_tokens=64),
        embeddings=EmbeddingSettings(
            base_url=embed_url, model_id=EMBEDDING_MODEL_ID, dimension=384, api_key_env="EMBED_API_KEY"
        ),
        vector_store=MilvusLite(db_path=str(workdir / "milvus.db")),
        storage=SqliteStorage(dir=str(workdir)),
        files_dir=str(workdir / "files"),
        server=ServerSettings(host="127.0.0.1", port=port),
        auth=AuthSettings(api_key_env="APP_API_KEY"),
    )
    return build_ogx_run_config(settings).yaml


@contextmanager
def rag_app(workdir: Path) -> Iterator[RagApp]:
    """The embedding server and OGX, both with generated keys."""
    embed_key, app_key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    with embedding_server(workdir / "embeddings", embed_key) as embed_url:
        port = free_port()
        ogx_dir = workdir / "ogx"
        config = ogx_config(embed_url, ogx_dir, port)
        env = {"EMBED_API_KEY": embed_key, "APP_API_KEY": app_key}
        with services.start_ogx(ogx_dir, config, env, port) as ogx:
            yield RagApp(url=ogx.url, api_key=app_key, embed_url=embed_url, workdir=workdir)
