"""Benchmark job: GuideLLM against an OpenAI-compatible endpoint, with cost and roofline report."""
