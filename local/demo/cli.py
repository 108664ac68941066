"""The demo's command line and the order of its steps; every service is stopped at the end, also on Ctrl-C,
SIGTERM, SIGHUP or a failed step."""

from __future__ import annotations

import argparse
import signal
import time

from local.demo import __doc__ as demo_doc
from local.demo.ask import ask
from local.demo.benchmark import benchmark
from local.demo.cache import measure_cache
from local.demo.context import Demo, StepError, say, step
from local.demo.evaluate import evaluate
from local.demo.ingest import ingest, load_vector_store
from local.demo.questions import load_questions, write_questions
from local.demo.start import start_all
from local.envs import CORPUS, ROOT, has_venv
from local.process import ProcessError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=(demo_doc or "").split("\n\n")[0])
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
        default="ogx" if has_venv("ogx", "ogx") else "direct",
        help="ogx: ask through the OGX (Llama Stack) app's OpenAI-compatible API (vector store search + chat "
        "completions); direct: the ingest job's search, then the gateway (default: ogx when .venvs/ogx "
        "exists, else direct; now %(default)s)",
    )
    parser.add_argument("--startup-timeout", type=float, default=180.0, help="seconds per service start-up")
    return parser.parse_args(argv)


def run_steps(demo: Demo) -> None:
    args = demo.args
    questions = load_questions(args.questions)
    qfile = ROOT / "corpus" / "questions.yaml"
    if not qfile.exists():  # the labelled set; --questions only changes what is asked
        qfile = demo.data / "questions.yaml"
        write_questions(qfile, questions)
    step(1, "starting services on 127.0.0.1 with generated credentials")
    start_all(demo)
    step(2, f"ingesting {CORPUS.relative_to(ROOT)} into {demo.milvus}")
    ingest(demo)
    if demo.app:
        load_vector_store(demo)
    step(3, f"retrieval quality on {qfile}")
    evaluate(demo, qfile)
    where = "OGX: vector store search, then chat completions" if demo.app else "ingest job's search"
    step(4, f"asking {min(args.ask, len(questions))} questions (top {args.context_chunks} chunks as context; {where})")
    ask(demo, questions[: args.ask])
    step(5, "cache effect: the same questions again through the gateway")
    measure_cache(demo)
    step(6, "short benchmark of the model server (GuideLLM, smoke scenario)")
    if args.no_benchmark:
        say("    SKIPPED (--no-benchmark)")
    else:
        benchmark(demo)


def shut_down(demo: Demo, code: int, t_start: float) -> None:
    step(7, "shutting down")
    demo.state.save()
    for line in demo.services.stop_all():
        say(f"    {line}")
    demo.state["stopped"] = True
    demo.state["exit_code"] = code
    demo.state["seconds"] = round(time.monotonic() - t_start, 1)
    demo.state.save()
    outcome = "ok" if code == 0 else "interrupted" if code == 130 else "FAILED"
    say(f"    data and logs kept in {demo.data}; total {time.monotonic() - t_start:.0f}s; {outcome}")


def main(argv: list[str] | None = None) -> int:
    demo = Demo.create(parse_args(argv))
    t_start = time.monotonic()

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with SIGINT ignored
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    code = 0
    try:
        run_steps(demo)
    except KeyboardInterrupt:
        say("\ninterrupted: stopping services")
        code = 130
    except (StepError, ProcessError) as err:  # ProcessError covers LlmServerError
        say(f"\nFAILED: {err}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no second interrupt in the middle of clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        shut_down(demo, code, t_start)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
