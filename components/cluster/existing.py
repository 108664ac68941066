"""A cluster someone else runs (kind, minikube, a managed cluster): only a provider and declared pools."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s

from components.cluster.base import ClusterOutputs, Placement, cpu_placement, gpu_placement


@dataclass(frozen=True)
class DeclaredGpuPool:
    name: str
    gpu: str
    gpus_per_node: int


@dataclass
class ExistingClusterArgs:
    kubeconfig: pulumi.Output[str] | None
    """Secret kubeconfig; None uses the ambient one (KUBECONFIG / ~/.kube/config)."""
    context: str
    model_store_uri: str
    system_pool: str
    gpu_pools: list[DeclaredGpuPool]


class ExistingCluster(pulumi.ComponentResource):
    """Targets an existing cluster. Its nodes must carry the `leanrag.dev/pool=<pool>` label
    (`kubectl label node <node> leanrag.dev/pool=system`); GPU nodes also the nvidia.com/gpu taint."""

    outputs: ClusterOutputs

    def __init__(self, name: str, args: ExistingClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("leanrag:cluster:ExistingCluster", name, None, opts)
        provider = k8s.Provider(
            f"{name}-k8s",
            kubeconfig=args.kubeconfig,
            context=args.context or None,
            enable_server_side_apply=True,
            opts=pulumi.ResourceOptions(parent=self),
        )
        gpu_pools: dict[str, Placement] = {
            p.name: gpu_placement(p.name, p.gpu, p.gpus_per_node) for p in args.gpu_pools
        }
        self.outputs = ClusterOutputs(
            kubeconfig=pulumi.Output.secret(args.kubeconfig if args.kubeconfig is not None else ""),
            provider=provider,
            model_store_uri=pulumi.Output.from_input(args.model_store_uri),
            service_account_annotations=pulumi.Output.from_input({}),
            system=cpu_placement(args.system_pool),
            gpu_pools=gpu_pools,
            ready=[],
        )
        self.register_outputs(self.outputs.as_dict())
