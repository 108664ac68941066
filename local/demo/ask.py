"""Step 4: questions as a client asks them, with the OpenAI SDK (the snippet is printed): find the stack's vector
store by name on the app (the one the ingest Job wrote), search it there (the app embeds the question through the
gateway's embedding model), then chat completions through the gateway (which calls the CPU tier) with the hits as
numbered context. Each answer is printed with the documents of the passages it was given (its sources)."""

from __future__ import annotations

import re
import time
from typing import Any

import openai
from openai import OpenAI

from infra.client_env import OpenAIClient
from local.demo.context import Demo, StepError, say

CACHE_HIT_HEADER = "x-litellm-cache-key"

SYSTEM_PROMPT = (
    "Answer the question using only the numbered context passages. Be brief and cite the "
    "passages you used as [1], [2], ..."
)


def find_store(app: OpenAI, name: str) -> Any:
    """The vector store named `name` (the ingest Job's newest generation if two briefly share the name)."""
    stores = [s for s in app.vector_stores.list(limit=100) if s.name == name]
    if not stores:
        raise StepError(f"the app has no vector store named {name!r}: did the ingest step run?")

    def generation(store: Any) -> int:
        meta = store.metadata or {}
        match = re.search(r'"generation":\s*(\d+)', str(meta.get("leanrag_ingest", "")))
        return int(match.group(1)) if match else 0

    return max(stores, key=generation)


def search(app: OpenAI, store_id: str, question: str, k: int) -> list[dict[str, str]]:
    """The top `k` passages of the app's search: source document and text."""
    hits = app.vector_stores.search(store_id, query=question, max_num_results=k)
    return [
        {
            "source": str((hit.attributes or {}).get("source") or hit.filename),
            "text": " ".join(part.text for part in hit.content),
        }
        for hit in hits.data
    ]


SNIPPET = """\
    from pathlib import Path
    from openai import OpenAI

    app = OpenAI(base_url="{app_url}", api_key="none")  # ragAppUrl (the local stack leaves the app's auth off)
    gateway = OpenAI(base_url="{gateway_url}",  # gatewayBaseUrl
                     api_key=Path("{key_file}").read_text())  # gatewayMasterKey
    store = next(s for s in app.vector_stores.list() if s.name == "{store}")  # vectorStoreName
    hits = app.vector_stores.search(store.id, query=question, max_num_results={k}).data
    context = "\\n\\n".join(
        f"[{{i}}] ({{h.attributes['source']}}) {{h.content[0].text}}" for i, h in enumerate(hits, 1))
    reply = gateway.chat.completions.create(model="{model}", temperature=0, max_tokens={max_tokens}, messages=[
        {{"role": "system", "content": SYSTEM_PROMPT}},
        {{"role": "user", "content": f"Context:\\n{{context}}\\n\\nQuestion: {{question}}"}}])
"""


def send(gateway: OpenAI, model: str, messages: list[Any], max_tokens: int) -> tuple[str, bool, float]:
    """One chat completion through the gateway: the answer, whether it came from the gateway's cache (LiteLLM sets
    `x-litellm-cache-key` only then), seconds."""
    t0 = time.perf_counter()
    raw = gateway.chat.completions.with_raw_response.create(
        model=model, messages=messages, max_tokens=max_tokens, temperature=0
    )
    reply = raw.parse()
    answer = " ".join(str(reply.choices[0].message.content or "").split())
    return answer, bool(raw.headers.get(CACHE_HIT_HEADER)), time.perf_counter() - t0


def ask(demo: Demo, questions: list[dict[str, str]], settings: dict[str, OpenAIClient], sdk: dict[str, OpenAI]) -> None:
    app, gateway, model = sdk["app"], sdk["gateway"], settings["gateway"].model
    store = find_store(app, str(demo.state["ingest"]["vector_store"]))
    written = demo.state["ingest"]["vector_store_id"]
    if store.id != written:
        raise StepError(f"the app's store {store.name!r} is {store.id}, but the ingest Job wrote {written}")
    say(
        f"    vector store {store.name!r} ({store.id}): the one the ingest Job wrote; chat model {model} "
        "through the gateway"
    )
    key_file = demo.site.secrets.secret_folder("rag", "gateway-master-key") / "master-key"
    snippet = SNIPPET.format(
        app_url=settings["app"].base_url,
        gateway_url=settings["gateway"].base_url,
        key_file=key_file,
        store=store.name,
        k=demo.args.context_chunks,
        model=model,
        max_tokens=demo.args.max_tokens,
    )
    say("    as a client does it (OpenAI SDK, the stack's outputs as this machine sees them):\n")
    say(snippet)
    for q in questions:
        t0 = time.perf_counter()
        hits = search(app, store.id, q["question"], demo.args.context_chunks)
        if not hits:
            raise StepError(f"the app's search found nothing for {q['question']!r}; log: {demo.log('rag-app')}")
        searched = time.perf_counter() - t0
        context = "\n\n".join(f"[{i}] ({h['source']}) {h['text']}" for i, h in enumerate(hits, 1))
        messages: list[Any] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {q['question']}"},
        ]
        try:
            answer, hit, seconds = send(gateway, model, messages, demo.args.max_tokens)
        except openai.APIError as err:
            raise StepError(f"the gateway's chat completions failed: {err}; log: {demo.log('gateway')}") from None
        sources = list(dict.fromkeys(h["source"] for h in hits))
        cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer) if 0 < int(n) <= len(hits)})
        demo.answers.append(
            {
                "question": q["question"],
                "expected": q["source"],
                "answer": answer,
                "sources": sources,
                "cited": [hits[n - 1]["source"] for n in cited],
                "messages": messages,
                "search_seconds": round(searched, 3),
                "seconds": round(seconds, 3),
                "cache_hit": hit,
                "via": "app search -> gateway chat -> llama.cpp",
            }
        )
        say(
            f"    Q: {q['question']}\n    A: {answer}\n    sources: {', '.join(sources)}   (search {searched:.2f}s, "
            f"answer {seconds:.2f}s{', from the cache' if hit else ''})"
        )
    demo.state["answers"] = [{k: v for k, v in a.items() if k != "messages"} for a in demo.answers]
