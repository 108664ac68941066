"""Clear errors before GuideLLM starts: unreachable endpoint, unknown model, rejected key, bad options."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from benchmark_helpers import run_cli

from local.llm_server import LlmServer, free_port

# The pre-flight check fails within seconds; GuideLLM alone takes ~15 s to start on 2 cores.
PREFLIGHT_BUDGET_S = 12


def test_unreachable_endpoint_is_named_with_the_option(tmp_path: Path, tokenizer_dir: Path) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    done = run_cli("run", "--target", f"http://127.0.0.1:{port}", "--scenario", "smoke",
                   "--tokenizer", tokenizer_dir, "--output-dir", tmp_path / "run")  # fmt: skip
    assert done.returncode == 2
    assert f"cannot reach endpoint http://127.0.0.1:{port} (--target)" in done.stderr
    assert "model server is running" in done.stderr
    assert time.monotonic() - started < PREFLIGHT_BUDGET_S
    assert not (tmp_path / "run" / "guidellm").exists()  # GuideLLM never started


def test_model_not_served_lists_the_served_names(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path, tokenizer_dir: Path
) -> None:
    done = run_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file,
                   "--model", "meta-llama/Llama-3.1-8B-Instruct", "--scenario", "smoke",
                   "--tokenizer", tokenizer_dir, "--output-dir", tmp_path / "run")  # fmt: skip
    assert done.returncode == 2
    assert "model 'meta-llama/Llama-3.1-8B-Instruct' (--model) is not served" in done.stderr
    assert "served models: SmolLM2-135M-Instruct" in done.stderr
    assert not (tmp_path / "run" / "guidellm").exists()


def test_missing_or_wrong_api_key_says_how_to_pass_it(
    tmp_path: Path, llm_server: LlmServer, tokenizer_dir: Path
) -> None:
    done = run_cli("run", "--target", llm_server.base_url, "--scenario", "smoke",
                   "--tokenizer", tokenizer_dir, "--output-dir", tmp_path / "a")  # fmt: skip
    assert done.returncode == 2
    assert "answered 401" in done.stderr and "no key was sent" in done.stderr
    assert "OPENAI_API_KEY" in done.stderr
    wrong = tmp_path / "key"
    wrong.write_text("not-the-key")
    done = run_cli("run", "--target", llm_server.base_url, "--api-key-file", wrong, "--scenario", "smoke",
                   "--tokenizer", tokenizer_dir, "--output-dir", tmp_path / "b")  # fmt: skip
    assert done.returncode == 2
    assert "the key was rejected" in done.stderr
    assert "not-the-key" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--profile", "constant"], "--profile constant needs request rates: add --rate"),
        (["--profile", "synchronous", "--rate", "2"], "--rate applies only to --profile constant"),
        (["--instance-type", "g6.xlarge"], "--instance-type needs --cloud"),
        (["--cloud", "aws", "--instance-type", "g9.huge"], "unknown aws instance type 'g9.huge'"),
        (["--gpu", "L4", "--model-params-b", "8"], "--model-params-b needs --precision"),
    ],
)
def test_bad_options_fail_before_any_work(tmp_path: Path, args: list[str], message: str) -> None:
    # The target is unreachable on purpose: option errors must come before any network access.
    done = run_cli("run", "--target", "http://127.0.0.1:9", "--output-dir", tmp_path / "run", *args)
    assert done.returncode == 2
    assert message in done.stderr, done.stderr
    assert "cannot reach" not in done.stderr


def test_bad_tokenizer_dir_is_reported_after_the_endpoint_check(
    tmp_path: Path, llm_server: LlmServer, api_key_file: Path
) -> None:
    done = run_cli("run", "--target", llm_server.base_url, "--api-key-file", api_key_file, "--scenario", "smoke",
                   "--tokenizer", tmp_path / "missing", "--output-dir", tmp_path / "run")  # fmt: skip
    assert done.returncode == 2
    assert f"--tokenizer {tmp_path / 'missing'} is not a directory" in done.stderr
