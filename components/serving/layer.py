"""The serving layer of a stack: every model server, the CPU tier, and in llm-d mode the inference gateway.

`build_serving_layer` takes the typed config and the cluster's outputs; `ModelServing` creates the shared
pieces (API key, Hugging Face token Secret, KEDA, CRDs, dashboard) and one server (and route) per model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, ClusterOutputs
from components.namespaces import PART_OF, Namespaces
from components.serving import crds, dashboard, monitoring, resolve
from components.serving.cpu_tier import CpuTierArgs, LlamaCppServer
from components.serving.gateway import InferenceGateway, InferenceGatewayArgs, ModelRoute, ModelRouteArgs
from components.serving.labels import COMPONENT, CPU_TIER_PORT, ENDPOINT_PICKER, NAME
from components.serving.pod import API_KEY_KEY, HF_TOKEN_KEY, VllmPodSpec
from components.serving.vllm_server import VllmServer, VllmServerArgs
from stacks.config import StackConfig
from stacks.load import StackSecrets

API_KEY_SECRET = "serving-api-key"
HF_TOKEN_SECRET = "hf-token"
DASHBOARD_CONFIGMAP = "vllm-dashboard"


@dataclass
class ModelServingArgs:
    config: StackConfig
    """The whole stack config: the serving slice, plus the cloud, pools and client namespaces it resolves."""
    cluster: ClusterOutputs
    namespaces: Namespaces
    hf_token: pulumi.Output[str] | None = None
    """Secret; only used when a model downloads from Hugging Face."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    quantized: dict[str, pulumi.Input[str]] = field(default_factory=dict)
    """Served model name -> artifact prefix written by its quantize Job (models with quantizeFrom)."""
    quantize_jobs: dict[str, pulumi.Resource] = field(default_factory=dict)
    """Served model name -> its quantize Job: the model server is created only after the Job completed."""


