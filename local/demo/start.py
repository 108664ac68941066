"""Step 1: the `local` stack's services on 127.0.0.1, as the program renders them (local/demo/processes.py), with
the table of every divergence from the rendered configuration printed first (docs/demo.md holds the same)."""

from __future__ import annotations

from local.demo.context import Demo, say
from local.demo.processes import plan
from local.site import divergence_table


def start_all(demo: Demo) -> None:
    launches = plan(demo)  # every translation first: nothing starts when one is missing
    say("    what runs here differs from what the stack renders in these ways:\n")
    say("\n".join(f"    {line}" for line in divergence_table(demo.site.divergences).splitlines()))
    (demo.data / "divergences.md").write_text(divergence_table(demo.site.divergences))
    say("")
    for launch in launches:
        service = demo.started(launch.start())
        say(f"    {launch.container.key}: {launch.describe} (pid {service.pid}, log {service.log})")
