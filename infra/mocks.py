"""Run the real Pulumi program without an engine or cloud: the SDK's mocks, with realistic outputs.

`run_program` executes infra/__main__.py for one stack's config and returns every registered resource
(type, name, parent, inputs) and the stack outputs. Used by the offline plan and by the tests.

Remote components (awsx's Vpc) create their children inside their provider, where the mocks cannot see them;
`vpc_children` models what awsx's Vpc creates from its inputs (subnets, route tables, routes, the internet
gateway, NAT gateways and their Elastic IPs, named as awsx names them), marked `modelled`.

Importing this module makes the provider SDKs import only the resources the program uses (infra/sdk_imports.py)
unless `LEANRAG_FULL_SDK_IMPORTS=1`: importing them whole was most of the offline plan's time.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import runpy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pulumi
from google.protobuf import json_format
from pulumi.runtime import mocks as sdk_mocks
from pulumi.runtime import resource as sdk_resource
from pulumi.runtime import rpc
from pulumi.runtime.proto import source_pb2
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from infra import sdk_imports

if os.environ.get(sdk_imports.FULL_IMPORTS_ENV) != "1":
    sdk_imports.install()

from infra.stack_file import StackFileError
from infra.stack_file import read as read_stack_file

PROJECT = "leanrag"
PROGRAM = Path(__file__).with_name("__main__.py")
REDACTED = "[secret]"
_FAKE_CA = base64.b64encode(b"-----BEGIN CERTIFICATE-----\nMIIB (mock)\n-----END CERTIFICATE-----\n").decode()


def mock_secret(name: str) -> str:
    """The value RandomPassword `name` gets under mocks; tests search rendered output for it."""
    return "mock" + hashlib.sha256(name.encode()).hexdigest()[:28]


def _suffix(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()[:8]


@dataclass
class Registered:
    urn: str
    type: str
    name: str
    parent: str | None
    custom: bool
    inputs: dict[str, Any]
    """As the engine would receive them; secret values still wrapped (see `redact`)."""
    dependencies: list[str] = field(default_factory=list)
    """URNs of the resources it waits for (depends_on, components expanded to their resources)."""
    aliases: list[dict[str, Any]] = field(default_factory=list)
    """Former identities the engine would match it to (alias specs, e.g. {"noParent": True}), so a resource
    that moved under a new parent is kept rather than replaced."""
    modelled: bool = False
    """A child of a remote component, modelled from the component's inputs (the engine never showed it)."""
    ignore_changes: list[str] = field(default_factory=list)
    """Input paths a later `pulumi up` leaves as they are (e.g. data that operators change with kubectl)."""


