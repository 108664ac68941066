"""Quantize a causal language model with LLM Compressor and publish a compressed-tensors checkpoint.

Run it as `python -m workloads.quantize --help`. The output is a directory (local, S3 or GCS) whose
`manifest.json` is written last: its presence marks a finished artifact that the serving layer can load.
"""
