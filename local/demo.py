"""The local demo of the Lean RAG stack: `python3 -m local.demo` (standard library only).

Starts redis-server, the llama.cpp model server and the LiteLLM gateway (Redis cache) on 127.0.0.1 with
generated credentials, ingests corpus/docs into Milvus Lite, reports recall@5 and MRR, answers a few
questions with retrieved context and their sources, measures the cache, runs a short GuideLLM benchmark,
and stops everything (also on Ctrl-C, SIGTERM or failure). Data and logs stay in .demo/ (see docs/demo.md).
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
        say(
            f"    LiteLLM gateway at {self.chat_url} with the Redis cache (namespace corpus {params['corpus']}; "
            f"pid {svc.pid}, master key in {self.data}/secrets/gateway-master-key, log {svc.log})"
        )

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
        text = run_job(
            "evaluate",
            self.ingest_cmd(
                "evaluate",
                "--questions",
                str(questions_file),
                "--corpus",
                str(CORPUS),
                # not --no-ingest: that path searches a released collection
                # (ingest job bug); its ingest pass re-checks the hashes instead
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
        m = re.search(r"ingested\s+(\d+)", text)
        if m:
            say(f"    (evaluate's own ingest pass re-ingested {m.group(1)} documents: unchanged ones are skipped)")
        recall, mrr = result["recall@5"], result["mrr@5"]
        misses = [r["question"] for r in result["results"] if not r["rank"]]
        say(
            f"    {result['questions']} labelled questions: recall@5 = {recall:.3f}   MRR@5 = {mrr:.3f}"
            + (f"   (missed: {misses})" if misses else "")
        )
        self.state["evaluation"] = {"recall@5": recall, "mrr@5": mrr, "questions": result["questions"]}
        return result

    def chat(self, messages: list[dict[str, str]]) -> tuple[int, dict, dict[str, str], float]:
        t0 = time.perf_counter()
        status, body, headers = http_json(
            "POST",
            f"{self.chat_url}/v1/chat/completions",
            {"model": self.chat_model, "messages": messages, "temperature": 0, "max_tokens": self.args.max_tokens},
            headers={"Authorization": f"Bearer {self.chat_key}"},
            timeout=300,
        )
        return status, body, headers, time.perf_counter() - t0

    def is_hit(self, headers: dict[str, str]) -> bool:
        """LiteLLM sets x-litellm-cache-key only when the response came from the cache."""
        return self.via == "gateway" and bool(headers.get("x-litellm-cache-key"))

    def ask(self, questions: list[dict[str, str]]) -> None:
        for q in questions:
            hits = parse_hits(
                run_job(
                    "search",
                    self.ingest_cmd(
                        "search",
                        "--k",
                        str(self.args.context_chunks),
                        "--milvus-uri",
                        str(self.milvus),
                        q["question"],
                        "--log-level",
                        "WARNING",
                    ),
                    self.logs / "search.log",
                    timeout_s=300,
                )
            )
            if not hits:
                raise StepError(f"search returned no chunks for {q['question']!r}; log: {self.logs / 'search.log'}")
            context = "\n\n".join(f"[{i}] ({h['source']}) {h['text']}" for i, h in enumerate(hits, 1))
            messages = [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {q['question']}"},
            ]
            status, body, headers, seconds = self.chat(messages)
            if status != 200:
                log = self.logs / ("gateway.log" if self.via == "gateway" else "llm-server.log")
                raise StepError(f"{self.via} answered HTTP {status}: {str(body)[:300]}; log: {log}")
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
                    "cache_hit": self.is_hit(headers),
                }
            )
            say(
                f"    Q: {q['question']}\n    A: {answer}\n    sources: {', '.join(sources)}   "
                f"({seconds:.2f}s via {self.via})"
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
                if n == 0:  # the answers of step 4 were the first round
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
        say("    OGX app: not started (its local run config is not wired into the demo yet; see docs/demo.md)")
        step(2, f"ingesting {CORPUS.relative_to(ROOT)} into {demo.milvus}")
        demo.ingest()
        step(3, f"retrieval quality on {qfile}")
        demo.evaluate(qfile)
        step(4, f"asking {min(args.ask, len(questions))} questions (top {args.context_chunks} chunks as context)")
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