@dataclass
class ProgramRun:
    resources: list[Registered] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    """Stack outputs, secrets replaced by REDACTED."""
    secret_outputs: list[str] = field(default_factory=list)

    def of_type(self, type_: str) -> list[Registered]:
        return [r for r in self.resources if r.type == type_]

    def one(self, type_: str, name: str | None = None) -> Registered:
        found = [r for r in self.of_type(type_) if name is None or r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one {type_} {name or ''}, found {[r.name for r in found]}")
        return found[0]


class RealisticMocks(sdk_mocks.Mocks):
    """Outputs shaped like the providers' real ones, so code that reads them (kubeconfigs, ARNs) runs."""

    def new_resource(self, args: sdk_mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        name, typ, inputs = args.name, args.typ, dict(args.inputs)
        rid = f"{name}-{_suffix(name)}"
        state: dict[str, Any] = dict(inputs)
        if typ.startswith("aws:"):
            service = typ.split(":")[1].split("/")[0]
            state.setdefault("arn", f"arn:aws:{service}:us-east-1:123456789012:{name}")
        if typ == "awsx:ec2:Vpc":
            zones = inputs.get("availabilityZoneNames") or ["a", "b", "c"]
            state = {}  # a remote component: its outputs are not its inputs
            state.update(
                vpcId=f"vpc-{_suffix(name)}",
                privateSubnetIds=[f"subnet-priv-{z}" for z in zones],
                publicSubnetIds=[f"subnet-pub-{z}" for z in zones],
                isolatedSubnetIds=[],
            )
        elif typ == "aws:eks/cluster:Cluster":
            state.update(
                name=inputs.get("name", rid),
                endpoint=f"https://{_suffix(name).upper()}.eks.amazonaws.com",
                certificateAuthority={"data": _FAKE_CA},
            )
        elif typ in ("aws:iam/role:Role", "aws:s3/bucket:Bucket"):
            state.update(name=rid, bucket=rid)
        elif typ == "aws:ec2/launchTemplate:LaunchTemplate":
            state.update(latestVersion=1)
        elif typ == "gcp:container/cluster:Cluster":
            state.update(name=rid, endpoint="10.0.0.2", masterAuth={"clusterCaCertificate": _FAKE_CA})
            dns = dict((inputs.get("controlPlaneEndpointsConfig") or {}).get("dnsEndpointConfig") or {})
            dns["endpoint"] = f"gke-{_suffix(name)}.{inputs.get('location', 'us-central1')}.gke.goog"
            state["controlPlaneEndpointsConfig"] = {"dnsEndpointConfig": dns}
        elif typ == "gcp:serviceaccount/account:Account":
            state.update(
                email=f"{inputs['accountId']}@{inputs.get('project', 'p')}.iam.gserviceaccount.com",
                name=f"projects/{inputs.get('project', 'p')}/serviceAccounts/{inputs['accountId']}",
            )
        elif typ == "gcp:storage/bucket:Bucket":
            state.update(name=rid, url=f"gs://{rid}")
        elif typ == "kubernetes:core/v1:Service" and (inputs.get("spec") or {}).get("type") == "LoadBalancer":
            # The address a cloud's Service controller writes once the load balancer exists.
            annotations = (inputs.get("metadata") or {}).get("annotations") or {}
            aws = any(k.startswith("service.beta.kubernetes.io/aws-") for k in annotations)
            entry = {"hostname": f"{rid}.elb.us-east-1.amazonaws.com"} if aws else {"ip": "10.0.8.17"}
            state["status"] = {"loadBalancer": {"ingress": [entry]}}
        elif typ == "gcp:compute/globalAddress:GlobalAddress":
            state.update(name=rid, address="203.0.113.20")
        elif typ == "gcp:compute/managedSslCertificate:ManagedSslCertificate":
            state.update(name=rid)
        elif typ == "random:index/randomPassword:RandomPassword":
            state.update(result=mock_secret(name))
        elif typ == "random:index/randomId:RandomId":
            state.update(hex=_suffix(name))
        return rid, state

    def call(self, args: sdk_mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        if args.token == "gcp:organizations/getProject:getProject":
            return {"number": "123456789012", "projectId": args.args.get("projectId", "p")}, []
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            return {"accountId": "123456789012", "arn": "arn:aws:iam::123456789012:user/mock"}, []
        return {}, []


AWSX_VPC = "awsx:ec2:Vpc"


def _child(parent: Registered, type_: str, name: str, inputs: dict[str, Any]) -> Registered:
    scope = parent.urn.rsplit("::", 1)[0]
    return Registered(
        urn=f"{scope}${type_}::{name}",
        type=type_,
        name=name,
        parent=parent.urn,
        custom=True,
        inputs=inputs,
        modelled=True,
    )


def vpc_children(vpc: Registered) -> list[Registered]:
    """What awsx's Vpc creates (awsx/ec2/vpc.ts): the aws.ec2.Vpc; under it the internet gateway and, per zone,
    one subnet per subnet spec (public first) named `<vpc>-<type>-<zone number>`, each with its route table,
    association and default route (public: to the internet gateway; private: to a NAT gateway); a NAT gateway
    and Elastic IP `<vpc>-<n>` in the first public subnet (strategy Single) or in each zone's (OnePerAz)."""
    name, inputs = vpc.name, vpc.inputs
    zones = list(inputs.get("availabilityZoneNames") or [])
    strategy = str((inputs.get("natGateways") or {}).get("strategy", "OnePerAz")).lower()
    order = {"public": 0, "private": 1, "isolated": 2}
    specs = {str(s.get("type", "")).lower(): s.get("tags") or {} for s in inputs.get("subnetSpecs") or []}
    types = sorted(specs, key=lambda kind: order.get(kind, 3))
    computed = pulumi.output.Unknown()
    tags = inputs.get("tags") or {}
    ec2_vpc = _child(vpc, "aws:ec2/vpc:Vpc", name, {"cidrBlock": inputs.get("cidrBlock"), "tags": tags})
    out = [ec2_vpc, _child(ec2_vpc, "aws:ec2/internetGateway:InternetGateway", name, {"vpcId": computed})]
    nats = 0
    for i, zone in enumerate(zones, 1):
        for kind in types:
            subnet_name = f"{name}-{kind}-{i}"
            subnet = _child(
                ec2_vpc,
                "aws:ec2/subnet:Subnet",
                subnet_name,
                {
                    "vpcId": computed,
                    "availabilityZone": zone,
                    "mapPublicIpOnLaunch": kind == "public",
                    "tags": {**tags, **specs[kind], "Name": subnet_name, "SubnetType": kind.capitalize()},
                },
            )
            table = _child(subnet, "aws:ec2/routeTable:RouteTable", subnet_name, {"vpcId": computed})
            out += [subnet, table]
            out.append(
                _child(
                    table,
                    "aws:ec2/routeTableAssociation:RouteTableAssociation",
                    subnet_name,
                    {"routeTableId": computed, "subnetId": computed},
                )
            )
            if kind == "public" and strategy != "none" and (strategy == "oneperaz" or nats == 0):
                nats += 1
                out.append(_child(subnet, "aws:ec2/eip:Eip", f"{name}-{i}", {"domain": "vpc"}))
                out.append(
                    _child(
                        subnet,
                        "aws:ec2/natGateway:NatGateway",
                        f"{name}-{i}",
                        {"subnetId": computed, "allocationId": computed},
                    )
                )
            target = {"public": "gatewayId", "private": "natGatewayId"}.get(kind)
            if target and (kind == "public" or strategy != "none"):
                route = {"routeTableId": computed, "destinationCidrBlock": "0.0.0.0/0", target: computed}
                out.append(_child(table, "aws:ec2/route:Route", subnet_name, route))
    return out


class _RecordingMonitor(sdk_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping each registration's parent and inputs."""

    def __init__(self, mocks: sdk_mocks.Mocks, run: ProgramRun):
        super().__init__(mocks)
        self.run = run

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)
        if request.type != "pulumi:pulumi:Stack":
            registered = Registered(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent or None,
                custom=bool(request.custom),
                inputs=rpc.deserialize_properties(request.object),
                dependencies=list(request.dependencies),
                aliases=[json_format.MessageToDict(alias.spec) for alias in request.aliases],
                ignore_changes=list(request.ignoreChanges),
            )
            self.run.resources.append(registered)
            if request.type == AWSX_VPC:
                self.run.resources += vpc_children(registered)
        return response


def _redact_leaves(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _redact_leaves(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_leaves(v) for v in value]
    return REDACTED


def redact(value: Any) -> Any:
    """Replace every secret value by REDACTED, recursively. The SDK marks a whole map or list secret when one
    of its values is; such containers keep their shape (keys, length) so manifests still validate."""
    if rpc.is_rpc_secret(value):
        return _redact_leaves(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def stack_config(stack_file: Path) -> tuple[dict[str, str], list[str]]:
    """Pulumi.<stack>.yaml -> (config as the engine passes it: JSON for structured values, secret keys).

    Encrypted (`secure:`) values cannot be decrypted offline; they are passed as placeholders so the
    program sees the secret as set. StackFileError when the file cannot be read or has problems of its own
    (duplicate keys, keys outside `config:`): each with its line."""
    stack = read_stack_file(stack_file)
    if stack.problems:
        raise StackFileError("\n".join(str(p) for p in stack.problems))
    return stack.engine_config()


def run_program(config: dict[str, str], secret_keys: list[str], stack: str) -> ProgramRun:
    """Execute the program under mocks. Exceptions from the program (e.g. PreflightError) propagate."""
    run = ProgramRun()
    mocks = RealisticMocks()
    monitor = _RecordingMonitor(mocks, run)
    pulumi.runtime.set_all_config(config, secret_keys)
    pulumi.runtime.settings.ROOT.set(None)  # a fresh stack resource for every run
    sdk_mocks.set_mocks(mocks, project=PROJECT, stack=stack, preview=True, monitor=monitor)
    root = pulumi.runtime.get_root_resource()

    async def program() -> None:
        runpy.run_path(str(PROGRAM), run_name="__main__")
        assert isinstance(root, pulumi.runtime.stack.Stack)
        for key, value in root.outputs.items():  # set_mocks' stack never registers its exports
            output = pulumi.Output.from_input(value)
            resolved = await output.future(with_unknowns=True)
            if await output.is_secret():
                run.secret_outputs.append(key)
                resolved = REDACTED
            run.outputs[key] = redact(resolved)

    with _without_source_positions():
        _sync_await(run_pulumi_func(program))
    return run


@contextlib.contextmanager
def _without_source_positions() -> Iterator[None]:
    """Register resources without the Python stack trace the SDK takes for each (`traceback.extract_stack`, for
    the engine to show where a resource was declared): the mocks have no use for it, and it cost about 0.1 s of
    prod's offline plan. Restored afterwards."""
    saved = sdk_resource._get_stack_trace
    sdk_resource._get_stack_trace = source_pb2.StackTrace
    try:
        yield
    finally:
        sdk_resource._get_stack_trace = saved
