"""Recipes the target GPU cannot run are rejected before the model is loaded."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from workloads.quantize.cli import main
from workloads.quantize.errors import QuantizeError
from workloads.quantize.gpu_check import check_target_gpu
from workloads.quantize.recipes import get_recipe


@pytest.mark.parametrize("gpu", ["A10G", "T4", "A100-80GB"])
def test_fp8_rejected_below_compute_capability_8_9(gpu: str) -> None:
    with pytest.raises(QuantizeError) as err:
        check_target_gpu(get_recipe("fp8-dynamic"), gpu)
    message = str(err.value)
    assert f"--target-gpu {gpu}" in message and "8.9" in message and "FP8" in message
    assert "w8a8-int8" in message  # offers a recipe that GPU can run
    assert "H100" in message and "L4" in message  # and the GPUs that can run FP8


@pytest.mark.parametrize("gpu", ["L4", "L40S", "H100", "H200"])
def test_fp8_accepted_from_8_9(gpu: str) -> None:
    assert "can run fp8-dynamic" in check_target_gpu(get_recipe("fp8-dynamic"), gpu)


def test_w4a16_needs_ampere_and_int8_runs_on_turing() -> None:
    with pytest.raises(QuantizeError, match=r"--recipe w4a16 needs compute capability 8\.0"):
        check_target_gpu(get_recipe("w4a16"), "T4")
    assert "can run" in check_target_gpu(get_recipe("w8a8-int8"), "T4")
    assert "can run" in check_target_gpu(get_recipe("w4a16"), "A10G")


def test_unknown_gpu_lists_the_known_ones() -> None:
    with pytest.raises(QuantizeError) as err:
        check_target_gpu(get_recipe("w4a16"), "RTX-9090")
    message = str(err.value)
    assert "unknown --target-gpu 'RTX-9090'" in message
    for known in ("A10G", "H100", "L4", "T4"):
        assert known in message


def test_cli_rejects_before_touching_the_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    out = tmp_path / "out"
    started = time.perf_counter()
    code = main(
        [
            "--model",
            str(tmp_path / "no-such-model"),
            "--recipe",
            "fp8-dynamic",
            "--target-gpu",
            "A10G",
            "--output",
            str(out),
        ]
    )
    assert code == 2
    assert time.perf_counter() - started < 5
    assert "needs compute capability 8.9" in caplog.text
    assert "no-such-model" not in caplog.text  # the model was never looked at
    assert not out.exists()
