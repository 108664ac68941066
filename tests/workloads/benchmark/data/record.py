"""Record the benchmark results the comparison tests read: real GuideLLM runs against the local llama.cpp
server (SmolLM2-135M-Instruct) in three configurations. See README.md beside this file.

    .venvs/benchmark/bin/python tests/workloads/benchmark/data/record.py

Each configuration is one `python -m workloads.benchmark run` (a GuideLLM sweep, priced as the 2-vCPU
m7i.large of the catalog, which matches this 2-core machine). Only run.json and GuideLLM's JSON (gzip) are
kept; the report is rebuilt from them by the tests.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(REPO))

from local.llm_server import LlmServer, find_gguf, server_python  # noqa: E402
from workloads.benchmark import tokenizer  # noqa: E402

HERE = Path(__file__).resolve().parent
ENV = {**{k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
# llama.cpp's OpenMP threads spin while they wait; on a shared 2-core machine a descheduled thread then stalls
# the others for seconds (single requests measured 9-25 s instead of 0.4-2.6 s). Passive waiting avoids that.
os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
CONFIGS = [  # name, GGUF quantization, llama.cpp threads
    ("q4_1-threads2", "Q4_1", 2),
    ("q4_1-threads1", "Q4_1", 1),
    ("q8_0-threads2", "Q8_0", 2),
]
REQUANTIZE = """
import ctypes, sys, llama_cpp
params = llama_cpp.llama_model_quantize_default_params()
params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
params.allow_requantize = True
sys.exit(llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(params)))
"""


def gguf_for(quantization: str, work: Path) -> Path:
    """The packaged Q4_1 file, or a Q8_0 requantized from it with llama.cpp (more bytes per weight)."""
    source = find_gguf()
    if quantization == "Q4_1":
        return source
    out = work / "SmolLM2-135M-Instruct.Q8_0.gguf"
    subprocess.run([str(server_python()), "-c", REQUANTIZE, str(source), str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return out


def record(name: str, quantization: str, threads: int, work: Path, tok: Path) -> None:
    gguf = gguf_for(quantization, work)
    run_dir = work / name
    key_file = work / f"{name}.key"
    with LlmServer(log_path=work / f"{name}.server.log", gguf=gguf, n_threads=threads) as server:
        key_file.write_text(server.api_key)
        done = subprocess.run(
            [sys.executable, "-m", "workloads.benchmark", "run", "--target", server.base_url,
             "--api-key-file", str(key_file), "--scenario", "smoke", "--profile", "sweep", "--sweep-size", "5",
             "--max-seconds", "20", "--max-requests", "20", "--workers", "1", "--tokenizer", str(tok),
             "--output-dir", str(run_dir), "--cloud", "aws", "--instance-type", "m7i.large",
             "--model-id", "HuggingFaceTB/SmolLM2-135M-Instruct", "--routing", "direct",
             "--engine-arg", "engine=llama.cpp", "--engine-arg", f"quantization={quantization}",
             "--engine-arg", f"threads={threads}", "--engine-arg", "omp_wait_policy=PASSIVE",
             "--model-bytes", str(gguf.stat().st_size)],
            cwd=REPO, env=ENV, check=False,
        )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"{name}: the benchmark exited with {done.returncode}")
    keep = HERE / name
    shutil.rmtree(keep, ignore_errors=True)
    (keep / "guidellm").mkdir(parents=True)
    manifest = json.loads((run_dir / "run.json").read_text())
    manifest["run"]["tokenizer"] = "<SmolLM2 tokenizer extracted from the GGUF>"
    for point in manifest["points"]:
        if point.get("json_file"):
            data = (run_dir / point["json_file"]).read_bytes()
            point["json_file"] += ".gz"
            (keep / point["json_file"]).write_bytes(gzip.compress(data, mtime=0))
    (keep / "run.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(f"{name}: kept in {keep}")


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-record-") as tmp:
        work = Path(tmp)
        tok = tokenizer.from_gguf(find_gguf(), work / "tokenizer")
        for name, quantization, threads in CONFIGS:
            record(name, quantization, threads, work, tok)


if __name__ == "__main__":
    main()
