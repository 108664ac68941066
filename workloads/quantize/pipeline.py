"""The quantize job: preflight, then load, calibrate, quantize, save and upload."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workloads.artifacts.errors import TransferError, UserError
from workloads.artifacts.hub import redact, require_hub
from workloads.artifacts.local_backend import probe_directory
from workloads.artifacts.manifest import dumps
from workloads.artifacts.object_store import BucketStore
from workloads.quantize import calibration, manifest
from workloads.quantize.calibration import CalibrationSource
from workloads.quantize.destinations import Store, open_store
from workloads.quantize.errors import QuantizeError
from workloads.quantize.gpu_check import check_target_gpu
from workloads.quantize.group_size import GroupSizeChoice, quantized_input_sizes, resolve_group_size
from workloads.quantize.phases import phase
from workloads.quantize.recipes import (
    DEFAULT_GROUP_SIZE,
    SMOOTHING_STRENGTH,
    Recipe,
    build_modifiers,
    get_recipe,
)

log = logging.getLogger("workloads.quantize")

SEED = 0


@dataclass(frozen=True)
class Job:
    model: str
    recipe: str
    output: str
    group_size: int | None = None
    target_gpu: str | None = None
    calibration: CalibrationSource = field(default_factory=CalibrationSource)
    num_calibration_samples: int = 256
    max_seq_length: int = 512
    overwrite: bool = False
    revision: str | None = None
    staging_dir: Path | None = None


@dataclass(frozen=True)
class Result:
    uri: str
    manifest: dict[str, Any]
    timings: dict[str, float]


def _is_local(model: str) -> bool:
    return Path(model).expanduser().is_dir()


def _hub_kwargs(job: Job) -> dict[str, Any]:
    # The hub client reads HF_TOKEN from the environment itself; it is never passed or logged here.
    return {"revision": job.revision} if job.revision else {}


def _load_config(job: Job) -> Any:
    from transformers import AutoConfig

    if not _is_local(job.model):
        if job.model.startswith(("/", "./", "../", "~")):
            raise QuantizeError(f"--model {job.model}: no such directory; give a model directory or a hub id")
        require_hub(f"--model {job.model}", "Pass a local model directory to --model")
    try:
        return AutoConfig.from_pretrained(job.model, **_hub_kwargs(job))
    except Exception as exc:  # OSError, ValueError, hub errors: all mean the model cannot be read
        raise QuantizeError(
            f"could not read the config of --model {job.model}: {redact(str(exc))}. Give a local directory "
            "with config.json, or a Hugging Face model id (set HF_TOKEN for gated models)"
        ) from None


def _resolve_group_size(recipe: Recipe, job: Job, config: Any) -> GroupSizeChoice | None:
    if not recipe.grouped:
        if job.group_size is not None:
            raise QuantizeError(f"--group-size applies to grouped recipes (w4a16) only, not {recipe.name}")
        return None
    import torch
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):  # shapes only: no memory, no weights read
        skeleton = AutoModelForCausalLM.from_config(config)
    choice = resolve_group_size(quantized_input_sizes(skeleton), job.group_size)
    if choice.automatic and choice.group_size != DEFAULT_GROUP_SIZE:
        log.warning("w4a16: %s", choice.note)
    else:
        log.info("w4a16: %s", choice.note)
    return choice


def preflight(job: Job, store: Store) -> tuple[Recipe, Any, GroupSizeChoice | None]:
    """Everything that can fail before the model is loaded onto a GPU."""
    recipe = get_recipe(job.recipe)
    if job.target_gpu:
        log.info("preflight: %s", check_target_gpu(recipe, job.target_gpu))
    else:
        log.warning("preflight: no --target-gpu given; not checking that the serving GPU can run %s", recipe.name)
    # Prove the output can be written (credentials, permissions) now, not after hours of calibration.
    store.probe_write()
    store.check(job.overwrite)
    if isinstance(store, BucketStore):  # bucket outputs are staged on local disk first
        staging = job.staging_dir or Path(tempfile.gettempdir())
        probe_directory(staging, "--staging-dir")
    config = _load_config(job)
    return recipe, config, _resolve_group_size(recipe, job, config)


def _load(job: Job) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(job.model, **_hub_kwargs(job))
        model = AutoModelForCausalLM.from_pretrained(job.model, dtype="auto", **_hub_kwargs(job))
    except Exception as exc:
        raise QuantizeError(f"could not load --model {job.model}: {redact(str(exc))}") from None
    model.eval()
    return model, tokenizer


def _recipe_record(recipe: Recipe, modifiers: list[Any], choice: GroupSizeChoice | None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "name": recipe.name,
        "description": recipe.description,
        "preset": recipe.preset,
        "modifiers": [type(m).__name__ for m in modifiers],
        "min_compute_capability": recipe.min_compute_capability,
    }
    if recipe.name == "w8a8-int8":
        record["smoothing_strength"] = SMOOTHING_STRENGTH
    if choice is not None:
        record.update(group_size=choice.group_size, group_size_automatic=choice.automatic, group_size_note=choice.note)
    return record


def _source_record(job: Job, config: Any) -> dict[str, Any]:
    local = _is_local(job.model)
    return {
        "id": str(Path(job.model).expanduser().absolute()) if local else job.model,
        "kind": "local" if local else "huggingface",
        "revision": job.revision,
        "model_type": getattr(config, "model_type", None),
        "architectures": getattr(config, "architectures", None),
    }


def run(job: Job, store: Store | None = None) -> Result:
    """Quantize `job.model` with `job.recipe` and publish it to `job.output` (or `store`)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    store = store or open_store(job.output)
    recipe, config, choice = preflight(job, store)
    timings: dict[str, float] = {}

    with phase("load", timings, job.model):
        import torch

        torch.manual_seed(SEED)
        model, tokenizer = _load(job)

    dataset = None
    calibration_record = None
    if recipe.calibrated:
        with phase("calibrate", timings, str(job.calibration.describe()["kind"])):
            texts = calibration.load_texts(job.calibration, job.num_calibration_samples, tokenizer)
            dataset = calibration.tokenize(texts, tokenizer, job.max_seq_length)
            tokens = sum(len(ids) for ids in dataset["input_ids"])
            log.info(
                "calibrate: %d samples, %d tokens (max %d per sample)",
                len(dataset),
                tokens,
                job.max_seq_length,
            )
            calibration_record = {
                **job.calibration.describe(),
                "num_samples": len(dataset),
                "max_seq_length": job.max_seq_length,
                "tokens": tokens,
            }
    else:
        with phase("calibrate", timings, f"skipped: {recipe.name} is data-free"):
            pass

    modifiers = build_modifiers(recipe, choice.group_size if choice else None)
    with phase("quantize", timings, f"{recipe.name}: {', '.join(type(m).__name__ for m in modifiers)}"):
        from llmcompressor import oneshot

        if dataset is None:
            oneshot(model=model, recipe=modifiers)
        else:
            oneshot(
                model=model,
                recipe=modifiers,
                dataset=dataset,
                num_calibration_samples=len(dataset),
                max_seq_length=job.max_seq_length,
            )

    staged = store.make_staging_dir(job.staging_dir)
    try:
        with phase("save", timings, f"compressed-tensors to staging {staged}"):
            model.save_pretrained(staged, save_compressed=True)
            tokenizer.save_pretrained(staged)
            record = manifest.build_manifest(
                staged,
                recipe=_recipe_record(recipe, modifiers, choice),
                source_model=_source_record(job, config),
                calibration=calibration_record,
                target_gpu=job.target_gpu,
            )
            log.info("save: %d files, %.1f MB", record["file_count"], record["total_size"] / 1e6)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)  # nothing finished to keep: a save that failed half-way
        raise
    with phase("upload", timings, store.uri):
        _publish_keeping_staged(store, staged, record, job.overwrite, job.output)
    log.info("finished %s in %.1fs: %s", recipe.name, sum(timings.values()), store.uri)
    return Result(uri=store.uri, manifest=record, timings=timings)


