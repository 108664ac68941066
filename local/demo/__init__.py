"""The local demo of the Lean RAG stack: `.venv/bin/python -m local.demo` (or `make demo`).

Starts redis-server, the llama.cpp model server, the LiteLLM gateway (Redis cache), a MiniLM embeddings
endpoint and the OGX (Llama Stack) app on 127.0.0.1 with generated credentials, ingests corpus/docs into
Milvus Lite and loads the same Docling chunks into the app's vector store, reports recall@5 and MRR, answers
a few questions through the app's OpenAI-compatible API with the sources they cite, measures the cache,
runs a short GuideLLM benchmark, and stops everything (also on Ctrl-C, SIGTERM or failure). Data and logs
stay in .demo/ (see docs/demo.md).

One module per step: `start` (the services), `ingest` (the ingest job and the app's vector store), `evaluate`
(retrieval quality), `ask` (questions through the app), `cache` (the gateway's cache), `benchmark` (GuideLLM);
`context` holds what the steps share, `state` the report file (.demo/state.json), `cli` the order of the steps
and the shutdown.
"""
