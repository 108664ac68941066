"""manifest.json: what was made, from what, with what; every file with its size and sha256."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from workloads.artifacts import manifest as artifact_manifest
from workloads.quantize import manifest

QUANT_CONFIG = {
    "quant_method": "compressed-tensors",
    "format": "pack-quantized",
    "ignore": ["lm_head"],
    "config_groups": {
        "group_0": {
            "targets": ["Linear"],
            "weights": {
                "num_bits": 4,
                "type": "int",
                "strategy": "group",
                "group_size": 64,
                "symmetric": True,
                "dynamic": False,
                "actorder": "static",
                "observer": "minmax",
            },
            "input_activations": None,
        }
    },
}


def _staged(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "config.json").write_text(json.dumps({"model_type": "llama", "quantization_config": QUANT_CONFIG}))
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 4000)
    (root / "sub" / "extra.txt").write_text("hello")
    return root


def test_manifest_lists_every_file_with_size_and_sha256(tmp_path: Path) -> None:
    root = _staged(tmp_path / "ckpt")
    (root / artifact_manifest.MANIFEST_NAME).write_text("{}")  # an older manifest is never listed in itself
    record = manifest.build_manifest(
        root,
        recipe={"name": "w4a16", "group_size": 64},
        source_model={"id": "tiny", "kind": "local"},
        calibration={"kind": "embedded-default", "num_samples": 31},
        target_gpu="L4",
        created_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    paths = [f["path"] for f in record["files"]]
    assert paths == ["config.json", "model.safetensors", "sub/extra.txt"]
    for entry in record["files"]:
        data = (root / entry["path"]).read_bytes()
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert record["total_size"] == sum(len((root / p).read_bytes()) for p in paths)
    assert record["file_count"] == 3
    assert record["created_at"] == "2026-01-02T03:04:05Z"
    assert record["format"] == "compressed-tensors"
    assert record["recipe"] == {"name": "w4a16", "group_size": 64}
    assert record["source_model"]["id"] == "tiny"
    assert record["target_gpu"] == "L4"
    weights = record["scheme"]["config_groups"]["group_0"]["weights"]
    assert weights == {
        "num_bits": 4,
        "type": "int",
        "strategy": "group",
        "group_size": 64,
        "symmetric": True,
        "dynamic": False,
        "actorder": "static",
    }
    assert record["scheme"]["ignore"] == ["lm_head"]
    versions = record["versions"]
    assert versions["llmcompressor"].startswith("0.14") and versions["compressed-tensors"]
    assert json.loads(artifact_manifest.dumps(record)) == record


def test_verify_detects_changed_missing_and_extra_files(tmp_path: Path) -> None:
    root = _staged(tmp_path / "ckpt")
    record = manifest.build_manifest(root, recipe={}, source_model={}, calibration=None, target_gpu=None)
    assert artifact_manifest.verify(root, record) == []
    data = bytearray((root / "model.safetensors").read_bytes())
    data[100] ^= 1  # same size, one bit flipped
    (root / "model.safetensors").write_bytes(bytes(data))
    (root / "sub" / "extra.txt").unlink()
    (root / "stray.bin").write_bytes(b"x")
    assert artifact_manifest.verify(root, record) == [
        "model.safetensors: sha256 mismatch",
        "sub/extra.txt: missing",
        "stray.bin: not in the manifest",
    ]


def test_uncompressed_checkpoint_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "llama"}))
    with pytest.raises(ValueError, match="no quantization_config"):
        manifest.build_manifest(tmp_path, recipe={}, source_model={}, calibration=None, target_gpu=None)
