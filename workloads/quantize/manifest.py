"""The quantize job's `manifest.json`: the shared format (workloads.artifacts.manifest, kind "quantized")
plus what was made (recipe and scheme), from what (calibration) and for which GPU.

Every file is listed with its size and sha256, so a consumer can verify a download.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from workloads.artifacts.manifest import common_fields, file_entries, package_versions

_ARG_KEYS = ("num_bits", "type", "strategy", "group_size", "symmetric", "dynamic", "actorder")
VERSIONED_PACKAGES = ("llmcompressor", "compressed-tensors", "transformers", "torch")


def _args(args: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if args is None else {k: args.get(k) for k in _ARG_KEYS}


def scheme_details(quantization_config: dict[str, Any]) -> dict[str, Any]:
    """The essentials of a saved compressed-tensors `quantization_config`."""
    groups = {
        name: {
            "targets": group.get("targets"),
            "weights": _args(group.get("weights")),
            "input_activations": _args(group.get("input_activations")),
        }
        for name, group in (quantization_config.get("config_groups") or {}).items()
    }
    return {
        "quant_method": quantization_config.get("quant_method"),
        "format": quantization_config.get("format"),
        "ignore": quantization_config.get("ignore"),
        "config_groups": groups,
    }


def library_versions() -> dict[str, str | None]:
    return package_versions(VERSIONED_PACKAGES)


def build_manifest(
    root: Path,
    *,
    recipe: dict[str, Any],
    source_model: dict[str, Any],
    calibration: dict[str, Any] | None,
    target_gpu: str | None,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """Describe the checkpoint staged in `root` (which must hold the saved config.json)."""
    config = json.loads((root / "config.json").read_text("utf-8"))
    quantization_config = config.get("quantization_config")
    if not quantization_config:
        raise ValueError(f"{root / 'config.json'} has no quantization_config; the model was not compressed")
    record = common_fields(
        kind="quantized",
        producer="quantize",
        source_model=source_model,
        files=file_entries(root),
        versions=library_versions(),
        created_at=created_at,
    )
    record.update(
        format=quantization_config.get("quant_method"),
        recipe=recipe,
        scheme=scheme_details(quantization_config),
        calibration=calibration,
        target_gpu=target_gpu,
    )
    return record
