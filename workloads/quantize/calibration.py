"""Calibration text: the embedded default set, local .txt/.jsonl files, or a Hugging Face dataset."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from workloads.artifacts.hub import require_hub
from workloads.quantize.errors import QuantizeError

log = logging.getLogger(__name__)

DEFAULT_RESOURCE = "calibration_default.txt"
FILE_SUFFIXES = (".txt", ".jsonl")
SHUFFLE_SEED = 42


@dataclass(frozen=True)
class CalibrationSource:
    """Where calibration text comes from. With neither files nor dataset, the embedded default set."""

    files: tuple[Path, ...] = ()
    dataset: str | None = None
    dataset_config: str | None = None
    split: str = "train"
    text_column: str = "text"

    def __post_init__(self) -> None:
        if self.files and self.dataset:
            raise QuantizeError("give either --calibration-file or --dataset, not both")

    def describe(self) -> dict[str, Any]:
        if self.dataset:
            return {
                "kind": "huggingface",
                "dataset": self.dataset,
                "config": self.dataset_config,
                "split": self.split,
                "text_column": self.text_column,
            }
        if self.files:
            return {"kind": "files", "files": [p.name for p in self.files], "text_column": self.text_column}
        return {"kind": "embedded-default", "resource": DEFAULT_RESOURCE}


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs separated by blank lines, stripped; empty ones dropped."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text.splitlines():
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append("\n".join(current).strip())
            current = []
    if current:
        blocks.append("\n".join(current).strip())
    return [b for b in blocks if b]


def default_texts() -> list[str]:
    return split_paragraphs(resources.files(__package__).joinpath(DEFAULT_RESOURCE).read_text("utf-8"))


def row_text(row: Mapping[str, Any], text_column: str, where: str, tokenizer: Any = None) -> str:
    """The text of one record: its `text_column`, or a chat `messages` list rendered as text."""
    value = row.get(text_column)
    if isinstance(value, str):
        return value
    messages = row.get("messages")
    if value is None and isinstance(messages, list):
        if tokenizer is not None and getattr(tokenizer, "chat_template", None):
            return str(tokenizer.apply_chat_template(messages, tokenize=False))
        return "\n".join(f"{m.get('role', 'user')}: {m.get('content', '')}" for m in messages)
    raise QuantizeError(
        f"{where}: no text in column {text_column!r} (keys: {', '.join(sorted(row)) or 'none'}); "
        "set --text-column to the field that holds the text"
    )


def _expand(paths: Iterable[Path]) -> list[Path]:
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in FILE_SUFFIXES)
            if not found:
                raise QuantizeError(f"--calibration-file {path}: the directory holds no .txt or .jsonl files")
            files.extend(found)
        elif not path.is_file():
            raise QuantizeError(f"--calibration-file {path}: no such file or directory")
        elif path.suffix not in FILE_SUFFIXES:
            raise QuantizeError(f"--calibration-file {path}: unsupported type; use .txt or .jsonl files")
        else:
            files.append(path)
    return files


def _file_texts(path: Path, text_column: str, tokenizer: Any) -> Iterator[str]:
    content = path.read_text("utf-8")
    if path.suffix == ".txt":
        yield from split_paragraphs(content)
        return
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise QuantizeError(f"--calibration-file {path}, line {number}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise QuantizeError(f"--calibration-file {path}, line {number}: expected a JSON object per line")
        yield row_text(row, text_column, f"--calibration-file {path}, line {number}", tokenizer)


def _dataset_texts(source: CalibrationSource, limit: int, tokenizer: Any) -> list[str]:
    assert source.dataset is not None
    require_hub(f"--dataset {source.dataset}", "Pass local .txt/.jsonl files with --calibration-file")
    import datasets

    try:
        data = datasets.load_dataset(source.dataset, source.dataset_config, split=source.split)
    except Exception as exc:  # the datasets library raises many types; report them all the same way
        raise QuantizeError(
            f"could not load --dataset {source.dataset} (config {source.dataset_config}, split "
            f"{source.split}): {type(exc).__name__}: {exc}. Check the name, --dataset-config and "
            "--dataset-split, or pass local files with --calibration-file"
        ) from None
    data = data.shuffle(seed=SHUFFLE_SEED).select(range(min(limit, len(data))))
    return [row_text(row, source.text_column, f"--dataset {source.dataset}", tokenizer) for row in data]


def load_texts(source: CalibrationSource, limit: int, tokenizer: Any = None) -> list[str]:
    """Up to `limit` non-empty calibration texts from `source`, in a deterministic shuffled order."""
    if limit <= 0:
        raise QuantizeError(f"--num-calibration-samples must be positive, got {limit}")
    if source.dataset:
        texts = _dataset_texts(source, limit, tokenizer)
    else:
        if source.files:
            texts = [t for f in _expand(source.files) for t in _file_texts(f, source.text_column, tokenizer)]
        else:
            texts = default_texts()
        random.Random(SHUFFLE_SEED).shuffle(texts)
    texts = [t for t in texts if t.strip()][:limit]
    if not texts:
        raise QuantizeError("the calibration source holds no text; check --calibration-file or --dataset")
    if len(texts) < limit:
        log.info("calibration: %d samples available (fewer than --num-calibration-samples %d)", len(texts), limit)
    return texts


def tokenize(texts: Sequence[str], tokenizer: Any, max_seq_length: int) -> Any:
    """A `datasets.Dataset` of input_ids/attention_mask, each truncated to `max_seq_length` tokens."""
    if max_seq_length <= 0:
        raise QuantizeError(f"--max-seq-length must be positive, got {max_seq_length}")
    import datasets

    encoded = tokenizer(list(texts), truncation=True, max_length=max_seq_length)
    rows = [
        (ids, mask) for ids, mask in zip(encoded["input_ids"], encoded["attention_mask"], strict=True) if len(ids) > 0
    ]
    return datasets.Dataset.from_dict({"input_ids": [r[0] for r in rows], "attention_mask": [r[1] for r in rows]})
