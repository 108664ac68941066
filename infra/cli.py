"""`leanrag`: the user's command (installed by `pip install -e .`, which `make venv` runs).

    leanrag plan STACK [--diff BASE --markdown FILE ...]   offline plan (python -m infra.plan)
    leanrag client-env STACK [--outputs FILE] [--with-secrets] [--client NAME] [--port-forward]
                                                          .env + OpenAI-SDK snippets from the stack's outputs,
                                                          with a client's own key (platform.clients)
    leanrag keys list|revoke|restore STACK [NAME]         the clients' API keys in the cluster (kubectl; no redeploy)
    leanrag demo [ARGS]                                   the local demo (python -m local.demo)
    leanrag ingest [ARGS]                                 the ingest job, in .venvs/ingest
    leanrag bench [ARGS]                                  the benchmark job, in .venvs/benchmark

The commands that run other programs start them as processes (their own flags pass through unchanged), so
`leanrag` itself imports no Pulumi SDK and answers quickly; `client-env` (infra/client_env.py) and `keys`
(infra/keys.py) run here.
Every error is one line with the fix, exit code 2; a program's own exit code is passed on.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from infra import client_env, keys
from infra.client_env import ClientEnvError
from infra.keys import KeysError

ROOT = Path(__file__).resolve().parent.parent
"""The repository: the CLI runs from a checkout (editable install), where the stack files and workloads are."""
WORKLOADS = {
    "ingest": ("ingest", "workloads.ingest", ["ingest"]),
    "bench": ("benchmark", "workloads.benchmark", ["--help"]),
}
"""command -> (its environment under .venvs/, its module, the arguments used when none are given)."""


class CliError(Exception):
    """One line: what is wrong and how to fix it."""


def _run(cmd: Sequence[str], env: dict[str, str] | None = None, dry_run: bool = False) -> int:
    if dry_run:
        print(shlex.join(cmd))
        return 0
    try:
        return subprocess.run(list(cmd), cwd=ROOT, env=env, check=False).returncode
    except KeyboardInterrupt:
        return 130


def cmd_plan(args: argparse.Namespace) -> int:
    return _run([sys.executable, "-m", "infra.plan", args.stack, *args.rest], dry_run=args.dry_run)


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.dry_run and shutil.which("redis-server") is None:
        raise CliError(
            "redis-server is not installed (the gateway's cache): `sudo apt-get install redis-server`, or run "
            "`make demo`, which installs it and builds the environments"
        )
    return _run([sys.executable, "-m", "local.demo", *args.rest], dry_run=args.dry_run)


def cmd_workload(args: argparse.Namespace) -> int:
    venv, module, default = WORKLOADS[args.command]
    python = ROOT / ".venvs" / venv / "bin" / "python"
    cmd = [str(python), "-m", module, *(args.rest or default)]
    if not python.exists():
        if args.dry_run:
            print(f"# first: make venv-{venv}")
            return _run(cmd, dry_run=True)
        raise CliError(f"the {venv} environment .venvs/{venv} is missing: run `make venv-{venv}` (once), then retry")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.setdefault("HF_HUB_OFFLINE", "1")  # the models come from packages; never reach for the Hub
    return _run(cmd, env=env, dry_run=args.dry_run)


def cmd_client_env(args: argparse.Namespace) -> int:
    if args.outputs is not None:
        outputs = client_env.outputs_from_file(args.outputs)
    else:
        outputs = client_env.outputs_from_pulumi(args.stack, args.with_secrets, ROOT)
    if not args.with_secrets:  # a saved file may hold plaintext secrets: write them only when asked
        secret = {"gatewayMasterKey", "ragAppApiKey", "clientKeys"}
        outputs = {k: (client_env.REDACTED if k in secret and v is not None else v) for k, v in outputs.items()}
    clients = client_env.openai_client_for(outputs, args.model, args.client, args.operator)
    forwards: list[client_env.PortForward] = []
    if args.port_forward:
        clients, forwards = client_env.through_port_forward(clients)
    client_env.write_env_file(args.env_file, client_env.dotenv(args.stack, clients, outputs), args.force)

    read = "with the keys" if args.with_secrets else "without secrets (add --with-secrets for the keys)"
    gateway = clients["gateway"]
    whose = f" of client {gateway.key_entry}" if args.with_secrets and gateway.key_entry else ""
    print(f"wrote {args.env_file} {read}{whose}")
    if args.operator:
        print("  the operator's keys (--operator): keep them to yourself; clients get their own (platform.clients)")
    for name, c in clients.items():
        print(f"  {name:8} {c.base_url}  model {c.model}")
    if forwards:
        print("\nFirst open the tunnels (one terminal each, or append &):")
        print("\n".join(f"  {f.command()}" for f in forwards))
    elif any(client_env.is_cluster_internal(c.base_url) for c in clients.values()):
        print("\nThese are in-cluster addresses: from outside the cluster rerun with --port-forward.")
    if not args.no_snippets:
        print(f"\n# pip install openai; set -a; . {shlex.quote(str(args.env_file))}; set +a; then in Python:\n")
        print(client_env.GATEWAY_SNIPPET)
        print(client_env.APP_SNIPPET)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    return keys.run(args, ROOT)


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="leanrag", description=(__doc__ or "").split("\n\n")[0])
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def passthrough(name: str, help_: str, with_stack: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--dry-run", action="store_true", help="print the command instead of running it")
        if with_stack:
            p.add_argument("stack", help="stack name (Pulumi.<stack>.yaml) or a stack file")
        p.add_argument("rest", nargs=argparse.REMAINDER, help="passed on unchanged")
        return p

    passthrough("plan", "offline plan of a stack: python -m infra.plan STACK [its flags]", True).set_defaults(
        func=cmd_plan
    )
    passthrough("demo", "the local demo on 127.0.0.1: python -m local.demo [its flags]").set_defaults(func=cmd_demo)
    passthrough("ingest", "the ingest job in .venvs/ingest: python -m workloads.ingest [ingest|search|evaluate ...]")
    passthrough("bench", "the benchmark job in .venvs/benchmark: python -m workloads.benchmark [run|report|...]")
    for name in WORKLOADS:
        sub.choices[name].set_defaults(func=cmd_workload)

    ce = sub.add_parser(
        "client-env",
        help="a .env and OpenAI-SDK snippets for the gateway and the RAG app, from the stack's outputs",
        description="Reads `pulumi stack output --json` for STACK (or --outputs FILE), writes a .env and prints "
        "OpenAI-SDK snippets for the gateway and the RAG app. Keys only with --with-secrets: a client's own "
        "(clientKeys), never the master key unless --operator.",
    )
    ce.add_argument("stack", help="the Pulumi stack (a label only with --outputs)")
    ce.add_argument("--outputs", type=Path, help="a saved `pulumi stack output --json` instead of running pulumi")
    ce.add_argument(
        "--with-secrets",
        "--show-secrets",
        dest="with_secrets",
        action="store_true",
        help="read the keys (pulumi --show-secrets) and write them to the .env (mode 600)",
    )
    ce.add_argument("--env-file", type=Path, default=Path(".env"), help="where to write (default ./.env)")
    ce.add_argument("--force", action="store_true", help="replace an existing env file")
    ce.add_argument(
        "--port-forward",
        action="store_true",
        help="rewrite in-cluster URLs to 127.0.0.1 and print the kubectl port-forward commands",
    )
    who = ce.add_mutually_exclusive_group()
    who.add_argument(
        "--client",
        metavar="NAME",
        help="whose key (stack output clientKeys, from leanrag:platform.clients); default: the only client",
    )
    who.add_argument(
        "--operator",
        action="store_true",
        help="the operator's keys (gatewayMasterKey, ragAppApiKey) instead of a client's: for your own checks",
    )
    ce.add_argument("--model", help="the chat model (default: the stack output defaultChatModel)")
    ce.add_argument("--no-snippets", action="store_true", help="write the .env only")
    ce.set_defaults(func=cmd_client_env)
    keys.add_parser(sub).set_defaults(func=cmd_keys)
    return top


PASSTHROUGH = {"plan": cmd_plan, "demo": cmd_demo, "ingest": cmd_workload, "bench": cmd_workload}
"""Commands whose arguments (after `--dry-run`, and the stack for plan) go to their program unchanged."""


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """argparse for help and client-env; the pass-through commands are split by hand, since argparse cannot hand
    on arguments that look like options (`leanrag demo --no-benchmark`)."""
    argv = list(argv)
    if argv and argv[0] in PASSTHROUGH and not (set(argv[1:2]) & {"-h", "--help"}):
        dry_run = argv[1:2] == ["--dry-run"]
        rest = argv[2:] if dry_run else argv[1:]
        if rest[:1] == ["--"]:
            rest = rest[1:]
        args = argparse.Namespace(command=argv[0], dry_run=dry_run, func=PASSTHROUGH[argv[0]], rest=rest)
        if argv[0] != "plan":
            return args
        if rest and not rest[0].startswith("-"):
            args.stack, args.rest = rest[0], rest[1:]
            return args
    return parser().parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        code: int = args.func(args)
    except (CliError, ClientEnvError, KeysError) as e:
        print(f"leanrag {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
