"""Model artifacts shared by the jobs that write them (prefetch, quantize) and the code that reads them.

- where they live: a bucket prefix (`object_store.BucketStore` over `s3_backend` or `gcs_backend`) or a
  local directory (`local_backend`), parsed from a URI by `uris.open_bucket_store`;
- how a job proves it can write there before any long work (`BucketStore.probe_write`, credentials first);
- what marks one complete: `manifest.json`, written last (`manifest`);
- how the Hugging Face Hub is reached (`hub`).

Each job's Docker image copies this package beside its own (see the jobs' Dockerfiles).
"""
