"""Helpers for the prefetch tests: a tiny safetensors model, a fake Hugging Face cache, log parsing."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

DEFAULT_COPIED = [
    "1_Pooling/config.json",
    "config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
    "tokenizer.json",
    "tokenizer_config.json",
]
LEFT_OUT = ["README.md", ".gitattributes", "pytorch_model.bin"]


def build_tiny_model(root: Path) -> Path:
    from safetensors.numpy import save_file

    root.mkdir(parents=True)
    rng = np.random.default_rng(7)
    shard_1 = {"embed.weight": rng.standard_normal((1200, 1024), dtype=np.float32)}  # ~4.9 MB
    shard_1["layers.0.weight"] = rng.standard_normal((1024, 1024), dtype=np.float32)  # ~4.2 MB: 9.1 MB total
    shard_2 = {"lm_head.weight": rng.standard_normal((64, 128), dtype=np.float32)}
    save_file(shard_1, str(root / "model-00001-of-00002.safetensors"), metadata={"format": "pt"})
    save_file(shard_2, str(root / "model-00002-of-00002.safetensors"), metadata={"format": "pt"})
    weight_map = {name: "model-00001-of-00002.safetensors" for name in shard_1}
    weight_map.update({name: "model-00002-of-00002.safetensors" for name in shard_2})
    (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    (root / "config.json").write_text(json.dumps({"model_type": "tiny", "hidden_size": 128}))
    (root / "tokenizer.json").write_text(json.dumps({"version": "1.0", "model": {"type": "BPE", "vocab": {}}}))
    (root / "tokenizer_config.json").write_text(json.dumps({"model_max_length": 512}))
    (root / "1_Pooling").mkdir()
    (root / "1_Pooling" / "config.json").write_text(json.dumps({"pooling_mode_mean_tokens": True}))
    (root / "README.md").write_text("# tiny\n")
    (root / ".gitattributes").write_text("*.safetensors filter=lfs\n")
    (root / "pytorch_model.bin").write_bytes(os.urandom(1024))
    return root


def fake_hf_cache(hf_home: Path, repo_id: str, commit: str, model_dir: Path) -> Path:
    """The layout huggingface_hub's cache uses (blobs, snapshots/<commit> of symlinks, refs/main)."""
    import hashlib

    repo = hf_home / "hub" / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    for path in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        link = snapshot / path.relative_to(model_dir)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    return snapshot
