"""Step 4: questions answered with retrieved context: through the OGX app (vector store search, then chat
completions; --app ogx) or through the ingest job's search and the gateway (--app direct)."""

from __future__ import annotations

import json
import time
from typing import Any

from local.demo.context import Demo, StepError, say
from local.demo.ingest import ingest_job
from local.process import http_json

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Be brief and cite the "
    "passages you used as [1], [2], ..."
)


def chat(
    demo: Demo, messages: list[dict[str, str]], url: str = "", key: str | None = None, model: str = ""
) -> tuple[int, dict[str, Any], dict[str, str], float]:
    """One chat completion (the gateway or model server unless told otherwise); returns status, body, headers,
    seconds."""
    ep = demo.endpoints
    key = ep.chat_key if key is None else key
    t0 = time.perf_counter()
    status, body, headers = http_json(
        "POST",
        f"{url or ep.chat_url}/v1/chat/completions",
        {"model": model or ep.chat_model, "messages": messages, "temperature": 0, "max_tokens": demo.args.max_tokens},
        headers={"Authorization": f"Bearer {key}"} if key else {},
        timeout=300,
    )
    return status, body, headers, time.perf_counter() - t0


def is_hit(demo: Demo, headers: dict[str, str]) -> bool:
    """LiteLLM sets x-litellm-cache-key only when the response came from the cache."""
    return demo.endpoints.via == "gateway" and bool(headers.get("x-litellm-cache-key"))


def retrieve(demo: Demo, questions: list[dict[str, str]]) -> list[list[dict[str, str]]]:
    """Top chunks per question from the ingest job's store: one `search` process for all questions."""
    qfile = demo.data / "ask-questions.json"
    out = demo.data / "ask-hits.json"
    qfile.write_text(json.dumps([q["question"] for q in questions]))
    args = ["search", "--questions-json", str(qfile), "--json", str(out), "--k", str(demo.args.context_chunks)]
    ingest_job(demo, "search", args, demo.logs / "search.log", timeout_s=300)
    results = json.loads(out.read_text())
    return [[{"source": h["source"], "text": h["text"]} for h in r["hits"]] for r in results]


def ogx_search(demo: Demo, question: str) -> list[dict[str, str]]:
    """Top chunks from the app's vector store (OGX embeds the question through the MiniLM endpoint)."""
    ep = demo.endpoints
    status, body, _ = http_json(
        "POST",
        f"{ep.ogx_url}/v1/vector_stores/{ep.vector_store_id}/search",
        {"query": question, "max_num_results": demo.args.context_chunks},
        timeout=120,
    )
    if status != 200:
        raise StepError(
            f"OGX vector store search answered HTTP {status}: {str(body)[:300]}; log: {demo.logs / 'ogx.log'}"
        )
    return [
        {
            "source": str((r.get("attributes") or {}).get("source") or r.get("filename", "?")),
            "text": " ".join(c.get("text", "") for c in r.get("content", [])),
        }
        for r in body.get("data", [])
    ]


def ask(demo: Demo, questions: list[dict[str, str]]) -> None:
    ogx = demo.app
    ep = demo.endpoints
    retrieved = [] if ogx else retrieve(demo, questions)
    for n, q in enumerate(questions):
        hits = ogx_search(demo, q["question"]) if ogx else retrieved[n]
        if not hits:
            log = demo.logs / ("ogx.log" if ogx else "search.log")
            raise StepError(f"search returned no chunks for {q['question']!r}; log: {log}")
        context = "\n\n".join(f"[{i}] ({h['source']}) {h['text']}" for i, h in enumerate(hits, 1))
        messages = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {q['question']}"},
        ]
        if ogx:
            status, body, headers, seconds = chat(demo, messages, ep.ogx_url, "", ep.ogx_model)
            via = f"OGX -> {ep.via}"
        else:
            status, body, headers, seconds = chat(demo, messages)
            via = ep.via
        if status != 200:
            log = demo.logs / ("ogx.log" if ogx else "gateway.log" if ep.via == "gateway" else "llm-server.log")
            raise StepError(f"{via} answered HTTP {status}: {str(body)[:300]}; log: {log}")
        answer = " ".join(str(body["choices"][0]["message"]["content"]).split())
        sources = list(dict.fromkeys(h["source"] for h in hits))
        demo.answers.append(
            {
                "question": q["question"],
                "expected": q["source"],
                "answer": answer,
                "sources": sources,
                "messages": messages,
                "seconds": round(seconds, 3),
                "cache_hit": None if ogx else is_hit(demo, headers),  # OGX does not pass the header on
                "via": via,
            }
        )
        say(f"    Q: {q['question']}\n    A: {answer}\n    sources: {', '.join(sources)}   ({seconds:.2f}s via {via})")
    demo.state["answers"] = [{k: v for k, v in a.items() if k != "messages"} for a in demo.answers]
