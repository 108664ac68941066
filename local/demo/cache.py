"""Step 6: the gateway's exact cache in Redis: step 4's chat requests sent again, as the same client (OpenAI SDK).
Step 4's requests were the first round (misses on a fresh `.demo/`; hits when an earlier run left the answers in
Redis, whose data the rendered StatefulSet keeps on its claim); this second round must come from the cache. LiteLLM
sets the header `x-litellm-cache-key` only on a response served from the cache."""

from __future__ import annotations

from typing import Any

import openai
from openai import OpenAI

from infra.client_env import OpenAIClient
from local.demo.ask import send
from local.demo.context import Demo, StepError, say


def _median(xs: list[float]) -> float | None:
    return sorted(xs)[len(xs) // 2] if xs else None


def measure_cache(demo: Demo, settings: dict[str, OpenAIClient], sdk: dict[str, OpenAI]) -> None:
    if not demo.answers:
        raise StepError("no answered questions to send again")
    first: list[tuple[bool, float]] = [(bool(a["cache_hit"]), float(a["seconds"])) for a in demo.answers]  # type: ignore[arg-type]
    second: list[tuple[bool, float]] = []
    for a in demo.answers:
        messages: list[Any] = a["messages"]  # type: ignore[assignment]
        try:
            _, hit, seconds = send(sdk["gateway"], settings["gateway"].model, messages, demo.args.max_tokens)
        except openai.APIError as err:
            raise StepError(f"the gateway failed on a repeated request: {err}; log: {demo.log('gateway')}") from None
        second.append((hit, seconds))
    flat = first + second
    hits = [s for hit, s in flat if hit]
    misses = [s for hit, s in flat if not hit]
    keys = demo.running.redis.cli("DBSIZE") if demo.running.redis else "?"

    def ms(xs: list[float]) -> str:
        median = _median(xs)
        return f"{1000 * median:.0f} ms" if median is not None else "n/a"

    say(
        f"    step 4's {len(first)} requests sent again: {sum(h for h, _ in second)}/{len(second)} from the cache "
        f"(step 4 itself: {sum(h for h, _ in first)} hits); median latency hit {ms(hits)} vs miss {ms(misses)}; "
        f"{keys} keys in Redis"
    )
    demo.state["cache"] = {
        "requests": len(flat),
        "hits": len(hits),
        "first_round_hits": sum(h for h, _ in first),
        "second_round_hits": sum(h for h, _ in second),
        "hit_rate": len(hits) / len(flat),
        "hit_median_s": _median(hits),
        "miss_median_s": _median(misses),
        "redis_keys": int(keys) if str(keys).isdigit() else None,
    }
