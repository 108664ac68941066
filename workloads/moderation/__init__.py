"""OpenAI-compatible ``/v1/moderations`` in front of a Llama Guard 3 chat model (see README.md)."""
