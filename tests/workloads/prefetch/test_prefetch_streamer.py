"""What the prefetch job writes is what vLLM's Run:ai streamer loads: the tiny model is prefetched to moto's
S3 server, then listed, pulled and streamed with runai-model-streamer (the library behind vLLM's
`--load-format runai_streamer`), and every tensor is compared with the source checkpoint."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prefetch_helpers import DEFAULT_COPIED

from tests.workloads.store_servers import BUCKET, S3Server, use_server
from workloads.prefetch.cli import main

HERE = Path(__file__).resolve().parent
PREFIX = "models/tiny/bf16"


@pytest.mark.slow
def test_runai_streamer_loads_the_prefetched_model(
    s3_server: S3Server, tiny_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from safetensors.numpy import load_file

    use_server(monkeypatch, tmp_path, s3_server, s3_server.admin)
    uri = f"s3://{BUCKET}/{PREFIX}"
    assert main(["--model", str(tiny_model), "--output", uri]) == 0
    env = {
        **os.environ,
        # What the serving pods need for an S3-compatible endpoint (vLLM's docs); on AWS only the role.
        "RUNAI_STREAMER_S3_USE_VIRTUAL_ADDRESSING": "0",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    run = subprocess.run(
        [sys.executable, str(HERE / "streamer_load.py"), uri, str(tmp_path / "pulled")],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    loaded = json.loads(run.stdout.strip().splitlines()[-1])
    shards = [p for p in DEFAULT_COPIED if p.endswith(".safetensors")]
    assert loaded["safetensors"] == [f"{uri}/{p}" for p in shards]
    assert loaded["pulled"] == sorted(p for p in [*DEFAULT_COPIED, "manifest.json"] if not p.endswith(".safetensors"))
    expected = {}
    for shard in shards:
        for name, array in load_file(str(tiny_model / shard)).items():
            expected[name] = hashlib.sha256(array.tobytes()).hexdigest()
    assert loaded["tensors"] == expected
