"""The metric glossary printed at the end of every report and comparison (and linked from the README)."""

from __future__ import annotations

GLOSSARY: list[tuple[str, str]] = [
    ("TTFT", "Time to first token: from sending a request to receiving its first output token (ms). What a "
             "user waits before anything appears; grows with prompt length and with queueing under load."),
    ("ITL", "Inter-token latency: average time between output tokens after the first (ms). 1000 / ITL is "
            "the streaming speed one user sees (tokens/s). vLLM calls this TPOT."),
    ("TPOT", "GuideLLM's time per output token: request latency / output tokens, first token included (ms)."),
    ("Request latency", "From sending a request to receiving its last token (s)."),
    ("p50 / p90 / p95 / p99", "Percentiles over the benchmark's successful requests: p95 = 95% of requests "
                              "were at least this fast."),
    ("Load point", "One GuideLLM benchmark at one load: synchronous (one request at a time), throughput "
                   "(as many as the server takes), or a constant request rate. A sweep runs synchronous, "
                   "throughput, then constant rates evenly spaced between the two measured rates."),
    ("Request rate", "Successful requests per second."),
    ("Concurrency", "Requests in flight, on average, during the benchmark."),
    ("Output tokens/s", "Output tokens per second produced by the server over all requests (throughput)."),
    ("Delivered output tokens/s", "Output tokens per second of successful requests only: what users received."),
    ("Failed requests", "Requests the server answered with an error, or that broke off, as a share of those "
                        "that finished (successful + failed). Requests cut off by the benchmark's own time "
                        "limit are 'incomplete', not failed. Above --max-failed-ratio the run fails."),
    ("Latency targets (SLO)", "TTFT and ITL limits at a percentile (--slo-ttft-ms, --slo-itl-ms, "
                              "--slo-percentile). A load point meets them when both percentiles are within "
                              "the limits and no more than --max-failed-ratio of its requests failed."),
    ("Goodput", "Requests per second that met every latency target (GuideLLM's definition): each successful "
                "request is judged on its own TTFT and ITL; failed requests count as missing the targets."),
    ("Attainment", "Share of judged requests that met every latency target."),
    ("Operating point", "The highest load (delivered output tokens/s) among the load points that meet the "
                        "targets: where to run the server."),
    ("Cost per million output tokens", "Node price per hour / 3600 / delivered output tokens per second x "
                                       "1e6. The node is paid for while it serves failed requests too, so "
                                       "failures raise the cost of every delivered token."),
    ("Capacity (users/day)", "Users one node serves per day at the operating point: output tokens/s x 86,400 "
                             "/ (requests per user per day x output tokens per request x peak-to-average)."),
    ("Peak-to-average", "Busiest-hour request rate over the daily average; the node must carry the peak."),
    ("Roofline ratio", "Measured single-stream decode speed (1000 / ITL p50 of the synchronous benchmark) over "
                       "the memory-bandwidth bound (bandwidth / bytes of weights); near 1 = at the hardware "
                       "limit."),
]  # fmt: skip
