"""Step 5: the gateway's cache: the questions of step 4 again, straight to the gateway; hit rate and latency."""

from __future__ import annotations

from typing import Any

from local.demo.ask import chat, is_hit
from local.demo.context import Demo, StepError, say


def _median(xs: list[float]) -> float | None:
    return sorted(xs)[len(xs) // 2] if xs else None


def measure_cache(demo: Demo) -> None:
    if demo.endpoints.via != "gateway":
        say("    SKIPPED: no gateway, so no cache to measure")
        return
    rounds: list[list[tuple[bool, float]]] = []
    for n in range(2):
        results: list[tuple[bool, float]] = []
        for a in demo.answers:
            if n == 0 and a.get("cache_hit") is not None:  # the answers of step 4 were the first round
                results.append((bool(a.get("cache_hit")), float(a["seconds"])))  # type: ignore[arg-type]
                continue
            messages: Any = a["messages"]
            status, _, headers, seconds = chat(demo, messages)
            if status != 200:
                raise StepError(f"gateway answered HTTP {status}; log: {demo.logs / 'gateway.log'}")
            results.append((is_hit(demo, headers), seconds))
        rounds.append(results)
    flat = [r for rs in rounds for r in rs]
    hits = [s for h, s in flat if h]
    misses = [s for h, s in flat if not h]
    rate = len(hits) / len(flat)

    def ms(xs: list[float]) -> str:
        median = _median(xs)
        return f"{1000 * median:.0f} ms" if median is not None else "n/a"

    say(
        f"    {len(flat)} requests ({len(demo.answers)} questions asked twice): hit rate {rate:.0%} "
        f"({len(hits)} hits, {len(misses)} misses); median latency hit {ms(hits)} vs miss {ms(misses)}"
    )
    demo.state["cache"] = {
        "requests": len(flat),
        "hits": len(hits),
        "hit_rate": rate,
        "hit_median_s": _median(hits),
        "miss_median_s": _median(misses),
    }
