"""Real quantization of a tiny Llama on CPU with each recipe; reload with transformers and generate."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from quantize_helpers import BUCKET, download_prefix, generate, s3_keys

from workloads.artifacts import manifest
from workloads.quantize.calibration import CalibrationSource, default_texts
from workloads.quantize.cli import main
from workloads.quantize.pipeline import Job, run

pytestmark = pytest.mark.slow


def _subset(actual: dict[str, Any], expected: dict[str, Any]) -> bool:
    assert {k: actual.get(k) for k in expected} == expected
    return True


def _quant_config(model_dir: Path) -> dict[str, Any]:
    return json.loads((model_dir / "config.json").read_text())["quantization_config"]


def _similarity(original: Path, quantized_logits: Any) -> float:
    import torch

    _, reference = generate(original, new_tokens=1)
    value = float(torch.nn.functional.cosine_similarity(reference.flatten(), quantized_logits.flatten(), dim=0))
    print(f"logits cosine similarity to the original: {value:.4f}")
    return value


def _check_manifest(model_dir: Path, recipe: str) -> dict[str, Any]:
    record = json.loads((model_dir / "manifest.json").read_text())
    assert record["recipe"]["name"] == recipe
    assert record["format"] == "compressed-tensors"
    assert manifest.verify(model_dir, record) == []  # every file present, sizes and sha256 match
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {f["path"] for f in record["files"]}
    assert record["versions"]["llmcompressor"] and record["versions"]["compressed-tensors"]
    return record


def test_w8a8_int8_then_refuse_then_overwrite_with_fp8(
    tiny_llama: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "tiny-w8a8"
    caplog.set_level("INFO")
    started = time.perf_counter()
    code = main(
        [
            "--model",
            str(tiny_llama),
            "--recipe",
            "w8a8-int8",
            "--output",
            str(out),
            "--target-gpu",
            "T4",
            "--num-calibration-samples",
            "16",
            "--max-seq-length",
            "128",
        ]
    )
    print(f"w8a8-int8 on the tiny model: {time.perf_counter() - started:.1f}s")
    assert code == 0
    for number, name in enumerate(("load", "calibrate", "quantize", "save", "upload"), start=1):
        assert f"[{number}/5] {name}: start" in caplog.text and f"[{number}/5] {name}: done" in caplog.text

    config = _quant_config(out)
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "int-quantized"
    assert config["ignore"] == ["lm_head"]
    group = config["config_groups"]["group_0"]
    assert _subset(group["weights"], {"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": True})
    assert _subset(group["input_activations"], {"num_bits": 8, "type": "int", "strategy": "token", "dynamic": True})
    record = _check_manifest(out, "w8a8-int8")
    assert record["recipe"]["modifiers"] == ["SmoothQuantModifier", "GPTQModifier"]
    assert _subset(record["calibration"], {"kind": "embedded-default", "num_samples": 16, "max_seq_length": 128})
    assert record["target_gpu"] == "T4"

    tokens, logits = generate(out)
    assert len(tokens) == 6
    assert _similarity(tiny_llama, logits) > 0.99

    # A finished artifact is not replaced without --overwrite; the check runs before the model loads.
    caplog.clear()
    started = time.perf_counter()
    code = main(["--model", str(tiny_llama), "--recipe", "fp8-dynamic", "--output", str(out)])
    assert code == 2 and time.perf_counter() - started < 5
    assert "already holds a finished artifact" in caplog.text and "--overwrite" in caplog.text
    assert "[1/5] load" not in caplog.text
    assert json.loads((out / "manifest.json").read_text()) == record

    started = time.perf_counter()
    code = main(
        [
            "--model",
            str(tiny_llama),
            "--recipe",
            "fp8-dynamic",
            "--output",
            str(out),
            "--target-gpu",
            "H100",
            "--overwrite",
        ]
    )
    print(f"fp8-dynamic on the tiny model: {time.perf_counter() - started:.1f}s")
    assert code == 0
    assert "calibrate: start (skipped: fp8-dynamic is data-free)" in caplog.text
    config = _quant_config(out)
    weights = config["config_groups"]["group_0"]["weights"]
    assert config["format"] == "float-quantized"
    assert _subset(weights, {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": True})
    record = _check_manifest(out, "fp8-dynamic")
    assert record["calibration"] is None
    tokens, logits = generate(out)
    assert len(tokens) == 6
    assert _similarity(tiny_llama, logits) > 0.99
    assert [p.name for p in tmp_path.iterdir()] == ["tiny-w8a8"]  # no staging dirs left behind


def test_w4a16_small_hidden_size_to_s3_with_local_calibration_files(
    tiny_llama_64: Path, tmp_path: Path, s3: Any, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "calibration.jsonl"
    data.write_text("\n".join(json.dumps({"body": t}) for t in default_texts()[:12]) + "\n")
    prefix = "models/tiny-w4a16"
    caplog.set_level("INFO")
    started = time.perf_counter()
    job = Job(
        model=str(tiny_llama_64),
        recipe="w4a16",
        output=f"s3://{BUCKET}/{prefix}",
        target_gpu="A10G",
        calibration=CalibrationSource(files=(data,), text_column="body"),
        num_calibration_samples=64,
        max_seq_length=128,
        staging_dir=tmp_path / "staging",
    )
    result = run(job)
    print(f"w4a16 on the tiny model (to S3): {time.perf_counter() - started:.1f}s")
    assert result.uri == f"s3://{BUCKET}/{prefix}"
    assert set(result.timings) == {"load", "calibrate", "quantize", "save", "upload"}
    assert "group size 64 chosen automatically" in caplog.text  # hidden size 64 < default 128, said so
    assert list((tmp_path / "staging").iterdir()) == []  # staging removed after the upload
    assert f"{prefix}/manifest.json" in s3_keys(s3, prefix + "/")

    out = download_prefix(s3, prefix, tmp_path / "downloaded")
    record = _check_manifest(out, "w4a16")
    assert record == result.manifest
    assert _subset(record["recipe"], {"group_size": 64, "group_size_automatic": True})
    assert _subset(record["calibration"], {"kind": "files", "files": ["calibration.jsonl"], "num_samples": 12})
    config = _quant_config(out)
    assert config["quant_method"] == "compressed-tensors" and config["format"] == "pack-quantized"
    weights = config["config_groups"]["group_0"]["weights"]
    assert _subset(weights, {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 64, "symmetric": True})
    assert config["config_groups"]["group_0"]["input_activations"] is None
    assert record["scheme"]["config_groups"]["group_0"]["weights"]["group_size"] == 64

    tokens, logits = generate(out)
    assert len(tokens) == 6
    assert _similarity(tiny_llama_64, logits) > 0.95


def test_w4a16_explicit_group_size_larger_than_hidden_is_rejected_before_loading(
    tiny_llama_64: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = main(
        [
            "--model",
            str(tiny_llama_64),
            "--recipe",
            "w4a16",
            "--group-size",
            "128",
            "--output",
            str(tmp_path / "out"),
        ]
    )
    assert code == 2
    assert "--group-size 128 does not fit" in caplog.text and "pass --group-size 64" in caplog.text
    assert "[1/5] load" not in caplog.text
    assert not (tmp_path / "out").exists()


def test_a_failed_upload_keeps_the_checkpoint_and_publish_staged_finishes_it(
    tiny_llama: Path, tmp_path: Path, s3: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.exceptions import EndpointConnectionError

    from workloads.artifacts.s3_backend import S3Backend

    prefix = "models/tiny-fp8-retry"
    output = f"s3://{BUCKET}/{prefix}"
    real_upload = S3Backend.upload_file
    calls: list[str] = []

    def failing_upload(self: S3Backend, path: Path, key: str, sha256: str | None = None) -> None:
        calls.append(key)
        if len(calls) == 2:
            raise EndpointConnectionError(endpoint_url="https://s3.example.invalid")
        real_upload(self, path, key, sha256)

    monkeypatch.setattr(S3Backend, "upload_file", failing_upload)
    staging = tmp_path / "staging"
    code = main(
        ["--model", str(tiny_llama), "--recipe", "fp8-dynamic", "--output", output, "--staging-dir", str(staging)]
    )
    assert code == 1
    assert f"{prefix}/manifest.json" not in s3_keys(s3, prefix + "/")  # nothing marked finished
    kept = [p for p in staging.iterdir() if p.is_dir()]
    assert len(kept) == 1 and (kept[0] / "config.json").is_file()  # the quantized checkpoint is not lost
    assert (staging / f"{kept[0].name}.manifest.json").is_file()
    assert f"--publish-staged {kept[0]} --output {output}" in caplog.text  # the way to finish is named

    monkeypatch.setattr(S3Backend, "upload_file", real_upload)
    assert main(["--publish-staged", str(kept[0]), "--output", output]) == 0
    assert f"{prefix}/manifest.json" in s3_keys(s3, prefix + "/")
    assert list(staging.iterdir()) == []  # published: the staged copy and its manifest are gone
    out = download_prefix(s3, prefix, tmp_path / "downloaded")
    assert _check_manifest(out, "fp8-dynamic")["calibration"] is None
    assert len(generate(out)[0]) == 6  # the published checkpoint loads and generates


def test_publish_staged_refuses_a_directory_that_no_failed_upload_kept(tmp_path: Path, s3: Any) -> None:
    (tmp_path / "random").mkdir()
    assert main(["--publish-staged", str(tmp_path / "random"), "--output", f"s3://{BUCKET}/x"]) == 2