def pending_manifest_path(staged: Path) -> Path:
    """Where a checkpoint whose upload failed keeps its manifest: beside the staged directory, never inside it
    (every file inside is published)."""
    return staged.with_name(staged.name + ".manifest.json")


def _publish_keeping_staged(store: Store, staged: Path, record: dict[str, Any], overwrite: bool, output: str) -> None:
    """Publish `staged`; on success remove it, on failure keep it (hours of calibration are in it) with its
    manifest beside it, and say how to publish it again without re-quantizing."""
    try:
        store.publish(staged, dumps(record), overwrite)
    except UserError:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    except BaseException as exc:
        pending_manifest_path(staged).write_bytes(dumps(record))
        failure = store.fail(exc, "upload") if isinstance(store, BucketStore) else None
        keep = (
            f"the quantized checkpoint is kept at {staged}; publish it without quantizing again: "
            f"python -m workloads.quantize --publish-staged {staged} --output {output}"
        )
        log.error("upload: %s", keep)
        if failure is None:
            raise
        raise TransferError(f"{failure}; {keep}") from None
    shutil.rmtree(staged, ignore_errors=True)
    pending_manifest_path(staged).unlink(missing_ok=True)


def publish_staged(staged: Path, output: str, overwrite: bool = False) -> Result:
    """Publish a checkpoint kept by a failed upload (`--publish-staged`): the same checks as a full run."""
    manifest_file = pending_manifest_path(staged)
    if not staged.is_dir() or not manifest_file.is_file():
        raise QuantizeError(
            f"--publish-staged {staged}: not a checkpoint kept by a failed upload (expected the directory and "
            f"{manifest_file.name} beside it); run the full job instead"
        )
    record = json.loads(manifest_file.read_text())
    store = open_store(output)
    store.probe_write()
    store.check(overwrite)
    timings: dict[str, float] = {}
    with phase("upload", timings, store.uri):
        _publish_keeping_staged(store, staged, record, overwrite, output)
    return Result(uri=store.uri, manifest=record, timings=timings)
