"""The rendered prefetch Jobs run the real prefetch CLI (workloads/prefetch, in the quantize environment), and the
servers find its copy where their arguments point: the local stack's Jobs are run here against a Hugging Face
cache seeded on disk (HF_HUB_OFFLINE=1, the CLI's offline mode), with the model-store claim and the staging
volume mapped to temporary folders; twice, the second run copying nothing."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest

from components.serving.engine import flag_value
from local.envs import job_env, venv_bin
from tests.renderkit import container, env_of, local, obj, objects_of

pytestmark = [pytest.mark.slow, pytest.mark.servers]

STORE_MOUNT, STAGING, SERVER_MOUNT = "/store", "/staging", "/models/model-store"


def seed_hub_cache(hf_home: Path, repo_id: str, files: dict[str, bytes]) -> None:
    """huggingface_hub's cache layout (blobs, snapshots/<commit> of symlinks, refs/main)."""
    commit = hashlib.sha1(repo_id.encode()).hexdigest()
    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for name, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = repo / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))


def run_job(job: dict, store: Path, staging: Path, hf_home: Path) -> subprocess.CompletedProcess[str]:
    """The Job's container arguments, with its volumes mapped to local folders."""
    c = container(job)
    args = [str(a).replace(STORE_MOUNT, str(store)).replace(STAGING, str(staging)) for a in c["args"]]
    assert "HF_TOKEN" not in env_of(c)  # the local stack sets no hfToken
    env = {**os.environ, **job_env(), "HF_HOME": str(hf_home), "HF_HUB_DISABLE_TELEMETRY": "1"}
    return subprocess.run(
        [str(venv_bin("quantize")), "-m", "workloads.prefetch", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_local_stacks_prefetch_jobs_fill_the_paths_its_servers_read(tmp_path):
    run = local()
    hf_home, store, staging = tmp_path / "hf", tmp_path / "store", tmp_path / "staging"
    gguf = b"GGUF" + bytes(range(256)) * 64
    seed_hub_cache(
        hf_home,
        "bartowski/SmolLM2-135M-Instruct-GGUF",
        {"SmolLM2-135M-Instruct-Q4_K_M.gguf": gguf, "SmolLM2-135M-Instruct-Q8_0.gguf": b"other", "README.md": b"#"},
    )
    minilm = {
        "config.json": json.dumps({"model_type": "bert", "hidden_size": 384}).encode(),
        "model.safetensors": os.urandom(4096),
        "tokenizer.json": b"{}",
        "tokenizer_config.json": b"{}",
        "modules.json": b"[]",
        "sentence_bert_config.json": b"{}",
        "1_Pooling/config.json": json.dumps({"pooling_mode_mean_tokens": True}).encode(),
        "pytorch_model.bin": os.urandom(512),
        "README.md": b"#",
    }
    seed_hub_cache(hf_home, "sentence-transformers/all-MiniLM-L6-v2", minilm)
    guard = b"GGUF" + bytes(range(255, -1, -1)) * 64  # Llama Guard on CPU (serving.cpuSafety)
    seed_hub_cache(
        hf_home,
        "bartowski/Llama-Guard-3-1B-GGUF",
        {"Llama-Guard-3-1B-Q8_0.gguf": guard, "Llama-Guard-3-1B-Q4_K_M.gguf": b"other", "README.md": b"#"},
    )

    jobs = sorted(
        j["metadata"]["name"] for j in objects_of(run, "Job") if j["metadata"]["name"].startswith("prefetch-")
    )
    assert jobs == ["prefetch-all-minilm-l6-v2", "prefetch-llama-guard-3-1b-cpu", "prefetch-smollm2-cpu"]
    for job in jobs:
        first = run_job(obj(run, "Job", job), store, staging, hf_home)
        assert first.returncode == 0, first.stderr
    # llama-server's --model and TEI's --model-id, with the claim's mount mapped to the same folder
    model = flag_value(container(obj(run, "Deployment", "smollm2-cpu"))["args"], "--model")
    assert Path(model.replace(SERVER_MOUNT, str(store))).read_bytes() == gguf
    folder = Path(model.replace(SERVER_MOUNT, str(store))).parent
    assert sorted(p.name for p in folder.iterdir()) == ["SmolLM2-135M-Instruct-Q4_K_M.gguf", "manifest.json"]
    tei = Path(flag_value(container(obj(run, "Deployment", "all-minilm-l6-v2"))["args"], "--model-id"))
    copied = Path(str(tei).replace(SERVER_MOUNT, str(store)))
    assert sorted(str(p.relative_to(copied)) for p in copied.rglob("*") if p.is_file()) == sorted(
        [*(n for n in minilm if n not in ("pytorch_model.bin", "README.md")), "manifest.json"]
    )
    guard_model = flag_value(container(obj(run, "Deployment", "llama-guard-3-1b-cpu"))["args"], "--model")
    guard_path = Path(guard_model.replace(SERVER_MOUNT, str(store)))
    assert guard_path.read_bytes() == guard
    assert sorted(p.name for p in guard_path.parent.iterdir()) == ["Llama-Guard-3-1B-Q8_0.gguf", "manifest.json"]
    manifest = json.loads((copied / "manifest.json").read_text())
    assert manifest["source_model"]["id"] == "sentence-transformers/all-MiniLM-L6-v2"

    before = {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()}
    again = run_job(obj(run, "Job", "prefetch-smollm2-cpu"), store, staging, hf_home)
    assert again.returncode == 0, again.stderr
    assert {p: p.stat().st_mtime_ns for p in store.rglob("*") if p.is_file()} == before  # nothing copied
