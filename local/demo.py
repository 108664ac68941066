"""The local demo of the Lean RAG stack: `python3 -m local.demo` (standard library only).

Starts redis-server, the llama.cpp model server, the LiteLLM gateway (Redis cache), a MiniLM embeddings
endpoint and the OGX (Llama Stack) app on 127.0.0.1 with generated credentials, ingests corpus/docs into
Milvus Lite and loads the same Docling chunks into the app's vector store, reports recall@5 and MRR, answers
a few questions through the app's OpenAI-compatible API with the sources they cite, measures the cache,
runs a short GuideLLM benchmark, and stops everything (also on Ctrl-C, SIGTERM or failure). Data and logs
stay in .demo/ (see docs/demo.md).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from local import llm_server
from local.services import ServiceError, Services, free_port, http_json, port_open, tail

ROOT = Path(__file__).resolve().parent.parent
VENVS = ROOT / ".venvs"
CORPUS = ROOT / "corpus" / "docs"

# Labelled questions (source document; optional phrase). corpus/questions.yaml is used when it exists.
QUESTIONS: list[dict[str, str]] = [
    {"question": "How do I install Milvus Lite and create a local .db file?", "source": "milvus-lite.md"},
    {"question": "How do I connect to Redis from Python and get decoded strings?", "source": "redis-py.docx"},
    {"question": "What is Docling and which document formats can it parse?", "source": "docling.md"},
    {"question": "How does GuideLLM benchmark an LLM deployment?", "source": "guidellm.pdf"},
    {"question": "Which quantization algorithms does LLM Compressor support?", "source": "llm-compressor.docx"},
    {
        "question": "Which Kubernetes API versions does the Pulumi Kubernetes provider support?",
        "source": "pulumi-kubernetes.pdf",
    },
    {"question": "How do I install the Milvus Python SDK pymilvus?", "source": "pymilvus.pptx"},
    {"question": "What is a DoclingDocument in Docling Core?", "source": "docling-core.pptx"},
    {"question": "How does asyncio.Queue work with put and get in coroutines?", "source": "python-asyncio-queue.html"},
    {"question": "Which secure hash algorithms does hashlib provide, such as sha256?", "source": "python-hashlib.html"},
    {"question": "What is vLLM and what makes its LLM serving fast?", "source": "vllm.md"},
]

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Be brief and cite the "
    "passages you used as [1], [2], ..."
)


class StepError(RuntimeError):
    pass


def say(msg: str) -> None:
    print(msg, flush=True)


def step(n: int, title: str) -> None:
    say(f"\n[{n}] {title}")


def run_job(name: str, cmd: list[str], log: Path, timeout_s: float, env: dict[str, str] | None = None) -> str:
    """Run a job in its own process group; output goes to its log (and is returned). Killed on any exit."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        out.write(f"\n==== {time.strftime('%H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        start = out.tell()
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **(env or {})},
            start_new_session=True,
        )
        try:
            code = proc.wait(timeout_s)
        except BaseException:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    with log.open("rb") as fh:
        fh.seek(start)
        text = fh.read().decode(errors="replace")
    if code != 0:
        raise StepError(f"{name} failed with exit code {code}; log: {log}\n{tail(log)}")
    return text


def venv_python(name: str) -> Path:
    python = VENVS / name / "bin" / "python"
    if not python.exists():
        raise StepError(f"environment .venvs/{name} is missing: run `make venv-{name}`")
    return python


def corpus_version(corpus: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in corpus.rglob("*") if p.is_file()):
        digest.update(path.relative_to(corpus).as_posix().encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:16]


def write_questions(path: Path, questions: list[dict[str, str]]) -> None:
    lines = ["questions:"]
    for q in questions:
        lines.append(f"  - question: {json.dumps(q['question'])}")
        lines.append(f"    source: {json.dumps(q['source'])}")
        if q.get("phrase"):
            lines.append(f"    phrase: {json.dumps(q['phrase'])}")
    path.write_text("\n".join(lines) + "\n")


_HIT = re.compile(r"^(\d+)\. \[(-?[\d.]+)\] (.+?)(?:, page \d+)?(?:  \((.*)\))?$")


