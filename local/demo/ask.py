"""Step 4: questions through the app's API with the OpenAI SDK, as `leanrag client-env`'s app snippet asks them:
find the stack's vector store by name (the one the ingest Job wrote), search it, then chat completions on the app
(the app's inference provider is the gateway, which calls the CPU tier) with the hits as numbered context. Each
answer is printed with the documents of the passages it was given (its sources)."""

from __future__ import annotations

import re
import time
from typing import Any

import openai
from openai import OpenAI

from local.demo.client import OpenAIClient
from local.demo.context import Demo, StepError, say

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


def ask(demo: Demo, questions: list[dict[str, str]], settings: dict[str, OpenAIClient], sdk: dict[str, OpenAI]) -> None:
    app, model = sdk["app"], settings["app"].model
    store = find_store(app, str(demo.state["ingest"]["vector_store"]))
    written = demo.state["ingest"]["vector_store_id"]
    if store.id != written:
        raise StepError(f"the app's store {store.name!r} is {store.id}, but the ingest Job wrote {written}")
    say(f"    vector store {store.name!r} ({store.id}): the one the ingest Job wrote; chat model {model}")
    for q in questions:
        t0 = time.perf_counter()
        hits = search(app, store.id, q["question"], demo.args.context_chunks)
        if not hits:
            raise StepError(f"the app's search found nothing for {q['question']!r}; log: {demo.log('rag-app')}")
        context = "\n\n".join(f"[{i}] ({h['source']}) {h['text']}" for i, h in enumerate(hits, 1))
        messages: list[Any] = [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"Context:\n{context}\n\nQuestion: {q['question']}"},
        ]
        try:
            reply = app.chat.completions.create(
                model=model, messages=messages, max_tokens=demo.args.max_tokens, temperature=0
            )
        except openai.APIError as err:
            raise StepError(f"the app's chat completions failed: {err}; logs: {demo.logs}") from None
        seconds = time.perf_counter() - t0
        answer = " ".join(str(reply.choices[0].message.content or "").split())
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
                "seconds": round(seconds, 3),
                "via": "app search -> app chat -> gateway -> llama.cpp",
            }
        )
        say(f"    Q: {q['question']}\n    A: {answer}\n    sources: {', '.join(sources)}   ({seconds:.2f}s)")
    demo.state["answers"] = [{k: v for k, v in a.items() if k != "messages"} for a in demo.answers]
