"""The demo's command line and the order of its steps; every service is stopped at the end, also on Ctrl-C,
SIGTERM, SIGHUP or a failed step."""

from __future__ import annotations

import argparse
import signal
import time

from local.demo import __doc__ as demo_doc
from local.demo.ask import ask
from local.demo.benchmark import benchmark, plan_benchmark
from local.demo.cache import measure_cache
from local.demo.client import clients
from local.demo.context import Demo, StepError, say, step
from local.demo.evaluate import evaluate
from local.demo.ingest import ingest, plan_ingest
from local.demo.moderation import moderation
from local.demo.questions import load_questions, write_questions
from local.demo.start import start_all
from local.envs import ROOT
from local.process import ProcessError
from local.rendered import STACK, render, stack_file
from local.site import TranslationError
from stacks.preflight import PreflightError


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m local.demo", description=(demo_doc or "").split("\n\n")[0])
    parser.add_argument("--data-dir", default=str(ROOT / ".demo"), help="data, logs and secrets (default .demo)")
    parser.add_argument("--ask", type=int, default=3, help="questions to answer with the model (default 3)")
    parser.add_argument(
        "--questions",
        help="JSON list of {question, source} to ask instead of the built-in set (recall is still "
        "measured on corpus/questions.yaml when present)",
    )
    parser.add_argument("--max-tokens", type=int, default=96, help="answer length in tokens (default 96)")
    parser.add_argument("--no-benchmark", action="store_true", help="skip the GuideLLM benchmark")
    parser.add_argument("--bench-seconds", type=int, default=45, help="length of the benchmark (default 45 s)")
    parser.add_argument(
        "--startup-timeout",
        type=float,
        default=300.0,
        help="seconds per service start-up (default 300; the safety stand-in gets at least 600)",
    )
    return parser.parse_args(argv)


def run_steps(demo: Demo) -> None:
    args = demo.args
    questions = load_questions(args.questions)
    qfile = ROOT / "corpus" / "questions.yaml"
    if not qfile.exists():  # the labelled set; --questions only changes what is asked
        qfile = demo.data / "questions.yaml"
        write_questions(qfile, questions)
    step(1, f"starting the {STACK} stack's services on 127.0.0.1, as the program renders {stack_file().name}")
    job = plan_ingest(demo)
    plan_benchmark(demo)
    start_all(demo)
    settings, sdk = clients(demo)
    step(2, f"the ingest Job: {' '.join(job.container.args)} -> the app's vector store through its API")
    ingest(demo, job)
    step(3, f"retrieval quality through the app's search on {qfile}")
    evaluate(demo, job, qfile)
    asked = questions[: args.ask]
    step(
        4,
        f"asking {len(asked)} questions: the app's query path with the stack's retrieval settings, then chat "
        "through the gateway",
    )
    ask(demo, job, asked, settings, sdk)
    step(5, "moderation: a request the guardrails must refuse")
    moderation(demo, settings, sdk)
    step(6, "the gateway's cache in Redis: step 4's requests again")
    measure_cache(demo, settings, sdk)
    step(7, "benchmark of the CPU tier (GuideLLM) with a computed cost")
    if args.no_benchmark:
        say("    SKIPPED (--no-benchmark)")
    else:
        benchmark(demo)


def shut_down(demo: Demo, code: int, t_start: float) -> None:
    step(8, "shutting down")
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
    args = parse_args(argv)
    say(f"rendering the {STACK} stack: the program under the Pulumi SDK's mocks ({stack_file().name})")
    try:
        rendered = render()
    except PreflightError as err:
        say(f"FAILED: {stack_file().name} is refused by preflight:\n{err}")
        return 2
    demo = Demo.create(args, rendered)
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
    except (StepError, ProcessError, TranslationError) as err:  # ProcessError covers LlmServerError
        say(f"\nFAILED: {err}")
        code = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # no second interrupt in the middle of clean-up
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        shut_down(demo, code, t_start)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code
