"""Ingest job: documents -> Docling -> chunks -> embeddings -> the RAG app's vector store; search and evaluation."""

import os

# Models and tokenizers are loaded from local folders only: never reach for the Hugging Face hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
