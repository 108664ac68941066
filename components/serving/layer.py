"""The serving layer of a stack: every model server, the CPU tier, and llm-d's router or KServe in front.

`ModelServing` takes the serving config slice, the resolved models (`stacks.models.served_models`), where it
runs (`ServingSite`, `ClusterOutputs`) and the quantize Jobs' artifacts; it creates the shared pieces (API key,
Hugging Face token Secret, KEDA, CRDs, dashboard) and one server (and route) per model, and exposes
`ServingOutputs`. Modes: vllm (a ClusterIP Service per model), llm-d (router.py's standalone router or
gateway.py's Gateway; disaggregated models as disaggregation.py's prefill/decode servers), kserve (kserve.py's
LLMInferenceServices behind the Gateway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random

from components import kube
from components.cluster.base import MODEL_STORE_SERVICE_ACCOUNT, ClusterOutputs
from components.serving import cpu_tier, crds, dashboard, kserve, monitoring, resolve, router
from components.serving.clients import Clients
from components.serving.cpu_tier import CpuTierArgs, LlamaCppServer
from components.serving.disaggregation import DisaggregatedServer, DisaggregatedServerArgs
from components.serving.gateway import (
    InferenceGateway,
    InferenceGatewayArgs,
    ModelRoute,
    ModelRouteArgs,
    is_gke_class,
    model_base_url,
)
from components.serving.kserve import KServeModel, KServeModelArgs
from components.serving.pod import API_KEY_KEY, HF_TOKEN_KEY, VllmPodSpec
from components.serving.resolve import ServingSite
from components.serving.router import StandaloneRouter, StandaloneRouterArgs
from components.serving.vllm_server import VllmServer, VllmServerArgs
from stacks.config.serving import ModelRole, ServingConfig
from stacks.models import ServedModel
from stacks.serving_modes import Role

API_KEY_SECRET = "serving-api-key"
HF_TOKEN_SECRET = "hf-token"
DASHBOARD_CONFIGMAP = "vllm-dashboard"


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
    mode: str = "vllm"
    """serving.mode: vllm, llm-d or kserve."""
    router: str | None = None
    """llm-d and kserve modes: standalone, or gateway/<implementation> (gateway/gke, gateway/agentgateway,
    gateway/external); None in vllm mode."""
    inference_pools: dict[str, str] = field(default_factory=dict)
    """GPU model name -> its InferencePool (llm-d mode; KServe names its own)."""

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
    roles: Mapping[str, Mapping[Role, ServedModel]] = field(default_factory=dict)
    """Served model name -> its prefill and decode servers (models with disaggregation enabled;
    stacks.serving_modes.role_models)."""


class ModelServing(pulumi.ComponentResource):
    """Every model server of the stack, and the gateway in front of them in llm-d mode."""

    outputs: ServingOutputs
    servers: dict[str, VllmServer | DisaggregatedServer]
    """Served model name -> its vLLM server(s) (modes vllm and llm-d)."""
    cpu_tier: LlamaCppServer | None
    cpu_safety: LlamaCppServer | None
    """Llama Guard on CPU (serving.cpuSafety), reached at its own Service (also in llm-d mode)."""
    gateway: InferenceGateway | None
    routes: dict[str, ModelRoute]
    routers: dict[str, StandaloneRouter]
    """Served model name -> its standalone router (llm-d mode, router standalone)."""
    kserve_models: dict[str, KServeModel]

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
        monitors = resolve.service_monitors_on(serving)
        monitor_labels = dict(serving.monitoring.service_monitor_labels)
        clients = resolve.clients(serving, site)

        self.servers = {}
        self.pod_specs: dict[str, VllmPodSpec] = {}
        self._pod_deps: dict[str, list[pulumi.Resource]] = {}
        for model in args.models:
            quantize_job = [args.quantize_jobs[model.name]] if model.name in args.quantize_jobs else []
            self._pod_deps[model.name] = [*pod_deps, *quantize_job]

            def pod_spec(served: ServedModel, model_name: str = model.name) -> VllmPodSpec:
                return VllmPodSpec(
                    model=served,
                    placement=resolve.placement(served, args.cluster.gpu_pools),
                    pre_stop_s=serving.pre_stop_s,
                    api_key_secret=API_KEY_SECRET,
                    hf_token_secret=hf_secret_name,
                    service_account=MODEL_STORE_SERVICE_ACCOUNT if served.source.streamed else None,
                    extra_env={"AWS_REGION": site.region} if served.bucket_scheme == "s3" else {},
                    quantized=args.quantized.get(model_name),
                )

            self.pod_specs[model.name] = pod_spec(model)
            if serving.mode == "kserve":
                continue  # KServe's controller creates the servers (_kserve)
            if model.name in args.roles:
                self.servers[model.name] = DisaggregatedServer(
                    f"{name}-{model.name}",
                    DisaggregatedServerArgs(
                        roles={role: pod_spec(m) for role, m in args.roles[model.name].items()},
                        disaggregation=model.config.disaggregation,
                        namespace=ns,
                        clients=clients,
                        depends_on=self._pod_deps[model.name],
                    ),
                    opts=pulumi.ResourceOptions(parent=self),
                )
                continue
            self.servers[model.name] = VllmServer(
                f"{name}-{model.name}",
                VllmServerArgs(
                    pod=self.pod_specs[model.name],
                    namespace=ns,
                    clients=clients,
                    autoscaling=serving.autoscaling,
                    service_monitor=monitors,
                    service_monitor_labels=monitor_labels,
                    keda_ready=keda_ready,
                    depends_on=self._pod_deps[model.name],
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

        self.cpu_safety = None
        if serving.cpu_safety.enabled:
            self.cpu_safety = LlamaCppServer(
                f"{name}-{serving.cpu_safety.name}",
                CpuTierArgs(
                    config=serving.cpu_safety,
                    namespace=ns,
                    placement=args.cluster.system,
                    api_key_secret=API_KEY_SECRET,
                    clients=clients,
                    pre_stop_s=serving.pre_stop_s,
                    depends_on=pod_deps,
                    jinja=True,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )

        urls: dict[str, str] = {m: s.base_url for m, s in self.servers.items()}
        if self.cpu_tier is not None:
            urls[self.cpu_tier.service_name] = self.cpu_tier.base_url
        self.gateway = None
        self.routes = {}
        self.routers = {}
        self.kserve_models = {}
        choice = resolve.router(serving, site)
        if serving.mode == "llm-d" and choice.kind == "standalone":
            urls.update(self._standalone(name, args, clients, monitors, monitor_labels))
        elif serving.mode == "llm-d":
            urls.update(self._llm_d(name, args, monitors, monitor_labels))
        elif serving.mode == "kserve":
            urls.update(self._kserve(name, args))
        if self.cpu_safety is not None:  # its own Service in every mode: moderation calls it directly
            urls[self.cpu_safety.service_name] = self.cpu_safety.base_url

        if serving.grafana_dashboard:
            k8s.core.v1.ConfigMap(
                f"{name}-dashboard",
                metadata={
                    "name": DASHBOARD_CONFIGMAP,
                    "namespace": ns,
                    "labels": {**kube.PART_OF, **dashboard.SIDECAR_LABEL},
                },
                data={"vllm.json": dashboard.dashboard_json(ns)},
                opts=child,
            )

        self.outputs = ServingOutputs(
            openai_base_url=urls[resolve.primary_model(serving)] if urls else None,
            openai_base_urls=urls,
            api_key=api_key,
            fallbacks=resolve.fallbacks(serving),
            roles=resolve.served_roles(serving),
            model_ids={m.name: m.config.id for m in args.models},
            mode=serving.mode,
            router=None
            if serving.mode == "vllm"
            else choice.kind
            if choice.kind == "standalone"
            else f"gateway/{choice.implementation}",
            inference_pools={m.name: m.name for m in args.models} if serving.mode == "llm-d" else {},
        )
        self.register_outputs(self.outputs.as_dict())

    def _inference_crds(self, name: str, args: ModelServingArgs, gateway_api: bool) -> crds.InferenceCrds:
        cluster_ready = list(args.cluster.ready)
        opts = pulumi.ResourceOptions(parent=self, depends_on=cluster_ready)
        if resolve.install_inference_crds(args.config, args.site):
            return crds.install_inference_crds(name, opts, gateway_api=gateway_api)
        return crds.managed_inference_crds(cluster_ready)

    def _gateway(self, name: str, args: ModelServingArgs) -> tuple[InferenceGateway, crds.InferenceCrds, str, str]:
        """The Gateway of the gateway router (and KServe), after its CRDs and, for agentgateway, the
        implementation's pinned release: (gateway, CRDs, GatewayClass, address)."""
        serving = args.config
        choice = resolve.router(serving, args.site)
        klass = choice.class_name
        if klass is None:  # preflight reports it with the key and the fix
            raise ValueError("serving.inferenceGateway.className is required for an external Gateway implementation")
        crd_set = self._inference_crds(name, args, gateway_api=True)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        implementation: list[pulumi.Resource] = []
        if choice.installs_implementation and serving.router.install:
            implementation = router.install_agentgateway(
                name, crd_set, pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready))
            )
        address = resolve.gateway_address(serving, args.site, klass)
        self.gateway = InferenceGateway(
            f"{name}-gateway",
            InferenceGatewayArgs(
                namespace=serving.namespace,
                class_name=klass,
                address=address,
                placement=args.cluster.system,
                crds=crd_set,
                depends_on=[*ready, *implementation],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return self.gateway, crd_set, klass, address

    def _epp_monitor(
        self, name: str, args: ModelServingArgs, model: str, monitors: bool, monitor_labels: dict[str, str]
    ) -> None:
        if not monitors:  # the endpoint picker's request counter wakes a model scaled to zero
            return
        epp = f"{model}-epp"
        monitoring.service_monitor(
            f"{name}-{model}-epp-metrics",
            epp,
            args.config.namespace,
            kube.selector(epp, kube.ENDPOINT_PICKER),
            {**kube.PART_OF, **monitor_labels},
            pulumi.ResourceOptions(parent=self, depends_on=[args.namespace, *args.cluster.ready]),
            port="http-metrics",
        )

    def _standalone(
        self, name: str, args: ModelServingArgs, clients: Clients, monitors: bool, monitor_labels: dict[str, str]
    ) -> dict[str, str]:
        """llm-d's standalone router per model (after the InferencePool CRD); the CPU tier keeps its Service."""
        serving, gw = args.config, args.config.inference_gateway
        crd_set = self._inference_crds(name, args, gateway_api=False)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        urls: dict[str, str] = {}
        for model in args.models:
            self.routers[model.name] = StandaloneRouter(
                f"{name}-{model.name}-router",
                StandaloneRouterArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    weights=gw.scorer_weights,
                    placement=args.cluster.system,
                    clients=clients,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    epp_replicas=gw.epp_replicas,
                    disaggregation=model.config.disaggregation,
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            urls[model.name] = self.routers[model.name].base_url
            self._epp_monitor(name, args, model.name, monitors, monitor_labels)
        return urls

    def _cpu_route(
        self, name: str, args: ModelServingArgs, gateway: InferenceGateway, crd_set: crds.InferenceCrds, klass: str
    ) -> None:
        if self.cpu_tier is None:
            return
        serving = args.config
        cpu = serving.cpu_tier.name
        self.routes[cpu] = ModelRoute(
            f"{name}-{cpu}-route",
            ModelRouteArgs(
                model=cpu,
                namespace=serving.namespace,
                gateway=gateway,
                class_name=klass,
                crds=crd_set,
                request_timeout_s=serving.inference_gateway.request_timeout_s,
                placement=args.cluster.system,
                weights=None,
                service_port=cpu_tier.PORT,
                depends_on=[args.namespace, *args.cluster.ready, self.cpu_tier.service],
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )

    def _llm_d(
        self, name: str, args: ModelServingArgs, monitors: bool, monitor_labels: dict[str, str]
    ) -> dict[str, str]:
        """The gateway router: one Gateway, and per model an InferencePool, its endpoint picker and a route."""
        serving, gw = args.config, args.config.inference_gateway
        gateway, crd_set, klass, address = self._gateway(name, args)
        ready: list[pulumi.Resource] = [args.namespace, *args.cluster.ready]
        for model in args.models:
            self.routes[model.name] = ModelRoute(
                f"{name}-{model.name}-route",
                ModelRouteArgs(
                    model=model.name,
                    namespace=serving.namespace,
                    gateway=gateway,
                    class_name=klass,
                    crds=crd_set,
                    request_timeout_s=gw.request_timeout_s,
                    placement=args.cluster.system,
                    weights=gw.scorer_weights,
                    epp_replicas=gw.epp_replicas,
                    disaggregation=model.config.disaggregation,
                    depends_on=[*ready, self.servers[model.name].service],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            self._epp_monitor(name, args, model.name, monitors, monitor_labels)
        self._cpu_route(name, args, gateway, crd_set, klass)
        gke = is_gke_class(klass)
        names = [m.name for m in args.models] + ([self.cpu_tier.service_name] if self.cpu_tier else [])
        return {m: model_base_url(address, m, gke) for m in names}

    def _kserve(self, name: str, args: ModelServingArgs) -> dict[str, str]:
        """KServe from its pinned release, the Gateway, and an LLMInferenceService per model."""
        serving = args.config
        installed = kserve.install_kserve(
            name, serving.kserve, pulumi.ResourceOptions(parent=self, depends_on=list(args.cluster.ready))
        )
        gateway, crd_set, klass, address = self._gateway(name, args)
        urls: dict[str, str] = {}
        for model in args.models:
            self.kserve_models[model.name] = KServeModel(
                f"{name}-{model.name}",
                KServeModelArgs(
                    pod=self.pod_specs[model.name],
                    namespace=serving.namespace,
                    gateway_address=address,
                    depends_on=[
                        *self._pod_deps[model.name],
                        *installed,
                        *crd_set.inference_pool,
                        gateway.gateway,
                    ],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            urls[model.name] = self.kserve_models[model.name].base_url
        self._cpu_route(name, args, gateway, crd_set, klass)
        if self.cpu_tier is not None:
            cpu = self.cpu_tier.service_name
            urls[cpu] = model_base_url(address, cpu, is_gke_class(klass))
        return urls
