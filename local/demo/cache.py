"""Step 6: the gateway's exact cache in Redis, as `leanrag client-env`'s gateway snippet calls the gateway (OpenAI
SDK): the step-4 prompts, tagged with this run's id so the first round is a real miss even when Redis kept the
cache of an earlier run (the rendered Redis keeps its data on its claim), then sent again. LiteLLM sets the header
`x-litellm-cache-key` only on a response served from the cache."""

from __future__ import annotations

import time
from typing import Any

from openai import OpenAI

from local.demo.client import OpenAIClient
from local.demo.context import Demo, StepError, say

CACHE_HIT_HEADER = "x-litellm-cache-key"


def _median(xs: list[float]) -> float | None:
    return sorted(xs)[len(xs) // 2] if xs else None


def _send(gateway: OpenAI, model: str, messages: list[Any], max_tokens: int) -> tuple[bool, float]:
    t0 = time.perf_counter()
    raw = gateway.chat.completions.with_raw_response.create(
        model=model, messages=messages, max_tokens=max_tokens, temperature=0
    )
    raw.parse()
    return bool(raw.headers.get(CACHE_HIT_HEADER)), time.perf_counter() - t0


def measure_cache(demo: Demo, settings: dict[str, OpenAIClient], sdk: dict[str, OpenAI]) -> None:
    if not demo.answers:
        raise StepError("no answered questions to send again")
    run_id = f"{demo.state['started_at']:.0f}"
    rounds: list[list[tuple[bool, float]]] = [[], []]
    for round_ in rounds:
        for a in demo.answers:
            messages: list[Any] = [*a["messages"][:-1], {**a["messages"][-1]}]  # type: ignore[index]
            messages[-1]["content"] += f"\n(run {run_id})"
            round_.append(_send(sdk["gateway"], settings["gateway"].model, messages, demo.args.max_tokens))
    flat = [r for rs in rounds for r in rs]
    hits = [s for hit, s in flat if hit]
    misses = [s for hit, s in flat if not hit]
    keys = demo.running.redis.cli("DBSIZE") if demo.running.redis else "?"

    def ms(xs: list[float]) -> str:
        median = _median(xs)
        return f"{1000 * median:.0f} ms" if median is not None else "n/a"

    say(
        f"    {len(flat)} requests ({len(demo.answers)} prompts, twice) to the gateway: {len(hits)} hits, "
        f"{len(misses)} misses (first round {sum(h for h, _ in rounds[0])} hits, second {sum(h for h, _ in rounds[1])})"
        f"; median latency hit {ms(hits)} vs miss {ms(misses)}; {keys} keys in Redis"
    )
    demo.state["cache"] = {
        "requests": len(flat),
        "hits": len(hits),
        "first_round_hits": sum(h for h, _ in rounds[0]),
        "second_round_hits": sum(h for h, _ in rounds[1]),
        "hit_rate": len(hits) / len(flat),
        "hit_median_s": _median(hits),
        "miss_median_s": _median(misses),
        "redis_keys": int(keys) if str(keys).isdigit() else None,
    }
