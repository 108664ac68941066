"""Copy a model's weights from the Hugging Face Hub into the stack's model store once, for vLLM's Run:ai
streamer to load from the bucket (never from the hub at start-up).

Run it as `python -m workloads.prefetch --help`. The output prefix's `manifest.json` (the format shared with
the quantize job, workloads.artifacts.manifest) is written last: its presence marks a complete copy.
"""