class ModelServing(pulumi.ComponentResource):
    """Outputs: `openai_base_url`, `openai_base_urls` (model -> URL), `served_models`, `api_key` (secret),
    `fallbacks` (model -> CPU-tier model)."""

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:ModelServing", name, None, opts)
        cfg, serving = args.config, args.config.serving
        ns = serving.namespace
        ns_ready: list[pulumi.Resource] = [args.namespaces.namespaces["serving"], *args.depends_on]
        child = pulumi.ResourceOptions(parent=self, depends_on=ns_ready)

        key = random.RandomPassword(
            f"{name}-api-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        self.api_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
        key_secret = self._secret(f"{name}-api-key", API_KEY_SECRET, ns, {API_KEY_KEY: key.result}, child)
        pod_deps: list[pulumi.Resource] = [*ns_ready, key_secret]
        hf_secret_name: str | None = None
        if args.hf_token is not None and resolve.needs_hf_token(cfg):
            pod_deps.append(self._secret(f"{name}-hf-token", HF_TOKEN_SECRET, ns, {HF_TOKEN_KEY: args.hf_token}, child))
            hf_secret_name = HF_TOKEN_SECRET
        store_account = args.namespaces.model_store_accounts.get("serving")
        if store_account is not None:
            pod_deps.append(store_account)

        keda_ready: list[pulumi.Resource] = []
        if serving.autoscaling.enabled and serving.autoscaling.install_keda and serving.models:
            keda_ready = [
                crds.install_keda(
                    name,
                    args.cluster.system.node_selector,
                    pulumi.ResourceOptions(parent=self, depends_on=args.depends_on),
                )
            ]
        monitors = resolve.service_monitors_on(cfg)
        monitor_labels = dict(serving.monitoring.service_monitor_labels)

        self.servers: dict[str, VllmServer] = {}
        for model in serving.models:
            r = resolve.resolve_model(cfg, model, args.cluster.gpu_pools)
            quantized = args.quantized.get(model.name)
            uri = model.artifact_uri or ""
            bucket = quantized is not None or uri.startswith(("s3://", "gs://"))
            on_s3 = uri.startswith("s3://") or (quantized is not None and cfg.cloud == "aws")
            extra_env = {"AWS_REGION": cfg.region} if on_s3 else {}
            quantize_job = [args.quantize_jobs[model.name]] if model.name in args.quantize_jobs else []
            self.servers[model.name] = VllmServer(
                f"{name}-{model.name}",
                VllmServerArgs(
                    pod=VllmPodSpec(
                        model=model,
                        placement=r.placement,
                        cpu=r.cpu,
                        memory=r.memory,
                        weights_gb=r.weights_gb,
                        pre_stop_s=serving.pre_stop_s,
                        api_key_secret=API_KEY_SECRET,
                        hf_token_secret=hf_secret_name,
                        service_account=MODEL_STORE_SERVICE_ACCOUNT if bucket else None,
                        extra_env=extra_env,
                        quantized=quantized,
                    ),
                    namespace=ns,
                    clients=resolve.clients(cfg),
                    autoscaling=serving.autoscaling,
                    service_monitor=monitors,
                    service_monitor_labels=monitor_labels,
                    keda_ready=keda_ready,
                    depends_on=[*pod_deps, *quantize_job],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.cpu_tier: LlamaCppServer | None = None
        if serving.cpu_tier.enabled:
            self.cpu_tier = LlamaCppServer(
                f"{name}-{serving.cpu_tier.name}",
                CpuTierArgs(
                    config=serving.cpu_tier,
                    namespace=ns,
                    placement=args.cluster.system,
                    api_key_secret=API_KEY_SECRET,
                    clients=resolve.clients(cfg),
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=pod_deps,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        urls: dict[str, str] = {m: s.base_url for m, s in self.servers.items()}
        if self.cpu_tier is not None:
            urls[self.cpu_tier.service_name] = self.cpu_tier.base_url
        self.gateway: InferenceGateway | None = None
        self.routes: dict[str, ModelRoute] = {}
        if serving.mode == "llm-d":
            gateway_url = self._llm_d(name, args, monitors, monitor_labels)
            urls = {m: gateway_url for m in urls}

        if serving.grafana_dashboard:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": DASHBOARD_CONFIGMAP,
                    "namespace": ns,
                    "labels": {**PART_OF, **dashboard.SIDECAR_LABEL},
                },
                data={"vllm.json": dashboard.dashboard_json(ns)},
                opts=child,
            )

        self.served_models = list(urls)
        self.openai_base_urls = urls
        self.openai_base_url = urls[self._primary(cfg)] if urls else None
        self.fallbacks = resolve.fallbacks(cfg)
        self.register_outputs(
            {
                "openaiBaseUrl": self.openai_base_url,
                "openaiBaseUrls": self.openai_base_urls,
                "servedModels": self.served_models,
                "apiKey": self.api_key,
                "fallbacks": self.fallbacks,
            }
        )

    def _llm_d(self, name: str, args: ModelServingArgs, monitors: bool, monitor_labels: dict[str, str]) -> str:
        cfg = args.config
        serving, gw = cfg.serving, cfg.serving.inference_gateway
        klass = resolve.gateway_class(cfg)
        if klass is None:  # preflight reports it with the key and the fix
            raise ValueError("serving.inferenceGateway.className is required in llm-d mode outside GKE")
        opts = pulumi.ResourceOptions(parent=self, depends_on=args.depends_on)
        crd_set = (
            crds.install_inference_crds(name, opts)
            if resolve.install_inference_crds(cfg)
            else crds.managed_inference_crds(args.cluster.ready)
        )
        ready = [args.namespaces.namespaces["serving"], *args.depends_on]
        self.gateway = InferenceGateway(
            f"{name}-gateway",
            InferenceGatewayArgs(
                namespace=serving.namespace,
                class_name=klass,
                address=resolve.gateway_address(cfg, klass),
                placement=args.cluster.system,
                crds=crd_set,
                depends_on=ready,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for model in serving.models:
            self.routes[model.name] = ModelRoute(
                f"{name}-{model.name}-route",
                ModelRouteArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    gateway=self.gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=gw.scorer_weights,
                    epp_replicas=gw.epp_replicas,
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if monitors:  # the endpoint picker's request counter wakes a model scaled to zero
                epp = f"{model.name}-epp"
                monitoring.service_monitor(
                    f"{name}-{model.name}-epp-metrics",
                    epp,
                    serving.namespace,
                    {NAME: epp, COMPONENT: ENDPOINT_PICKER},
                    {**PART_OF, **monitor_labels},
                    pulumi.ResourceOptions(parent=self, depends_on=ready),
                    port="http-metrics",
                )
        if self.cpu_tier is not None:
            cpu = serving.cpu_tier.name
            self.routes[cpu] = ModelRoute(
                f"{name}-{cpu}-route",
                ModelRouteArgs(
                    model=cpu,
                    namespace=serving.namespace,
                    gateway=self.gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=None,
                    service_port=CPU_TIER_PORT,
                    depends_on=[*ready, self.cpu_tier.service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self.gateway.base_url

    @staticmethod
    def _primary(cfg: StackConfig) -> str:
        """The URL clients get by default: the first chat model, else the CPU tier, else the first model."""
        chat = [m.name for m in cfg.serving.models if m.role == "chat"]
        if chat:
            return chat[0]
        if cfg.serving.cpu_tier.enabled:
            return cfg.serving.cpu_tier.name
        return cfg.serving.models[0].name

    @staticmethod
    def _secret(
        resource_name: str, name: str, namespace: str, data: dict[str, pulumi.Input[str]], opts: pulumi.ResourceOptions
    ) -> k8s.core.v1.Secret:
        return k8s.core.v1.Secret(
            resource_name,
            metadata={"name": name, "namespace": namespace, "labels": PART_OF},
            type="Opaque",
            string_data={k: pulumi.Output.secret(v) for k, v in data.items()},
            opts=opts,
        )


def build_serving_layer(
    name: str,
    cfg: StackConfig,
    secrets: StackSecrets,
    cluster: ClusterOutputs,
    namespaces: Namespaces,
    opts: pulumi.ResourceOptions,
    quantized: dict[str, pulumi.Input[str]] | None = None,
    quantize_jobs: dict[str, pulumi.Resource] | None = None,
) -> ModelServing:
    return ModelServing(
        name,
        ModelServingArgs(
            config=cfg,
            cluster=cluster,
            namespaces=namespaces,
            hf_token=secrets.hf_token,
            depends_on=list(cluster.ready),
            quantized=quantized or {},
            quantize_jobs=quantize_jobs or {},
        ),
        opts=opts,
    )


def stack_outputs(serving: ModelServing) -> dict[str, Any]:
    """The stack outputs of the serving layer (apiKey is a secret output)."""
    return {
        "openaiBaseUrl": serving.openai_base_url,
        "openaiBaseUrls": serving.openai_base_urls,
        "servedModels": serving.served_models,
        "apiKey": serving.api_key,
        "servingFallbacks": serving.fallbacks,
    }
