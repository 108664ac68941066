"""Local helpers for development on a laptop or CI runner (no cluster): the llama.cpp model server."""
