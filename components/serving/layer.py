"""The serving layer of a stack: every model server, the CPU tier, and in llm-d mode the inference gateway.

`ModelServing` takes the serving config slice, the resolved models (`stacks.models.served_models`), where it
runs (`ServingSite`, `ClusterOutputs`) and the quantize Jobs' artifacts; it creates the shared pieces (API key,
Hugging Face token Secret, KEDA, CRDs) and one server (and route) per model, and exposes `ServingOutputs`.
Metrics: the pods carry prometheus.io/* scrape annotations; the monitoring layer's Prometheus scrapes them and
KEDA's triggers query it (`ServingSite.prometheus_url`). The dashboards live in the monitoring layer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_random as random

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, ClusterOutputs
from components.serving import cpu_tier, crds, resolve
from components.serving.cpu_tier import CpuTierArgs, LlamaCppServer
from components.serving.gateway import InferenceGateway, InferenceGatewayArgs, ModelRoute, ModelRouteArgs
from components.serving.pod import API_KEY_KEY, HF_TOKEN_KEY, VllmPodSpec
from components.serving.resolve import ServingSite
from components.serving.vllm_server import VllmServer, VllmServerArgs
from stacks.config.serving import ModelRole, ServingConfig
from stacks.models import ServedModel

API_KEY_SECRET = "serving-api-key"
HF_TOKEN_SECRET = "hf-token"


@dataclass(frozen=True)
class ServingOutputs:
    """What the serving layer offers the layers above it and the stack outputs."""

    openai_base_url: str | None
    """The URL clients get by default: the first chat model's, else the CPU tier's, else the first model's."""
    openai_base_urls: dict[str, str]
    """Served model name -> in-cluster OpenAI-compatible base URL (llm-d: the inference gateway's)."""
    api_key: pulumi.Output[str]
    """Secret: the Bearer key every model server expects."""
    fallbacks: dict[str, str]
    """Served model name -> the CPU-tier model its requests fall back to."""
    roles: dict[str, ModelRole]
    """Served model name -> role (chat, safety, embedding); the CPU tier is a chat model."""
    model_ids: dict[str, str]
    """GPU model name -> its Hugging Face id."""

    @property
    def served_models(self) -> list[str]:
        return list(self.openai_base_urls)

    def as_dict(self) -> dict[str, Any]:
        return {
            "openaiBaseUrl": self.openai_base_url,
            "openaiBaseUrls": self.openai_base_urls,
            "servedModels": self.served_models,
            "apiKey": self.api_key,
            "fallbacks": self.fallbacks,
        }


