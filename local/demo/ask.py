"""Step 4: questions answered over the RAG path as the stack configures it (the snippet is printed): find the stack's
vector store by name on the app (the one the ingest Job wrote); retrieve with the app's query path and the stack's
retrieval settings (`workloads.ingest context` with the ingest Job's rendered env, platform.app.retrieval: the app's
search, which embeds the question through the gateway's embedding model, fused with BM25, reranked when the stack
serves a reranker, then the passages with their citations up to the context budget, counted with the chat model's
tokenizer); then chat completions through the gateway (which calls the CPU tier) with that context. Each answer is
printed with its citations (source, page, headings)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import openai
from openai import OpenAI

from infra.client_env import OpenAIClient
from local.demo.context import Demo, StepError, say
from local.demo.ingest import IngestJob
from local.llm_server import find_gguf

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


def retrieve(demo: Demo, job: IngestJob, questions: list[str], tokenizer: Path) -> dict[str, Any]:
    """The RAG app's query path with the stack's retrieval settings: `workloads.ingest context` run as step 3 runs
    `evaluate`, with the ingest Job's rendered environment (INGEST_SEARCH_HYBRID, INGEST_RERANK,
    INGEST_RETRIEVAL_CANDIDATES, INGEST_CONTEXT_TOKENS, ... from platform.app.retrieval): first stage, rerank when
    the stack serves a reranker, then each question's context up to the budget with its citations."""
    asked, out = demo.data / "ask-questions.json", demo.data / "context.json"
    asked.write_text(json.dumps(questions))
    out.unlink(missing_ok=True)
    job.run(
        demo,
        ["context", "--questions-json", str(asked), "--tokenizer", str(tokenizer), "--json", str(out)],
        timeout_s=600,
    )
    data: dict[str, Any] = json.loads(out.read_text())
    return data


SNIPPET = """\
    import json, subprocess
    from pathlib import Path
    from openai import OpenAI

    # retrieval: the app's query path (workloads/ingest/retrieval.py) with the ingest Job's rendered env
    # (INGEST_APP_URL={app_url}, INGEST_VECTOR_STORE={store}, INGEST_SEARCH_HYBRID={hybrid},
    #  INGEST_RERANK={rerank}, INGEST_CONTEXT_TOKENS={budget}, ...; platform.app.retrieval)
    out = subprocess.run(["python", "-m", "workloads.ingest", "context", question,
                          "--tokenizer", "{tokenizer}", "--json", "-"], capture_output=True, text=True).stdout
    context = json.loads(out)["results"][0]["context"]  # "[1] source, page (headings)\\ntext ..." up to {budget} tokens
    gateway = OpenAI(base_url="{gateway_url}",  # gatewayBaseUrl
                     api_key=Path("{key_file}").read_text())  # gatewayMasterKey
    reply = gateway.chat.completions.create(model="{model}", temperature=0, max_tokens={max_tokens}, messages=[
        # the passages go in the system message: the gateway checks what the user types for prompt injection,
        # not the operator's documents (docs/retrieval.md)
        {{"role": "system", "content": f"{{SYSTEM_PROMPT}}\\n\\nContext:\\n{{context}}"}},
        {{"role": "user", "content": question}}])
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


def ask(
    demo: Demo,
    job: IngestJob,
    questions: list[dict[str, str]],
    settings: dict[str, OpenAIClient],
    sdk: dict[str, OpenAI],
) -> None:
    app, gateway, model = sdk["app"], sdk["gateway"], settings["gateway"].model
    store = find_store(app, str(demo.state["ingest"]["vector_store"]))
    written = demo.state["ingest"]["vector_store_id"]
    if store.id != written:
        raise StepError(f"the app's store {store.name!r} is {store.id}, but the ingest Job wrote {written}")
    tokenizer = find_gguf()  # the GGUF the local chat server loads: its tokenizer counts the context budget
    data = retrieve(demo, job, [q["question"] for q in questions], tokenizer)
    if data["vector_store"]["id"] != written:
        raise StepError(f"the query path searched store {data['vector_store']['id']}, not {written} (ingest's)")
    stage = data["settings"]
    budget = int(stage["context_tokens"])
    rerank = f"rerank on ({stage['reranker_model']})" if stage["rerank"] else "rerank off"
    via = f"app search ({stage['hybrid']} first stage, {rerank}, {budget}-token context) -> gateway chat -> llama.cpp"
    say(
        f"    vector store {store.name!r} ({store.id}): the one the ingest Job wrote; chat model {model} through "
        "the gateway\n"
        f"    retrieval as the stack renders platform.app.retrieval into the ingest Job's env: first stage "
        f"{stage['hybrid']}, {stage['candidates']} candidates, {rerank}, context budget {budget} tokens counted "
        f"with {tokenizer.name}'s tokenizer\n    {data['note']}"
    )
    key_file = demo.site.secrets.secret_folder("rag", "gateway-master-key") / "master-key"
    snippet = SNIPPET.format(
        app_url=job.env["INGEST_APP_URL"],
        store=store.name,
        hybrid=stage["hybrid"],
        rerank="on" if stage["rerank"] else "off",
        budget=budget,
        tokenizer=tokenizer,
        gateway_url=settings["gateway"].base_url,
        key_file=key_file,
        model=model,
        max_tokens=demo.args.max_tokens,
    )
    say("    as a client does it (the stack's outputs and the ingest Job's env as this machine sees them):\n")
    say(snippet)
    for q, found in zip(questions, data["results"], strict=True):
        passages = found["passages"]
        if not passages:
            raise StepError(f"the app's search found nothing for {q['question']!r}; log: {demo.log('rag-app')}")
        messages: list[Any] = [
            {"role": "system", "content": f"{SYSTEM_PROMPT}\n\nContext:\n{found['context']}"},
            {"role": "user", "content": q["question"]},
        ]
        try:
            answer, hit, seconds = send(gateway, model, messages, demo.args.max_tokens)
        except openai.APIError as err:
            raise StepError(f"the gateway's chat completions failed: {err}; log: {demo.log('gateway')}") from None
        sources = list(dict.fromkeys(p["source"] for p in passages))
        cited = sorted({int(n) for n in re.findall(r"\[(\d+)\]", answer) if 0 < int(n) <= len(passages)})
        citations = [
            {"n": p["n"], "source": p["source"], "page": p["page"], "headings": p["headings"]} for p in passages
        ]
        searched = float(found["seconds"]["total"])
        demo.answers.append(
            {
                "question": q["question"],
                "expected": q["source"],
                "answer": answer,
                "sources": sources,
                "cited": [passages[n - 1]["source"] for n in cited],
                "citations": citations,
                "context_tokens": found["tokens"],
                "context_budget": found["budget"],
                "messages": messages,
                "search_seconds": round(searched, 3),
                "seconds": round(seconds, 3),
                "cache_hit": hit,
                "via": via,
            }
        )
        listed = "\n".join(f"       {c}" for c in found["citations"])
        say(
            f"    Q: {q['question']}\n    A: {answer}\n    context: {found['tokens']} of {budget} tokens, "
            f"{len(passages)} passages (answer cites {cited or 'none'}):\n{listed}\n"
            f"    (retrieval {searched:.2f}s, answer {seconds:.2f}s{', from the cache' if hit else ''})"
        )
    demo.state["answers"] = [{k: v for k, v in a.items() if k != "messages"} for a in demo.answers]
