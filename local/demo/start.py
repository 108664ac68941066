"""Step 1: the `local` stack's services on 127.0.0.1, as the program renders them (local/demo/processes.py), with
the table of every divergence from the rendered configuration and the list of generated secrets printed first
(docs/demo.md holds the same table).

Services start in waves, each wave's services at the same time (most of a start is Python importing and a model
loading: on 2 cores, in parallel the waves take about half as long): the model servers and Redis, then what calls
them (the moderation adapter, the gateway), then the app."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait

from local.demo.context import Demo, say
from local.demo.processes import WAVES, Launch, image_name, plan
from local.site import divergence_table


def _waves(launches: list[Launch]) -> list[list[Launch]]:
    return [[x for x in launches if image_name(x.container.image) in wave] for wave in WAVES]


def _start_wave(demo: Demo, wave: list[Launch]) -> None:
    """Start a wave's services in parallel, each tracked as soon as it is up (so that shutdown stops it, and the
    state file names it); the first failure, or an interruption, is raised once every start has ended."""
    lock = threading.Lock()

    def start(launch: Launch) -> None:
        service = launch.start()
        with lock:
            demo.started(service)
            say(f"    {launch.container.key}: {launch.describe} (pid {service.pid}, log {service.log})")

    pool = ThreadPoolExecutor(max_workers=len(wave), thread_name_prefix="start")
    futures = [pool.submit(start, launch) for launch in wave]
    try:
        wait(futures)
    finally:
        pool.shutdown(wait=True)  # on Ctrl-C too: the starts end (up or timed out) and are tracked
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error


def start_all(demo: Demo) -> None:
    launches = plan(demo)  # every translation first: nothing starts when one is missing
    say("    cluster component -> what runs here (every way it differs from what the stack renders):\n")
    say("\n".join(f"    {line}" for line in divergence_table(demo.site.divergences).splitlines()))
    (demo.data / "divergences.md").write_text(divergence_table(demo.site.divergences))
    say(
        f"\n    secrets generated for this run (values never printed; files mode 600 under {demo.site.secrets.folder}):"
    )
    say("\n".join(f"      {line}" for line in demo.site.secrets.table()))
    say("")
    for wave in _waves(launches):
        if wave:
            say(f"    starting {', '.join(x.container.key for x in wave)} ...")
            _start_wave(demo, wave)