@dataclass
class ModelServingArgs:
    config: ServingConfig
    models: Sequence[ServedModel]
    """serving.models, resolved (sources, shapes, node sizes)."""
    site: ServingSite
    cluster: ClusterOutputs
    """Placements of the system and GPU pools; what pods wait for (`ready`)."""
    namespace: pulumi.Resource
    """The serving Namespace: every object in it waits for it."""
    model_store_account: pulumi.Resource | None = None
    """The model-store ServiceAccount of the serving namespace (pods that stream from the bucket use it)."""
    hf_token: pulumi.Output[str] | None = None
    """Secret; only used when a model server downloads from Hugging Face."""
    quantized: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Served model name -> artifact prefix written by its quantize Job (models with quantizeFrom)."""
    quantize_jobs: Mapping[str, pulumi.Resource] = field(default_factory=dict)
    """Served model name -> its quantize Job: the model server is created only after the Job completed."""


class ModelServing(pulumi.ComponentResource):
    """Every model server of the stack, and the gateway in front of them in llm-d mode."""

    outputs: ServingOutputs
    servers: dict[str, VllmServer]
    """Served model name -> its vLLM server."""
    cpu_tier: LlamaCppServer | None
    gateway: InferenceGateway | None
    routes: dict[str, ModelRoute]

    def __init__(self, name: str, args: ModelServingArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:serving:ModelServing", name, None, opts)
        serving, site = args.config, args.site
        ns = serving.namespace
        cluster_ready = list(args.cluster.ready)
        ns_ready: list[pulumi.Resource] = [args.namespace, *cluster_ready]
        child = pulumi.ResourceOptions(parent=self, depends_on=ns_ready)

        key = random.RandomPassword(
            f"{name}-api-key", length=48, special=False, opts=pulumi.ResourceOptions(parent=self)
        )
        api_key: pulumi.Output[str] = pulumi.Output.secret(key.result)
        key_secret = kube.secret(f"{name}-api-key", API_KEY_SECRET, ns, {API_KEY_KEY: key.result}, child)
        pod_deps: list[pulumi.Resource] = [*ns_ready, key_secret]
        hf_secret_name: str | None = None
        if args.hf_token is not None and resolve.needs_hf_token(args.models):
            pod_deps.append(kube.secret(f"{name}-hf-token", HF_TOKEN_SECRET, ns, {HF_TOKEN_KEY: args.hf_token}, child))
            hf_secret_name = HF_TOKEN_SECRET
        if args.model_store_account is not None:
            pod_deps.append(args.model_store_account)

        keda_ready: list[pulumi.Resource] = []
        if serving.autoscaling.enabled and serving.autoscaling.install_keda and serving.models:
            keda_ready = [
                crds.install_keda(
                    name,
                    args.cluster.system.node_selector,
                    pulumi.ResourceOptions(parent=self, depends_on=cluster_ready),
                )
            ]
        clients = resolve.clients(serving, site)

        self.servers = {}
        for model in args.models:
            quantized = args.quantized.get(model.name)
            quantize_job = [args.quantize_jobs[model.name]] if model.name in args.quantize_jobs else []
            self.servers[model.name] = VllmServer(
                f"{name}-{model.name}",
                VllmServerArgs(
                    pod=VllmPodSpec(
                        model=model,
                        placement=resolve.placement(model, args.cluster.gpu_pools),
                        pre_stop_s=serving.pre_stop_s,
                        api_key_secret=API_KEY_SECRET,
                        hf_token_secret=hf_secret_name,
                        service_account=MODEL_STORE_SERVICE_ACCOUNT if model.source.streamed else None,
                        extra_env={"AWS_REGION": site.region} if model.bucket_scheme == "s3" else {},
                        quantized=quantized,
                    ),
                    namespace=ns,
                    clients=clients,
                    autoscaling=serving.autoscaling,
                    prometheus_url=site.prometheus_url,
                    keda_ready=keda_ready,
                    depends_on=[*pod_deps, *quantize_job],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.cpu_tier = None
        if serving.cpu_tier.enabled:
            self.cpu_tier = LlamaCppServer(
                f"{name}-{serving.cpu_tier.name}",
                CpuTierArgs(
                    config=serving.cpu_tier,
                    namespace=ns,
                    placement=args.cluster.system,
                    api_key_secret=API_KEY_SECRET,
                    clients=clients,
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=pod_deps,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        urls: dict[str, str] = {m: s.base_url for m, s in self.servers.items()}
        if self.cpu_tier is not None:
            urls[self.cpu_tier.service_name] = self.cpu_tier.base_url
        self.gateway = None
        self.routes = {}
        if serving.mode == "llm-d":
            gateway_url = self._llm_d(name, args)
            urls = {m: gateway_url for m in urls}

        self.outputs = ServingOutputs(
            openai_base_url=urls[resolve.primary_model(serving)] if urls else None,
            openai_base_urls=urls,
            api_key=api_key,
            fallbacks=resolve.fallbacks(serving),
            roles=resolve.served_roles(serving),
            model_ids={m.name: m.config.id for m in args.models},
        )
        self.register_outputs(self.outputs.as_dict())

    def _llm_d(self, name: str, args: ModelServingArgs) -> str:
        serving, gw = args.config, args.config.inference_gateway
        klass = resolve.gateway_class(serving, args.site)
        if klass is None:  # preflight reports it with the key and the fix
            raise ValueError("serving.inferenceGateway.className is required in llm-d mode outside GKE")
        cluster_ready = list(args.cluster.ready)
        opts = pulumi.ResourceOptions(parent=self, depends_on=cluster_ready)
        crd_set = (
            crds.install_inference_crds(name, opts)
            if resolve.install_inference_crds(serving, args.site)
            else crds.managed_inference_crds(cluster_ready)
        )
        ready = [args.namespace, *cluster_ready]
        self.gateway = InferenceGateway(
            f"{name}-gateway",
            InferenceGatewayArgs(
                namespace=serving.namespace,
                class_name=klass,
                address=resolve.gateway_address(serving, args.site, klass),
                placement=args.cluster.system,
                crds=crd_set,
                depends_on=ready,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        for model in args.models:
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
                    service_port=cpu_tier.PORT,
                    depends_on=[*ready, self.cpu_tier.service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        return self.gateway.base_url
