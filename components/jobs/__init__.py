"""The jobs layer: quantize, ingest and benchmark run once as Kubernetes Jobs, in pipeline order."""

from components.jobs.layer import (
    IngestAndBenchmarkJobs,
    IngestAndBenchmarkJobsArgs,
    QuantizeJobs,
    QuantizeJobsArgs,
    QuantizeOutputs,
)

__all__ = [
    "IngestAndBenchmarkJobs",
    "IngestAndBenchmarkJobsArgs",
    "QuantizeJobs",
    "QuantizeJobsArgs",
    "QuantizeOutputs",
]
