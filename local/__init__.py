"""The local harness: services on 127.0.0.1 for the demo, the tests and the cache benchmark (see local/README.md)."""
