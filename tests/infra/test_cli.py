"""`leanrag`: client-env on a saved `pulumi stack output --json` writes a .env whose settings work with the OpenAI
SDK against a real local server (the tiny OpenAI-compatible server, with a key); secrets only when asked; errors
as one line with the fix; plan, demo, ingest and bench start the right programs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from infra import cli, client_env
from infra.outputs import BY_NAME
from local.services import start_tiny_upstream
from tests.renderkit import ROOT, run_stack

FIXTURE = Path(__file__).parent / "fixtures" / "stack-output-dev.json"
CLIENT_KEY = "sk-fixture-client-docs-bot-key"
"""The fixture's one client (clientKeys["docs-bot"]): what client-env hands out."""
MASTER_KEY = "sk-fixture-gateway-master-key"
"""The operator's (gatewayMasterKey): never in a client's .env unless --operator."""


def fixture() -> dict:
    return json.loads(FIXTURE.read_text())


def save(tmp_path: Path, outputs: dict) -> Path:
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(outputs))
    return path


def read_env(path: Path) -> dict[str, str]:
    """The variables a shell gets from `set -a; . FILE` (what the .env's comment tells users to run)."""
    proc = subprocess.run(
        ["bash", "-c", 'set -a; . "$1"; set +a; env -0', "_", str(path)],
        env={"PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
    )
    pairs = (item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    return {k: v for k, v in pairs if k.startswith(("LEANRAG_", "OPENAI_"))}


def run_cli(*args: str, capsys) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- client-env --------------------------------------------------------------------------------------------


def test_the_fixture_is_a_whole_dev_stack_output():
    assert set(fixture()) == set(BY_NAME)


def test_with_secrets_the_env_and_snippet_call_the_gateway_through_the_openai_sdk(tmp_path, capsys):
    with start_tiny_upstream(tmp_path, chat_models=["llama-3-1-8b"], api_key=CLIENT_KEY) as up:
        outputs = {**fixture(), "gatewayUrl": up.base_url}
        env_file = tmp_path / ".env"
        saved = str(save(tmp_path, outputs))
        code, out, _ = run_cli(
            "client-env", "dev", "--outputs", saved, "--with-secrets", "--env-file", str(env_file), capsys=capsys
        )
        assert code == 0 and f"wrote {env_file} with the keys of client docs-bot" in out
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        env = read_env(env_file)
        assert env["LEANRAG_GATEWAY_BASE_URL"] == env["OPENAI_BASE_URL"] == up.base_url
        # the client's own key (platform.clients), never the operator's master key
        assert env["LEANRAG_GATEWAY_API_KEY"] == env["OPENAI_API_KEY"] == CLIENT_KEY
        assert MASTER_KEY not in env_file.read_text() and MASTER_KEY not in out
        assert env["LEANRAG_GATEWAY_MODEL"] == "llama-3-1-8b"
        # the printed snippet, run with the OpenAI SDK and the .env's variables, gets an answer from the server
        assert client_env.GATEWAY_SNIPPET in out
        proc = subprocess.run(
            [sys.executable, "-c", client_env.GATEWAY_SNIPPET],
            env={**env, "PATH": os.environ["PATH"]},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.strip() == "echo: What is a vector database? One sentence."
        # OpenAI() with no arguments uses OPENAI_BASE_URL / OPENAI_API_KEY: the gateway too
        bare = (
            "from openai import OpenAI; print(OpenAI().chat.completions.create(model='llama-3-1-8b', "
            "messages=[{'role': 'user', 'content': 'hi'}]).choices[0].message.content)"
        )
        proc = subprocess.run(
            [sys.executable, "-c", bare], env={**env, "PATH": os.environ["PATH"]}, capture_output=True, text=True
        )
        assert proc.stdout.strip() == "echo: hi", proc.stderr
        assert up.stats() == {"chat/completions": 2}


def test_a_wrong_key_is_refused_so_the_key_in_the_env_is_what_works(tmp_path):
    with start_tiny_upstream(tmp_path, chat_models=["llama-3-1-8b"], api_key=CLIENT_KEY) as up:
        clients = client_env.openai_client_for(
            {**fixture(), "gatewayUrl": up.base_url, "clientKeys": {"docs-bot": "x"}}
        )
        code = (
            "import openai, sys\n"
            f"c = openai.OpenAI(**{clients['gateway'].openai_kwargs()!r})\n"
            "try:\n    c.models.list(); c.chat.completions.create(model='llama-3-1-8b', messages=[])\n"
            "except openai.AuthenticationError:\n    sys.exit(7)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 7, proc.stderr


def test_without_the_flag_no_secret_reaches_the_env_or_the_terminal(tmp_path, capsys):
    env_file = tmp_path / ".env"
    code, out, _ = run_cli("client-env", "dev", "--outputs", str(FIXTURE), "--env-file", str(env_file), capsys=capsys)
    assert code == 0 and "without secrets (add --with-secrets for the keys)" in out
    text = env_file.read_text()
    for name, value in fixture().items():
        if name in ("gatewayMasterKey", "apiKey", "milvusToken", "redisUrl", "kubeconfig"):
            assert value not in text and value not in out, name
    assert CLIENT_KEY not in text and CLIENT_KEY not in out
    assert "# LEANRAG_GATEWAY_API_KEY: secret, not written: rerun with --with-secrets --client NAME" in text
    assert "pulumi stack output clientKeys --show-secrets --json | jq -r '.[\"NAME\"]'" in text
    env = read_env(env_file)
    assert "OPENAI_API_KEY" not in env and env["LEANRAG_GATEWAY_BASE_URL"] == fixture()["gatewayUrl"]
    # the in-cluster addresses come with the way to reach them, and both snippets are printed
    assert "These are in-cluster addresses: from outside the cluster rerun with --port-forward." in out
    assert client_env.GATEWAY_SNIPPET in out and client_env.APP_SNIPPET in out


def test_the_app_settings_name_its_model_and_store_and_need_no_key_when_auth_is_off(tmp_path, capsys):
    env_file = tmp_path / ".env"
    assert (
        cli.main(["client-env", "dev", "--outputs", str(FIXTURE), "--with-secrets", "--env-file", str(env_file)]) == 0
    )
    env = read_env(env_file)
    assert env["LEANRAG_RAG_APP_BASE_URL"] == "http://rag-app.rag.svc.cluster.local:8321/v1"
    assert env["LEANRAG_RAG_APP_MODEL"] == "vllm/llama-3-1-8b"  # how OGX lists the gateway's model
    assert env["LEANRAG_RAG_APP_API_KEY"] == "" and env["LEANRAG_VECTOR_STORE"] == "docs"
    with_auth = client_env.openai_client_for({**fixture(), "ragAppApiKey": "app-token"}, model="smollm2-cpu")
    assert with_auth["app"].openai_kwargs()["api_key"] == CLIENT_KEY  # with auth on, the client's key works there too
    assert with_auth["app"].model == "vllm/smollm2-cpu" and with_auth["gateway"].model == "smollm2-cpu"
    operator = client_env.openai_client_for({**fixture(), "ragAppApiKey": "app-token"}, operator=True)
    assert operator["app"].openai_kwargs()["api_key"] == "app-token"
    assert operator["gateway"].openai_kwargs()["api_key"] == MASTER_KEY
    redacted = client_env.openai_client_for({**fixture(), "ragAppApiKey": client_env.REDACTED}, operator=True)
    with pytest.raises(client_env.ClientEnvError, match="ragAppApiKey is secret and was not read"):
        redacted["app"].openai_kwargs()
    hidden = {**fixture(), "ragAppApiKey": client_env.REDACTED, "clientKeys": client_env.REDACTED}
    redacted = client_env.openai_client_for(hidden, client="docs-bot")
    with pytest.raises(client_env.ClientEnvError, match=r'clientKeys\["docs-bot"\] is secret and was not read'):
        redacted["app"].openai_kwargs()


def test_port_forward_rewrites_the_urls_and_prints_the_tunnels(tmp_path, capsys):
    env_file = tmp_path / ".env"
    code, out, _ = run_cli(
        "client-env", "dev", "--outputs", str(FIXTURE), "--port-forward", "--env-file", str(env_file), capsys=capsys
    )
    assert code == 0
    env = read_env(env_file)
    assert env["LEANRAG_GATEWAY_BASE_URL"] == "http://127.0.0.1:4000/v1"
    assert env["LEANRAG_RAG_APP_BASE_URL"] == "http://127.0.0.1:8321/v1"
    assert "kubectl -n rag port-forward svc/gateway 4000:4000" in out
    assert "kubectl -n rag port-forward svc/rag-app 8321:8321" in out


def test_port_forwards_get_distinct_local_ports_and_public_urls_are_kept():
    clients = client_env.openai_client_for(
        {**fixture(), "gatewayUrl": "http://a.x.svc.cluster.local:80/v1", "ragAppUrl": "http://b.y.svc:80/v1"}
    )
    rewritten, forwards = client_env.through_port_forward(clients)
    assert [(f.service, f.local_port) for f in forwards] == [("a", 8080), ("b", 8081)]
    assert rewritten["app"].base_url == "http://127.0.0.1:8081/v1"
    public = client_env.openai_client_for({**fixture(), "gatewayUrl": "https://llm.example.com/v1"})
    kept, forwards = client_env.through_port_forward(public)
    assert kept["gateway"].base_url == "https://llm.example.com/v1" and len(forwards) == 1


def test_a_named_client_gets_its_own_key_and_an_unknown_one_is_refused(tmp_path, capsys):
    outputs = {**fixture(), "clientKeys": {"docs-bot": CLIENT_KEY, "search-ui": "sk-fixture-search-ui"}}
    saved = str(save(tmp_path, outputs))
    env_file = tmp_path / ".env"
    args = ["client-env", "dev", "--outputs", saved, "--with-secrets", "--env-file", str(env_file)]
    code, out, _ = run_cli(*args, "--client", "search-ui", capsys=capsys)
    assert code == 0 and "with the keys of client search-ui" in out
    assert read_env(env_file)["LEANRAG_GATEWAY_API_KEY"] == "sk-fixture-search-ui"
    assert "# The keys are client search-ui's (platform.clients)" in env_file.read_text()
    code, _, err = run_cli(*args, "--force", "--client", "nobody", capsys=capsys)
    assert code == 2 and "--client nobody is not a client of the stack (clients: docs-bot, search-ui)" in (
        one_line_error(err)
    )
    assert read_env(env_file)["LEANRAG_GATEWAY_API_KEY"] == "sk-fixture-search-ui"  # the old file is kept


def test_the_operator_keys_only_with_operator_and_said_so(tmp_path, capsys):
    env_file = tmp_path / ".env"
    args = ["client-env", "dev", "--outputs", str(FIXTURE), "--with-secrets", "--env-file", str(env_file)]
    code, out, _ = run_cli(*args, "--operator", capsys=capsys)
    assert code == 0 and "the operator's keys (--operator): keep them to yourself" in out
    assert read_env(env_file)["LEANRAG_GATEWAY_API_KEY"] == MASTER_KEY and CLIENT_KEY not in env_file.read_text()
    assert "# The keys are the operator's (--operator): never hand them to a client." in env_file.read_text()
    with pytest.raises(SystemExit):  # one or the other
        cli.parse([*args, "--operator", "--client", "docs-bot"])


def test_the_model_is_the_stacks_default_chat_model_not_its_first_served_model(tmp_path):
    local = run_stack("local").outputs  # its first served model is the embedding model
    assert local["servedModels"][0] == "all-minilm-l6-v2" and local["defaultChatModel"] == "smollm2-cpu"
    clients = client_env.openai_client_for({**fixture(), **{k: local[k] for k in ("servedModels", "defaultChatModel")}})
    assert clients["gateway"].model == "smollm2-cpu" and clients["app"].model == "vllm/smollm2-cpu"
    assert client_env.openai_client_for(fixture(), model="smollm2-cpu")["gateway"].model == "smollm2-cpu"


def test_an_existing_env_file_is_kept_unless_forced(tmp_path, capsys):
    env_file = tmp_path / ".env"
    env_file.write_text("MINE=1\n")
    code, _, err = run_cli("client-env", "dev", "--outputs", str(FIXTURE), "--env-file", str(env_file), capsys=capsys)
    assert code == 2 and "exists; pass --force to replace it" in one_line_error(err)
    assert env_file.read_text() == "MINE=1\n"
    code, _, _ = run_cli(
        "client-env", "dev", "--outputs", str(FIXTURE), "--env-file", str(env_file), "--force", capsys=capsys
    )
    assert code == 0 and "LEANRAG_GATEWAY_BASE_URL=" in env_file.read_text()


@pytest.mark.parametrize(
    ("outputs", "expected"),
    [
        ({}, "stack output defaultChatModel is missing (outputs present: none: the stack has not been deployed"),
        (
            {"defaultChatModel": None},
            "defaultChatModel is missing (outputs present: defaultChatModel); the stack "
            "serves no chat model: pass --model NAME",
        ),
        ({"defaultChatModel": "m", "ragAppUrl": "http://a"}, "stack output gatewayUrl is missing"),
        (
            {**json.loads(FIXTURE.read_text()), "clientKeys": {}},
            "the stack declares no clients (stack output clientKeys is {}): add one to leanrag:platform.clients",
        ),
        (
            {**json.loads(FIXTURE.read_text()), "clientKeys": {"a": "k1", "b": "k2"}},
            "the stack has several clients (a, b): pass --client NAME",
        ),
        ("[1, 2]", "is not a JSON object of stack outputs; use `pulumi stack output --json`"),
        ("{not json", "is not JSON (Expecting property name"),
    ],
)
def test_bad_or_incomplete_outputs_are_one_line_with_the_fix(tmp_path, capsys, outputs, expected):
    path = tmp_path / "outputs.json"
    path.write_text(outputs if isinstance(outputs, str) else json.dumps(outputs))
    code, _, err = run_cli(
        "client-env", "dev", "--outputs", str(path), "--with-secrets", "--env-file", str(tmp_path / "e"), capsys=capsys
    )
    assert code == 2 and expected in one_line_error(err)
    assert not (tmp_path / "e").exists()  # nothing half-written


def test_a_missing_outputs_file_says_how_to_save_one(tmp_path, capsys):
    code, _, err = run_cli("client-env", "dev", "--outputs", str(tmp_path / "nope.json"), capsys=capsys)
    assert code == 2 and "save one with `pulumi stack output --json > outputs.json`" in one_line_error(err)


# --- client-env through the pulumi CLI -------------------------------------------------------------------------
# The Pulumi CLI cannot be installed here; a stand-in on PATH answers as pulumi does (its stdout, its exit code and
# its error message for an unknown stack) and records the arguments it was called with.

FAKE_PULUMI = """#!/bin/sh
echo "$@" >> "{calls}"
case " $* " in
  *" --stack nope "*) echo "error: no stack named 'nope' found" >&2; exit 255 ;;
esac
cat "{outputs}"
"""


@pytest.fixture
def fake_pulumi(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    script = bin_dir / "pulumi"
    script.write_text(FAKE_PULUMI.format(calls=calls, outputs=FIXTURE))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return calls


def test_client_env_asks_pulumi_for_the_stack_and_secrets_only_with_the_flag(tmp_path, capsys, fake_pulumi):
    assert cli.main(["client-env", "dev", "--env-file", str(tmp_path / "a.env"), "--no-snippets"]) == 0
    assert cli.main(["client-env", "dev", "--env-file", str(tmp_path / "b.env"), "--with-secrets"]) == 0
    first, second = fake_pulumi.read_text().splitlines()
    assert first == "stack output --json --stack dev --non-interactive"
    assert second == "stack output --json --stack dev --non-interactive --show-secrets"
    assert CLIENT_KEY not in (tmp_path / "a.env").read_text()  # even if the backend returned it
    assert f"LEANRAG_GATEWAY_API_KEY={CLIENT_KEY}" in (tmp_path / "b.env").read_text()
    assert MASTER_KEY not in (tmp_path / "b.env").read_text()


def test_an_unknown_stack_is_one_line_naming_pulumi_stack_ls(tmp_path, capsys, fake_pulumi):
    code, _, err = run_cli("client-env", "nope", "--env-file", str(tmp_path / "e"), capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "pulumi has no stack 'nope'" in line and "`pulumi stack ls`" in line


def test_without_the_pulumi_cli_the_error_says_how_to_install_it_or_use_a_file(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi anywhere
    code, _, err = run_cli("client-env", "dev", "--env-file", str(tmp_path / "e"), capsys=capsys)
    line = one_line_error(err)
    assert code == 2 and "the pulumi CLI is not on PATH" in line and "--outputs FILE" in line


# --- plan, demo, ingest, bench ---------------------------------------------------------------------------------


def test_plan_runs_the_offline_plan_and_passes_its_flags_and_exit_code(tmp_path):
    out = tmp_path / "plan"
    assert cli.main(["plan", "local", "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "plan.json").read_text())["stack"] == "local"
    assert cli.main(["plan", "no-such-stack"]) == 2  # infra.plan's own one-line error and code


def test_plan_dry_run_names_the_command(capsys):
    code, out, _ = run_cli("plan", "--dry-run", "prod", "--diff", "main", "--markdown", "c.md", capsys=capsys)
    assert code == 0 and out.strip().endswith("-m infra.plan prod --diff main --markdown c.md")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["ingest", "--dry-run"], ".venvs/ingest/bin/python -m workloads.ingest ingest"),
        (["ingest", "--dry-run", "search", "--k", "3"], ".venvs/ingest/bin/python -m workloads.ingest search --k 3"),
        (["bench", "--dry-run"], ".venvs/benchmark/bin/python -m workloads.benchmark --help"),
        (["bench", "--dry-run", "run", "--target", "http://x"], "-m workloads.benchmark run --target http://x"),
        (["demo", "--dry-run", "--no-benchmark"], "-m local.demo --no-benchmark"),
    ],
)
def test_workloads_run_in_their_environments(capsys, args, expected):
    code, out, _ = run_cli(*args, capsys=capsys)
    assert code == 0 and out.strip().splitlines()[-1].endswith(expected)


def test_a_missing_environment_is_one_line_naming_its_make_target(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cli, "ROOT", tmp_path)
    code, _, err = run_cli("bench", "run", capsys=capsys)
    assert code == 2 and "run `make venv-benchmark` (once)" in one_line_error(err)


def test_the_demo_without_redis_says_how_to_install_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    code, _, err = run_cli("demo", capsys=capsys)
    assert code == 2 and "`sudo apt-get install redis-server`, or run `make demo`" in one_line_error(err)


def test_ingest_really_runs_the_job_in_its_environment(tmp_path):
    if not (ROOT / ".venvs" / "ingest" / "bin" / "python").exists():
        pytest.skip("needs .venvs/ingest (make venv-ingest)")
    proc = subprocess.run(
        [sys.executable, "-m", "infra.cli", "ingest", "--", "--help"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "ingest" in proc.stdout and "search" in proc.stdout


# --- the package -----------------------------------------------------------------------------------------------


def test_pyproject_installs_the_program_with_the_leanrag_command_and_the_pinned_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"leanrag": "infra.cli:main"}
    assert project["project"]["dynamic"] == ["dependencies"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and line[0] != "#"]
    assert pins and all("==" in p for p in pins)
    included = project["tool"]["setuptools"]["packages"]["find"]["include"]
    for package in ("stacks", "components", "infra", "policy", "local"):
        assert f"{package}*" in included and (ROOT / package / "__init__.py").exists()
    # the console script's target is importable without Pulumi (the CLI stays quick)
    code = "import sys, infra.cli; print(callable(infra.cli.main), any(m.startswith('pulumi') for m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["True", "False"]
