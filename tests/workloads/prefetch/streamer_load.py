"""Load a prefetched model the way vLLM's `--load-format runai_streamer` does, with the Run:ai Model Streamer:
list the safetensors under the prefix, pull the config and tokenizer files, stream every tensor.

Run as a script (the streamer's native S3 client reads its settings from the environment):
    python streamer_load.py s3://BUCKET/PREFIX DEST_DIR
Prints JSON: {"safetensors": [...], "pulled": [...], "tensors": {name: sha256 of the tensor's bytes}}.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from runai_model_streamer import SafetensorsStreamer, list_safetensors, pull_files


def main(uri: str, dest: str) -> None:
    files = sorted(list_safetensors(uri))
    pull_files(uri, dest, allow_pattern=["*.json", "tokenizer*"], ignore_pattern=["*.safetensors"])
    pulled = sorted(p.relative_to(dest).as_posix() for p in Path(dest).rglob("*") if p.is_file())
    tensors = {}
    with SafetensorsStreamer() as streamer:
        streamer.stream_files(files)
        for name, tensor in streamer.get_tensors():
            tensors[name] = hashlib.sha256(tensor.contiguous().numpy().tobytes()).hexdigest()
    print(json.dumps({"safetensors": files, "pulled": pulled, "tensors": tensors}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
