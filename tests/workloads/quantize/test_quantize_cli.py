"""The command line: usage errors are clear, exit 2, and come before any model work."""

from __future__ import annotations

from pathlib import Path

import pytest

from workloads.artifacts.hub import redact
from workloads.quantize.cli import main


def test_list_recipes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list-recipes"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["w8a8-int8", "fp8-dynamic", "w4a16"]
    assert "compute capability >= 8.9" in out


def test_missing_arguments_are_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--recipe", "w4a16"])
    assert exit_info.value.code == 2
    assert "required: --model, --output" in capsys.readouterr().err


def test_unknown_recipe_is_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--model", "m", "--recipe", "int3", "--output", "o"])
    assert "invalid choice: 'int3'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--model", "./no-such-dir", "--recipe", "w4a16"], "--model ./no-such-dir: no such directory"),
        (["--model", "org/model", "--recipe", "fp8-dynamic", "--output", "s3://bucket"], "give a prefix"),
        (["--recipe", "w8a8-int8", "--group-size", "64"], "--group-size applies to grouped recipes (w4a16)"),
        (["--recipe", "w4a16", "--calibration-file", "a.txt", "--dataset", "x/y"], "not both"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], message: str, tiny_llama: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if "--model" not in args:
        args = ["--model", str(tiny_llama), *args]
    if "--output" not in args:
        args = [*args, "--output", str(tmp_path / "out")]
    assert main(args) == 2
    assert message in caplog.text
    assert "[1/5] load" not in caplog.text


def test_hub_model_offline_fails_fast_without_leaking_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    token = "hf_exampletokenvalue0123456789"
    monkeypatch.setenv("HF_TOKEN", token)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HTTPS_PROXY", raising=False)
    monkeypatch.delenv("https_proxy", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    code = main(["--model", "meta-llama/Llama-3.2-1B-Instruct", "--recipe", "w4a16", "--output", str(tmp_path / "o")])
    assert code == 2
    assert "--model meta-llama/Llama-3.2-1B-Instruct must be downloaded from the Hugging Face Hub" in caplog.text
    assert "HF_HUB_OFFLINE=1" in caplog.text
    assert token not in caplog.text
    assert redact(f"GET /x?token={token}") == "GET /x?token=***"


def test_the_token_file_the_cluster_jobs_mount_is_masked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the Jobs pass the token as a Secret file named by HF_TOKEN_PATH (huggingface_hub reads it), not HF_TOKEN
    token = "hf_filetokenvalue0123456789"
    (tmp_path / "hf-token").write_text(token + "\n")
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_TOKEN_PATH", str(tmp_path / "hf-token"))
    assert redact(f"GET /x?token={token}") == "GET /x?token=***"
