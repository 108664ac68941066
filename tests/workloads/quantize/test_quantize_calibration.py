"""Calibration text from the embedded set, local files, or (with network) a Hugging Face dataset."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from workloads.artifacts.errors import UserError
from workloads.quantize.calibration import CalibrationSource, default_texts, load_texts, tokenize
from workloads.quantize.errors import QuantizeError


def test_embedded_default_set_is_varied_and_deterministic() -> None:
    texts = default_texts()
    assert len(texts) >= 25
    assert all(len(t.split()) >= 10 for t in texts)
    assert any("def fibonacci" in t for t in texts)  # code, chat, prose, SQL, JSON...
    first = load_texts(CalibrationSource(), 8)
    assert len(first) == 8 and set(first) <= set(texts)
    assert load_texts(CalibrationSource(), 8) == first
    assert sorted(load_texts(CalibrationSource(), 1000)) == sorted(texts)


def test_txt_paragraphs_and_jsonl_records(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("first paragraph\nstill first\n\n\nsecond paragraph\n")
    rows = [{"text": "from jsonl"}, {"messages": [{"role": "user", "content": "hi"}]}, {"text": ""}]
    (tmp_path / "b.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "ignored.csv").write_text("x,y\n")
    texts = load_texts(CalibrationSource(files=(tmp_path,)), 100)
    assert sorted(texts) == sorted(["first paragraph\nstill first", "second paragraph", "from jsonl", "user: hi"])


def test_jsonl_custom_text_column_and_missing_column(tmp_path: Path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"body": "the body"}) + "\n")
    assert load_texts(CalibrationSource(files=(data,), text_column="body"), 5) == ["the body"]
    with pytest.raises(QuantizeError, match=r"d.jsonl, line 1: no text in column 'text' \(keys: body\).*--text-column"):
        load_texts(CalibrationSource(files=(data,)), 5)


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("bad.jsonl", "{not json\n", "line 1: not valid JSON"),
        ("list.jsonl", "[1, 2]\n", "expected a JSON object per line"),
        ("data.parquet", "x", "unsupported type; use .txt or .jsonl"),
        ("empty.txt", "\n\n", "holds no text"),
    ],
)
def test_bad_files_are_reported(tmp_path: Path, name: str, content: str, error: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(QuantizeError, match=error):
        load_texts(CalibrationSource(files=(path,)), 5)


def test_missing_file_and_conflicting_sources(tmp_path: Path) -> None:
    with pytest.raises(QuantizeError, match=r"--calibration-file .*missing\.txt: no such file"):
        load_texts(CalibrationSource(files=(tmp_path / "missing.txt",)), 5)
    with pytest.raises(QuantizeError, match="either --calibration-file or --dataset"):
        CalibrationSource(files=(tmp_path,), dataset="some/dataset")
    with pytest.raises(QuantizeError, match="--num-calibration-samples must be positive"):
        load_texts(CalibrationSource(), 0)


def test_hf_dataset_without_network_fails_fast_and_clearly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    for proxy in ("HTTPS_PROXY", "https_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    started = time.perf_counter()
    with pytest.raises(UserError) as err:  # the shared hub check (workloads.artifacts.hub)
        load_texts(CalibrationSource(dataset="HuggingFaceH4/ultrachat_200k", split="train_sft"), 16)
    assert time.perf_counter() - started < 10
    message = str(err.value)
    assert "--dataset HuggingFaceH4/ultrachat_200k must be downloaded" in message
    assert "127.0.0.1:9 is unreachable" in message
    assert "--calibration-file" in message and "HF_HUB_OFFLINE=1" in message


def test_tokenize_truncates_to_max_seq_length(tiny_llama: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_llama)
    texts = load_texts(CalibrationSource(), 6)
    dataset = tokenize(texts, tokenizer, max_seq_length=16)
    assert len(dataset) == 6
    assert set(dataset.column_names) == {"input_ids", "attention_mask"}
    assert max(len(ids) for ids in dataset["input_ids"]) == 16
    assert tokenizer.decode(dataset["input_ids"][0]).strip()[:10] in texts[0]
    with pytest.raises(QuantizeError, match="--max-seq-length must be positive"):
        tokenize(texts, tokenizer, 0)
