"""The demo's questions: a built-in labelled set (source document; optional phrase), or a JSON file (--questions).
Recall is measured on corpus/questions.yaml when it exists, else on the questions asked."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

QUESTIONS: list[dict[str, str]] = [
    {"question": "How do I install Milvus Lite and create a local .db file?", "source": "milvus-lite.md"},
    {"question": "How do I connect to Redis from Python and get decoded strings?", "source": "redis-py.docx"},
    {"question": "What is Docling and which document formats can it parse?", "source": "docling.md"},
    {"question": "How does GuideLLM benchmark an LLM deployment?", "source": "guidellm.pdf"},
    {"question": "Which quantization algorithms does LLM Compressor support?", "source": "llm-compressor.docx"},
    {
        "question": "Which Kubernetes API versions does the Pulumi Kubernetes provider support?",
        "source": "pulumi-kubernetes.pdf",
    },
    {"question": "How do I install the Milvus Python SDK pymilvus?", "source": "pymilvus.pptx"},
    {"question": "What is a DoclingDocument in Docling Core?", "source": "docling-core.pptx"},
    {"question": "How does asyncio.Queue work with put and get in coroutines?", "source": "python-asyncio-queue.html"},
    {"question": "Which secure hash algorithms does hashlib provide, such as sha256?", "source": "python-hashlib.html"},
    {"question": "What is vLLM and what makes its LLM serving fast?", "source": "vllm.md"},
]


def load_questions(path: str | None) -> list[dict[str, str]]:
    """The questions to ask: a JSON list of {question, source[, phrase]} from `path`, else the built-in set."""
    if path:
        return list(json.loads(Path(path).read_text()))
    return QUESTIONS


def write_questions(path: Path, questions: list[dict[str, str]]) -> None:
    """The labelled set in the ingest job's format (`questions:` list of question, source, optional phrase)."""
    keep = ("question", "source", "phrase")
    items = [{k: q[k] for k in keep if q.get(k)} for q in questions]
    path.write_text(yaml.safe_dump({"questions": items}, sort_keys=False, allow_unicode=True))
