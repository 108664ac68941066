"""Preflight of where model weights come from: every model server reads them from the stack's model store (a
bucket, or a PersistentVolumeClaim on an existing cluster), never from the Hugging Face Hub at start-up. A
model is either in the store already (artifactUri, a pvc:// GGUF) or copied there by the stack's prefetch Job.
"""

from __future__ import annotations

from collections.abc import Iterator

from stacks.config import NAMESPACE, StackConfig
from stacks.models import (
    FALLBACK_WEIGHTS_GB,
    gguf_weights,
    llama_cpp_servers,
    model_entries,
    model_store,
    served_model,
)
from stacks.preflight.problem import Problem
from stacks.uris import UriError

VOLUME_MARGIN = 1.1
"""Room for configs, tokenizers and the manifest beside the weights."""


def _prefetch_command(hub_id: str, name: str, label: str, store: str, include: str = "") -> str:
    return f"python -m workloads.prefetch --model {hub_id}{include} --output {store}/models/{name}/{label}"


def check_weights(cfg: StackConfig, secrets: frozenset[str]) -> Iterator[Problem]:
    store = model_store(cfg)
    store_uri = f"{store.scheme}://<bucket>" if store.scheme else cfg.cluster.existing.model_store_uri
    prefetching: list[tuple[str, float]] = []
    for key, config in model_entries(cfg):
        try:
            model = served_model(cfg, config, key)
        except UriError:
            continue  # check_model_sources reports the artifactUri
        source = model.source
        if source.kind == "huggingface":
            command = _prefetch_command(source.hub_id, model.name, model.store_label, store_uri)
            yield Problem(
                f"{key}.artifactUri",
                f"{source.hub_id} is neither in the model store (artifactUri) nor prefetched "
                "(serving.prefetch.enabled is false): its server would download it from the hub at every start",
                f"copy it once ({command}) and set artifactUri to that folder, or set serving.prefetch.enabled: true",
            )
        elif source.prefetched:
            prefetching.append((key, model.weights_gb if model.shape is not None else FALLBACK_WEIGHTS_GB))
    for key, server in llama_cpp_servers(cfg):
        try:
            gguf = gguf_weights(cfg, server)
        except UriError:
            continue  # check_model_sources and check_moderation report the ggufUri
        if gguf.kind == "huggingface":
            include = f" --include {gguf.file}"
            command = _prefetch_command(gguf.repo or "", server.name, "gguf", store_uri, include)
            yield Problem(
                f"{key}.ggufUri",
                f"{server.gguf_uri} is not prefetched (serving.prefetch.enabled is false): "
                "llama-server would download it from the hub at every start",
                f"copy it onto a volume ({command}) and set ggufUri to pvc://<claim>/<path>.gguf, or set "
                "serving.prefetch.enabled: true",
            )
        if gguf.kind == "prefetched":
            prefetching.append((key, 0.0))
            if gguf.gated and "hfToken" not in secrets:
                yield Problem(
                    f"{key}.ggufUri",
                    f"{gguf.repo} is gated on Hugging Face and the secret hfToken is missing",
                    f"pulumi config set --secret {NAMESPACE}:hfToken hf_...",
                )
    if not prefetching or cfg.cloud != "existing":
        return
    if store.volume is None:
        yield Problem(
            "cluster.existing.modelStoreUri",
            f"{cfg.cluster.existing.model_store_uri!r} is not a PersistentVolumeClaim the prefetch Jobs can write "
            f"the weights of {', '.join(k for k, _ in prefetching)} into",
            "use pvc://<claim> (a claim name of lowercase letters, digits and '-'), e.g. pvc://model-store",
        )
        return
    size = cfg.serving.prefetch.volume_gb
    needed = sum(gb for _, gb in prefetching) * VOLUME_MARGIN
    if size is not None and needed > size:
        yield Problem(
            "serving.prefetch.volumeGb",
            f"the model store claim {store.volume.claim!r} gets {needed:.1f} GB of prefetched weights "
            f"({', '.join(k for k, _ in prefetching)}), more than its {size} GB",
            f"set serving.prefetch.volumeGb >= {int(needed) + 1}",
        )