def parse_hits(text: str) -> list[dict[str, str]]:
    """Parse `workloads.ingest search` output: numbered headers followed by indented snippets."""
    hits: list[dict[str, str]] = []
    for line in text.splitlines():
        m = _HIT.match(line)
        if m:
            hits.append({"source": m.group(3), "section": m.group(4) or "", "text": ""})
        elif hits and line.startswith("   "):
            hits[-1]["text"] = (hits[-1]["text"] + " " + line.strip()).strip()
    return hits


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.data = Path(args.data_dir).resolve()
        self.logs = self.data / "logs"
        self.services = Services(self.logs)
        self.state_file = self.data / "state.json"
        self.state: dict[str, object] = {"services": {}, "started_at": time.time()}
        self.milvus = self.data / "milvus.db"
        self.chat_url = ""
        self.chat_key = ""
        self.chat_model = ""
        self.via = ""
        self.llm: llm_server.LlmServer | None = None
        self.llm_key_file = self.data / "secrets" / "llm-api-key"
        self.answers: list[dict[str, object]] = []
        self.gateway_url = ""
        self.gateway_key = ""
        self.embed_url = ""
        self.embed_key = ""
        self.ogx_url = ""
        self.ogx_model = ""
        self.vector_store_id = ""

    # ------------------------------------------------------------------ helpers
    def save_state(self) -> None:
        self.state["services"] = {
            s.name: {"pid": s.pid, "port": s.port, "log": str(s.log)} for s in self.services.started
        } or self.state.get("services", {})
        self.state_file.write_text(json.dumps(self.state, indent=2) + "\n")

    def secret(self, name: str, value: str) -> Path:
        path = self.data / "secrets" / name
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.touch(mode=0o600)
        path.write_text(value)
        return path

    def ingest_cmd(self, *args: str) -> list[str]:
        return [str(venv_python("ingest")), "-m", "workloads.ingest", *args]

    # ------------------------------------------------------------------ steps
    def start_redis(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise StepError("redis-server is not installed: apt-get install -y redis-server")
        self.redis_password = secrets.token_urlsafe(24)
        self.secret("redis-password", self.redis_password)
        self.redis_port = free_port()
        conf = self.data / "secrets" / "redis.conf"  # the password goes in a file, not on the command line
        conf.touch(mode=0o600)
        conf.write_text(
            f"bind 127.0.0.1\nport {self.redis_port}\nrequirepass {self.redis_password}\n"
            f'save ""\nappendonly no\ndir {self.data}\n'
        )
        svc = self.services.start(
            "redis", [binary, str(conf)], self.redis_port, ready=lambda: port_open(self.redis_port), timeout_s=15
        )
        self.save_state()
        say(
            f"    redis-server on 127.0.0.1:{svc.port} (pid {svc.pid}, password in {self.data}/secrets/redis-password, "
            f"log {svc.log})"
        )

    def start_llm(self) -> None:
        server = llm_server.LlmServer(
            log_path=self.logs / "llm-server.log", port=free_port(), startup_timeout_s=self.args.startup_timeout
        )
        cmd = server.command()  # raises LlmServerError when .venvs/llm-server or the GGUF is missing
        self.llm_key_file = self.secret("llm-api-key", server.api_key)
        self.llm = server

        def ready() -> bool:
            status, body, _ = http_json(
                "GET", f"{server.base_url}/v1/models", headers={"Authorization": f"Bearer {server.api_key}"}, timeout=2
            )
            return status == 200 and any(m.get("id") == server.model for m in body.get("data", []))

        svc = self.services.start(
            "llm-server", cmd, server.port, ready, self.args.startup_timeout, env={"API_KEY": server.api_key}
        )
        self.save_state()
        self.chat_url, self.chat_key, self.chat_model, self.via = (
            server.base_url,
            server.api_key,
            server.model,
            "model server",
        )
        say(
            f"    llama.cpp {server.model} at {server.base_url} (pid {svc.pid}, API key in "
            f"{self.data}/secrets/llm-api-key, log {svc.log})"
        )

    def start_gateway(self) -> None:
        assert self.llm is not None
        missing = [
            p
            for p in (VENVS / "gateway" / "bin" / "litellm", ROOT / "components/app/gateway_config.py")
            if not p.exists()
        ]
        if missing:
            say(
                f"    SKIPPED gateway: {', '.join(map(str, missing))} missing (run `make venv-gateway`); "
                "questions go straight to the model server"
            )
            return
        params = {
            "llm": f"{self.llm.base_url}/v1",
            "model": self.llm.model,
            "redis_port": self.redis_port,
            "corpus": corpus_version(CORPUS),
        }
        code = (
            "import json, sys\n"
            "from components.app.gateway_config import build_gateway_config, GATEWAY_PLAIN_ENV\n"
            "from components.app.gateway_settings import (CacheSettings, GatewaySettings, GuardrailSettings,"
            " RedisSettings, Upstream)\n"
            "a = json.loads(sys.argv[1])\n"
            "s = GatewaySettings(upstreams=[Upstream(name='chat', base_url=a['llm'], served_model=a['model'],"
            " api_key_env='LLM_API_KEY', timeout_s=120)],"
            " redis=RedisSettings(host='127.0.0.1', port=a['redis_port'], password_env='REDIS_PASSWORD'),"
            " cache=CacheSettings(corpus_version=a['corpus'], chat_ttl_s=3600),"
            " guardrails=GuardrailSettings(enabled=False), master_key_env='GATEWAY_MASTER_KEY',"
            " prometheus=False, num_retries=0)\n"
            "r = build_gateway_config(s)\n"
            "print(json.dumps({'yaml': r.yaml, 'secret_env': list(r.secret_env), 'plain_env': GATEWAY_PLAIN_ENV}))\n"
        )
        out = subprocess.run(
            [str(VENVS / "gateway" / "bin" / "python"), "-c", code, json.dumps(params)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        if out.returncode != 0:
            say(
                f"    SKIPPED gateway: its config generator failed: {out.stderr.strip().splitlines()[-1:]}; "
                "questions go straight to the model server"
            )
            return
        rendered = json.loads(out.stdout)
        workdir = self.data / "gateway"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.yaml").write_text(rendered["yaml"])  # secrets appear only as os.environ/ references
        master = "sk-" + secrets.token_urlsafe(24)
        self.secret("gateway-master-key", master)
        env = {
            **rendered["plain_env"],
            "GATEWAY_MASTER_KEY": master,
            "REDIS_PASSWORD": self.redis_password,
            "LLM_API_KEY": self.llm.api_key,
        }
        port = free_port()

        def ready() -> bool:
            status, _, _ = http_json("GET", f"http://127.0.0.1:{port}/health/liveliness", timeout=2)
            return status == 200

        svc = self.services.start(
            "gateway",
            [
                str(VENVS / "gateway" / "bin" / "litellm"),
                "--config",
                str(workdir / "config.yaml"),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ],
            port,
            ready,
            timeout_s=self.args.startup_timeout,
            env=env,
            cwd=workdir,
        )
        self.save_state()
        self.chat_url, self.chat_key, self.chat_model, self.via = f"http://127.0.0.1:{port}", master, "chat", "gateway"
        self.gateway_url, self.gateway_key = self.chat_url, master
        say(
            f"    LiteLLM gateway at {self.chat_url} with the Redis cache (namespace corpus {params['corpus']}; "
            f"pid {svc.pid}, master key in {self.data}/secrets/gateway-master-key, log {svc.log})"
        )

    def start_embeddings(self) -> None:
        """MiniLM (the ingest job's model) behind an OpenAI-compatible /v1/embeddings, for the OGX app."""
        port = free_port()
        self.embed_key = "sk-" + secrets.token_urlsafe(24)
        self.secret("embeddings-api-key", self.embed_key)
        self.embed_url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            status, _, _ = http_json(
                "GET", f"{self.embed_url}/v1/models", headers={"Authorization": f"Bearer {self.embed_key}"}, timeout=2
            )
            return status == 200

        svc = self.services.start(
            "embeddings",
            [str(venv_python("ingest")), "-m", "local.embedding_server", "--host", "127.0.0.1", "--port", str(port)],
            port,
            ready,
            timeout_s=self.args.startup_timeout,
            env={"API_KEY": self.embed_key, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)},
            cwd=ROOT,
        )
        self.save_state()
        say(
            f"    MiniLM embeddings at {self.embed_url}/v1 (pid {svc.pid}, API key in {self.data}/secrets/"
            f"embeddings-api-key, log {svc.log})"
        )

    def start_ogx(self) -> None:
        """The RAG app (OGX 1.5.0): chat through the gateway (or the model server), embeddings from MiniLM,
        vector store in its own Milvus Lite file. Config from components/app/ogx_config.py."""
        python = venv_python("ogx")
        workdir = self.data / "ogx"
        workdir.mkdir(parents=True, exist_ok=True)
        port = free_port()
        upstream_key = self.chat_key
        params = {
            "chat_url": f"{self.chat_url}/v1",
            "chat_model": self.chat_model,
            "embed_url": f"{self.embed_url}/v1",
            "dir": str(workdir),
            "port": port,
        }
        code = (
            "import json, sys\n"
            "from components.app.ogx_config import build_ogx_run_config\n"
            "from components.app.ogx_settings import (EmbeddingSettings, InferenceSettings, MilvusLite,"
            " RagAppSettings, ServerSettings, SqliteStorage)\n"
            "a = json.loads(sys.argv[1])\n"
            "s = RagAppSettings(inference=InferenceSettings(base_url=a['chat_url'], model_ids=[a['chat_model']],"
            " api_key_env='CHAT_API_KEY', max_tokens=512),"
            " embeddings=EmbeddingSettings(base_url=a['embed_url'], model_id='all-MiniLM-L6-v2', dimension=384,"
            " api_key_env='EMBED_API_KEY'),"
            " vector_store=MilvusLite(db_path=a['dir'] + '/milvus.db'), storage=SqliteStorage(dir=a['dir']),"
            " files_dir=a['dir'] + '/files', server=ServerSettings(host='127.0.0.1', port=a['port']))\n"
            "print(build_ogx_run_config(s).yaml)\n"
        )
        out = subprocess.run(
            [str(python), "-c", code, json.dumps(params)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            timeout=120,
        )
        if out.returncode != 0:
            raise StepError(f"OGX config generator failed: {out.stderr.strip()[-800:]}")
        (workdir / "run.yaml").write_text(out.stdout)  # secrets only as ${env.NAME} references
        (workdir / "files").mkdir(exist_ok=True)
        cache = workdir / "tiktoken"
        subprocess.run(
            [str(python), str(ROOT / "app_env" / "tiktoken_cache.py"), str(cache)],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.ogx_url = f"http://127.0.0.1:{port}"
        self.ogx_model = f"vllm/{self.chat_model}"

        def ready() -> bool:
            status, body, _ = http_json("GET", f"{self.ogx_url}/v1/models", timeout=2)
            return status == 200 and any(m.get("id") == self.ogx_model for m in body.get("data", []))

        svc = self.services.start(
            "ogx",
            [str(python.parent / "ogx"), "run", str(workdir / "run.yaml")],
            port,
            ready,
            timeout_s=self.args.startup_timeout,
            env={
                "CHAT_API_KEY": upstream_key,
                "EMBED_API_KEY": self.embed_key,
                "TIKTOKEN_CACHE_DIR": str(cache),
                "HOME": str(workdir),
            },
            cwd=workdir,
        )
        self.save_state()
        say(
            f"    OGX app at {self.ogx_url} (pid {svc.pid}; chat {self.ogx_model} via {self.via}, embeddings "
            f"MiniLM, vector store {workdir / 'milvus.db'}; config {workdir / 'run.yaml'}, log {svc.log})"
        )

    def _upload(self, name: str, text: str) -> str:
        boundary = uuid.uuid4().hex
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nassistants\r\n'
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
                "Content-Type: text/plain\r\n\r\n"
            ).encode()
            + text.encode()
            + f"\r\n--{boundary}--\r\n".encode()
        )
        req = urllib.request.Request(
            f"{self.ogx_url}/v1/files",
            data=body,
            method="POST",
            headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
        )
        with urllib.request.urlopen(req, timeout=120) as resp:
            return str(json.loads(resp.read())["id"])

    def load_vector_store(self) -> None:
        """The ingest job's Docling chunks into an OGX vector store: one file per chunk (so OGX does not
        re-chunk), with the source document and headings as file attributes. Reused when unchanged."""
        chunks_file = self.data / "chunks.jsonl"
        run_job(
            "export",
            self.ingest_cmd("export", str(chunks_file), "--milvus-uri", str(self.milvus), "--log-level", "WARNING"),
            self.logs / "ingest.log",
            timeout_s=300,
        )
        rows = [json.loads(line) for line in chunks_file.read_text().splitlines() if line.strip()]
        version = hashlib.sha256("\n".join(sorted(r["id"] for r in rows)).encode()).hexdigest()[:12]
        name = f"corpus-{version}"
        t0 = time.monotonic()
        status, listing, _ = http_json("GET", f"{self.ogx_url}/v1/vector_stores?limit=100", timeout=60)
        if status != 200:
            raise StepError(f"OGX vector store list answered HTTP {status}; log: {self.logs / 'ogx.log'}")
        for store in listing.get("data", []):
            if store.get("name") == name and store.get("file_counts", {}).get("completed") == len(rows):
                self.vector_store_id = store["id"]
            elif str(store.get("name", "")).startswith("corpus-"):  # an older corpus version
                http_json("DELETE", f"{self.ogx_url}/v1/vector_stores/{store['id']}", timeout=120)
        if self.vector_store_id:
            say(f"    vector store {name} ({self.vector_store_id}) already holds the {len(rows)} chunks: reused")
            self.state["vector_store"] = {"id": self.vector_store_id, "chunks": len(rows), "reused": True}
            return
        status, store, _ = http_json("POST", f"{self.ogx_url}/v1/vector_stores", {"name": name}, timeout=60)
        if status != 200:
            raise StepError(f"OGX could not create a vector store: HTTP {status} {str(store)[:300]}")
        self.vector_store_id = store["id"]

        def add(row: dict) -> str:
            fname = f"{row['source'].replace('/', '__')}#{int(row['chunk_index']):03d}.txt"
            file_id = self._upload(fname, row["text"])
            attrs: dict[str, object] = {
                "source": row["source"][:512],
                "title": str(row.get("title") or "")[:512],
                "section": " > ".join(row.get("headings") or [])[:512],
                "chunk_index": int(row["chunk_index"]),
            }
            if row.get("page") is not None:
                attrs["page"] = int(row["page"])
            status, attached, _ = http_json(
                "POST",
                f"{self.ogx_url}/v1/vector_stores/{self.vector_store_id}/files",
                {
                    "file_id": file_id,
                    "attributes": attrs,
                    # larger than any Docling chunk (<= 256 MiniLM tokens): OGX keeps each chunk whole
                    "chunking_strategy": {
                        "type": "static",
                        "static": {"max_chunk_size_tokens": 1024, "chunk_overlap_tokens": 0},
                    },
                },
                timeout=300,
            )
            if status != 200 or attached.get("status") != "completed":
                return f"{fname}: HTTP {status} {str(attached)[:200]}"
            return ""

        with ThreadPoolExecutor(4) as pool:
            errors = [e for e in pool.map(add, rows) if e]
        if errors:
            raise StepError(
                f"{len(errors)} chunks failed to load into OGX, e.g. {errors[0]}; log: {self.logs / 'ogx.log'}"
            )
        seconds = time.monotonic() - t0
        say(
            f"    {len(rows)} Docling chunks from {chunks_file.name} into OGX vector store {name} "
            f"({self.vector_store_id}) in {seconds:.0f}s"
        )
        self.state["vector_store"] = {
            "id": self.vector_store_id,
            "chunks": len(rows),
            "reused": False,
            "seconds": round(seconds, 1),
        }

    def ingest(self) -> dict:
        summary_path = self.data / "ingest-summary.json"
        t0 = time.monotonic()
        run_job(
            "ingest",
            self.ingest_cmd(
                "ingest",
                str(CORPUS),
                "--milvus-uri",
                str(self.milvus),
                "--summary-json",
                str(summary_path),
                "--log-level",
                "WARNING",
            ),
            self.logs / "ingest.log",
            timeout_s=1800,
        )
        summary = json.loads(summary_path.read_text())
        say(
            f"    {summary['documents']} documents: {len(summary['ingested'])} ingested, "
            f"{len(summary['unchanged'])} unchanged (skipped by hash), {len(summary['skipped'])} failed; "
            f"{summary['chunks_total']} chunks in {self.milvus} ({time.monotonic() - t0:.0f}s)"
        )
        if summary["skipped"]:
            raise StepError(f"ingest could not convert {summary['skipped']}; log: {self.logs / 'ingest.log'}")
        self.state["ingest"] = {k: summary[k] for k in ("documents", "ingested", "unchanged", "chunks_total")}
        return summary

    def evaluate(self, questions_file: Path) -> dict:
        out_json = self.data / "evaluation.json"
        run_job(
            "evaluate",
            self.ingest_cmd(
                "evaluate",
                "--questions",
                str(questions_file),
                "--corpus",
                str(CORPUS),
                "--no-ingest",  # step 2 has just ingested
                "--k",
                "5",
                "--json",
                str(out_json),
                "--milvus-uri",
                str(self.milvus),
                "--log-level",
                "WARNING",
            ),
            self.logs / "ingest.log",
            timeout_s=600,
        )
        result = json.loads(out_json.read_text())
        recall, mrr = result["recall@5"], result["mrr@5"]
        misses = [r["question"] for r in result["results"] if not r["rank"]]
        say(
            f"    {result['questions']} labelled questions: recall@5 = {recall:.3f}   MRR@5 = {mrr:.3f}"
            + (f"   (missed: {misses})" if misses else "")
        )
        self.state["evaluation"] = {"recall@5": recall, "mrr@5": mrr, "questions": result["questions"]}
        return result

    def chat(
        self, messages: list[dict[str, str]], url: str = "", key: str | None = None, model: str = ""
    ) -> tuple[int, dict, dict[str, str], float]:
        key = self.chat_key if key is None else key
        t0 = time.perf_counter()
        status, body, headers = http_json(
            "POST",
            f"{url or self.chat_url}/v1/chat/completions",
            {
                "model": model or self.chat_model,
                "messages": messages,
                "temperature": 0,
                "max_tokens": self.args.max_tokens,
            },
            headers={"Authorization": f"Bearer {key}"} if key else {},
            timeout=300,
        )
        return status, body, headers, time.perf_counter() - t0

    def is_hit(self, headers: dict[str, str]) -> bool:
        """LiteLLM sets x-litellm-cache-key only when the response came from the cache."""
        return self.via == "gateway" and bool(headers.get("x-litellm-cache-key"))

    def retrieve(self, questions: list[dict[str, str]]) -> list[list[dict[str, str]]]:
        """Top chunks per question from the ingest job's store: one `search` process for all questions."""
        qfile = self.data / "ask-questions.json"
        out = self.data / "ask-hits.json"
        qfile.write_text(json.dumps([q["question"] for q in questions]))
        run_job(
            "search",
            self.ingest_cmd(
                "search",
                "--questions-json",
                str(qfile),
                "--json",
                str(out),
                "--k",
                str(self.args.context_chunks),
                "--milvus-uri",
                str(self.milvus),
                "--log-level",
                "WARNING",
            ),
            self.logs / "search.log",
            timeout_s=300,
        )
        results = json.loads(out.read_text())
        return [[{"source": h["source"], "text": h["text"]} for h in r["hits"]] for r in results]

    def ogx_search(self, question: str) -> list[dict[str, str]]:
        """Top chunks from the app's vector store (OGX embeds the question through the MiniLM endpoint)."""
        status, body, _ = http_json(
            "POST",
            f"{self.ogx_url}/v1/vector_stores/{self.vector_store_id}/search",
            {"query": question, "max_num_results": self.args.context_chunks},
            timeout=120,
        )
        if status != 200:
            raise StepError(
                f"OGX vector store search answered HTTP {status}: {str(body)[:300]}; log: {self.logs / 'ogx.log'}"
            )
        return [
            {
                "source": str((r.get("attributes") or {}).get("source") or r.get("filename", "?")),
                "text": " ".join(c.get("text", "") for c in r.get("content", [])),
            }
            for r in body.get("data", [])
        ]

    def ask(self, questions: list[dict[str, str]]) -> None:
        ogx = self.args.app == "ogx"
        retrieved = [] if ogx else self.retrieve(questions)
        for n, q in enumerate(questions):
            hits = self.ogx_search(q["question"]) if ogx else retrieved[n]
            if not hits:
                log = self.logs / ("ogx.log" if ogx else "search.log")
                raise StepError(f"search returned no chunks for {q['question']!r}; log: {log}")
            context = "\n\n".join(f"[{i}] ({h['source']}) {h['text']}" for i, h in enumerate(hits, 1))
            messages = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {q['question']}"},
            ]
            if ogx:
                status, body, headers, seconds = self.chat(messages, self.ogx_url, "", self.ogx_model)
                via = f"OGX -> {self.via}"
            else:
                status, body, headers, seconds = self.chat(messages)
                via = self.via
            if status != 200:
                log = self.logs / ("ogx.log" if ogx else "gateway.log" if self.via == "gateway" else "llm-server.log")
                raise StepError(f"{via} answered HTTP {status}: {str(body)[:300]}; log: {log}")
            answer = " ".join(str(body["choices"][0]["message"]["content"]).split())
            sources = list(dict.fromkeys(h["source"] for h in hits))
            self.answers.append(
                {
                    "question": q["question"],
                    "expected": q["source"],
                    "answer": answer,
                    "sources": sources,
                    "messages": messages,
                    "seconds": round(seconds, 3),
                    "cache_hit": None if ogx else self.is_hit(headers),  # OGX does not pass the header on
                    "via": via,
                }
            )
            say(
                f"    Q: {q['question']}\n    A: {answer}\n    sources: {', '.join(sources)}   "
                f"({seconds:.2f}s via {via})"
            )
        self.state["answers"] = [{k: v for k, v in a.items() if k != "messages"} for a in self.answers]

    def cache(self) -> None:
        if self.via != "gateway":
            say("    SKIPPED: no gateway, so no cache to measure")
            return
        rounds: list[list[tuple[bool, float]]] = []
        for n in range(2):
            results: list[tuple[bool, float]] = []
            for a in self.answers:
                if n == 0 and a.get("cache_hit") is not None:  # the answers of step 4 were the first round
                    results.append((bool(a.get("cache_hit")), float(a["seconds"])))  # type: ignore[arg-type]
                    continue
                status, _, headers, seconds = self.chat(a["messages"])  # type: ignore[arg-type]
                if status != 200:
                    raise StepError(f"gateway answered HTTP {status}; log: {self.logs / 'gateway.log'}")
                results.append((self.is_hit(headers), seconds))
            rounds.append(results)
        flat = [r for rs in rounds for r in rs]
        hits = [s for h, s in flat if h]
        misses = [s for h, s in flat if not h]
        rate = len(hits) / len(flat)

        def ms(xs: list[float]) -> str:
            return f"{1000 * sorted(xs)[len(xs) // 2]:.0f} ms" if xs else "n/a"

        say(
            f"    {len(flat)} requests ({len(self.answers)} questions asked twice): hit rate {rate:.0%} "
            f"({len(hits)} hits, {len(misses)} misses); median latency hit {ms(hits)} vs miss {ms(misses)}"
        )
        self.state["cache"] = {
            "requests": len(flat),
            "hits": len(hits),
            "hit_rate": rate,
            "hit_median_s": sorted(hits)[len(hits) // 2] if hits else None,
            "miss_median_s": sorted(misses)[len(misses) // 2] if misses else None,
        }

    def benchmark(self) -> None:
        assert self.llm is not None
        out_dir = self.data / "benchmark" / time.strftime("%Y%m%d-%H%M%S")
        text = run_job(
            "benchmark",
            [
                str(venv_python("benchmark")),
                "-m",
                "workloads.benchmark",
                "run",
                "--target",
                self.llm.base_url,
                "--model",
                self.llm.model,
                "--output-dir",
                str(out_dir),
                "--scenario",
                "smoke",
                "--profile",
                "synchronous",
                "--max-seconds",
                str(self.args.bench_seconds),
                "--max-requests",
                "20",
                "--tokenizer-gguf",
                str(llm_server.find_gguf()),
                "--api-key-file",
                str(self.llm_key_file),
                "--workers",
                "1",
                "--label",
                "demo-smoke",
            ],
            self.logs / "benchmark.log",
            timeout_s=600,
        )
        report = out_dir / "report.md"
        for line in text.splitlines():
            if line.startswith("status:"):
                say(f"    {line}")
        if not report.exists():
            raise StepError(f"benchmark wrote no report at {report}; log: {self.logs / 'benchmark.log'}")
        say(f"    report: {report} (also report.html, summary.json)")
        self.state["benchmark_report"] = str(report)


def load_questions(args: argparse.Namespace) -> list[dict[str, str]]:
    if args.questions:
        return list(json.loads(Path(args.questions).read_text()))  # JSON: python3 has no YAML reader
    return QUESTIONS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python3 -m local.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT / ".demo"), help="data, logs and secrets (default .demo)")
    parser.add_argument("--ask", type=int, default=4, help="questions to answer with the model (default 4)")
    parser.add_argument(
        "--questions",
        help="JSON list of {question, source} to ask instead of the built-in set (recall is still "
        "measured on corpus/questions.yaml when present)",
    )
    parser.add_argument("--context-chunks", type=int, default=3, help="chunks given to the model (default 3)")
    parser.add_argument("--max-tokens", type=int, default=96, help="answer length in tokens (default 96)")
    parser.add_argument("--bench-seconds", type=float, default=5.0, help="benchmark duration (default 5)")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the GuideLLM benchmark")
    parser.add_argument("--no-gateway", action="store_true", help="ask the model server directly")
    parser.add_argument(
        "--app",
        choices=["ogx", "direct"],
        default="ogx" if (VENVS / "ogx" / "bin" / "ogx").exists() else "direct",
        help="ogx: ask through the OGX (Llama Stack) app's OpenAI-compatible API (vector store search + chat "
        "completions); direct: the ingest job's search, then the gateway (default: ogx when .venvs/ogx "
        "exists, else direct; now %(default)s)",
    )
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds per service start-up")
    args = parser.parse_args(argv)

    demo = Demo(args)
    demo.data.mkdir(parents=True, exist_ok=True)
    t_start = time.monotonic()

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    code = 0
    try:
        questions = load_questions(args)
        qfile = ROOT / "corpus" / "questions.yaml"
        if not qfile.exists():  # the labelled set; --questions only changes what is asked
            qfile = demo.data / "questions.yaml"
            write_questions(qfile, questions)
        step(1, "starting services on 127.0.0.1 with generated credentials")
        demo.start_redis()
        demo.start_llm()
        if args.no_gateway:
            say("    SKIPPED gateway (--no-gateway): questions go straight to the model server")
        else:
            demo.start_gateway()
        if args.app == "ogx":
            demo.start_embeddings()
            demo.start_ogx()
        else:
            say("    OGX app: not started (--app direct): questions go retrieve -> " + demo.via)
        step(2, f"ingesting {CORPUS.relative_to(ROOT)} into {demo.milvus}")
        demo.ingest()
        if args.app == "ogx":
            demo.load_vector_store()
        step(3, f"retrieval quality on {qfile}")
        demo.evaluate(qfile)
        where = "OGX: vector store search, then chat completions" if args.app == "ogx" else "ingest job's search"
        step(
            4,
            f"asking {min(args.ask, len(questions))} questions (top {args.context_chunks} chunks as context; {where})",
        )
        demo.ask(questions[: args.ask])
        step(5, "cache effect: the same questions again through the gateway")
        demo.cache()
        step(6, "short benchmark of the model server (GuideLLM, smoke scenario)")
        if args.no_benchmark:
            say("    SKIPPED (--no-benchmark)")
        else:
            demo.benchmark()
    except KeyboardInterrupt:
        say("\ninterrupted: stopping services")
        code = 130
    except (StepError, ServiceError, llm_server.LlmServerError) as err:
        say(f"\nFAILED: {err}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no second interrupt in the middle of clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        step(7, "shutting down")
        demo.save_state()
        for line in demo.services.stop_all():
            say(f"    {line}")
        demo.state["stopped"] = True
        demo.state["exit_code"] = code
        demo.state["seconds"] = round(time.monotonic() - t_start, 1)
        demo.state_file.write_text(json.dumps(demo.state, indent=2) + "\n")
        say(
            f"    data and logs kept in {demo.data}; total {time.monotonic() - t_start:.0f}s; "
            f"{'ok' if code == 0 else 'interrupted' if code == 130 else 'FAILED'}"
        )
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return code


if __name__ == "__main__":
    sys.exit(main())
