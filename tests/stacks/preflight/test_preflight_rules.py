"""Config parsing and every preflight rule: a passing and a failing case each, all errors at once."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from stacks import catalog
from stacks.load import parse
from stacks.preflight import PreflightError

BASE: dict[str, Any] = {
    "cloud": "aws",
    "region": "us-east-1",
    "cluster": {"gpuPools": [{"name": "gpu", "instanceType": "g6.xlarge", "maxNodes": 2}]},
    "serving": {
        "models": [
            {"name": "chat", "id": "Qwen/Qwen2.5-7B-Instruct", "precision": "w4a16", "pool": "gpu", "maxContext": 8192}
        ]
    },
}


def config(**changes: Any) -> dict[str, Any]:
    """BASE with dotted-path changes, e.g. config(**{"serving.models.0.precision": "bf16"})."""
    out = copy.deepcopy(BASE)
    for path, value in changes.items():
        *parents, last = path.split(".")
        node: Any = out
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node.setdefault(p, {})
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def problems(raw: dict[str, Any], secrets: frozenset[str] = frozenset()) -> list[str]:
    try:
        parse(raw, secrets)
    except PreflightError as e:
        return [f"{p.path}: {p.message} | {p.fix}" for p in e.problems]
    return []


def test_base_config_is_valid_and_typed():
    cfg = parse(BASE)
    assert cfg.serving.models[0].engine.gpu_memory_utilization == 0.9
    assert cfg.cluster.gpu_pools[0].min_nodes == 0
    assert cfg.effective_zones() == ["us-east-1a", "us-east-1b", "us-east-1c"]


def test_schema_errors_are_reported_all_at_once_with_paths():
    raw = config(
        **{
            "cloud": "azure",
            "serving.models.0.engine": {"maxNumSeqs": "many", "turbo": True},
            "cluster.gpuPools.0.minNodes": 3,
            "cluster.gpuPools.0.maxNodes": 1,
        }
    )
    found = problems(raw)
    assert len(found) == 4, found
    joined = "\n".join(found)
    assert "cloud: Input should be 'aws', 'gcp' or 'existing'" in joined
    assert "serving.models[0].engine.maxNumSeqs" in joined
    assert "serving.models[0].engine.turbo: Extra inputs are not permitted | remove this key" in joined
    assert "cluster.gpuPools[0]: minNodes (3) is larger than maxNodes (1)" in joined


def test_unknown_top_level_key_is_an_error():
    assert any(p.startswith("servng:") for p in problems({**BASE, "servng": {}}))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"region": ""}, "region: a region is required for cloud aws"),
        (
            {"cloud": "gcp", "region": "us-central1", "cluster.gpuPools.0.instanceType": "g2-standard-8"},
            "cluster.gcp.project: a GCP project id is required",
        ),
        (
            {"cluster.apiEndpoint": {"access": "public"}},
            "cluster.apiEndpoint.allowedCidrs: the API endpoint is public but lists no network that may reach it",
        ),
        (
            {"cluster.apiEndpoint": {"access": "public", "allowedCidrs": ["0.0.0.0/0"]}},
            "cluster.apiEndpoint.allowedCidrs[0]: 0.0.0.0/0 opens the Kubernetes API to the whole internet",
        ),
        (
            {"cluster.apiEndpoint": {"access": "public", "allowedCidrs": ["::/0"]}},
            "::/0 opens the Kubernetes API to the whole internet",
        ),
        (
            {"cluster.apiEndpoint": {"access": "public", "allowedCidrs": ["203.0.113.7/24"]}},
            "cluster.apiEndpoint.allowedCidrs[0]: '203.0.113.7/24' is not a CIDR",
        ),
        (
            {"cluster.apiEndpoint": {"access": "public", "allowedCidrs": ["198.51.100.7/32"], "wayIn": "inVpc"}},
            "cluster.apiEndpoint.wayIn: wayIn applies to access: private",
        ),
        (
            {"cluster.apiEndpoint": {"access": "private", "allowedCidrs": ["198.51.100.7/32"]}},
            "cluster.apiEndpoint.allowedCidrs: allowedCidrs applies to access: public",
        ),
        (
            {"cluster.apiEndpoint": {"access": "private", "wayIn": "dnsEndpoint"}},
            "cluster.apiEndpoint.wayIn: dnsEndpoint is GKE's IAM-authorised control plane address; EKS has none",
        ),
        ({"cluster.gpuPools.0.instanceType": "p9.mega"}, "unknown aws instance type 'p9.mega'"),
        ({"cluster.gpuPools.0.instanceType": "m7i.xlarge"}, "m7i.xlarge has no GPU but is listed as a GPU pool"),
        ({"serving.models.0.pool": "nope"}, "serving.models[0].pool: model 'chat' names pool 'nope'"),
        ({"serving.models.0.tensorParallel": 2}, "tensor parallel 2 needs 2 GPUs per node"),
        (
            {"serving.models.0.precision": "bf16", "serving.models.0.engine": {"concurrency": 16}},
            "needs 24.3 GB per GPU",
        ),
        ({"serving.models.0.maxContext": 65536}, "65536 exceeds the model's context of 32768"),
        ({"serving.models.0.id": "acme/secret-model"}, "not in the catalog, so its memory cannot be checked"),
        ({"serving.models.0.id": "meta-llama/Llama-3.1-8B-Instruct"}, "gated on Hugging Face and the secret hfToken"),
        ({"serving.models.0.minReplicas": 0}, "minReplicas 0 (scale to zero) needs autoscaling"),
        ({"serving.models.0.maxReplicas": 3}, "maxReplicas 3 x 1 GPU(s) exceeds pool 'gpu'"),
        ({"serving.cpuTier": {"enabled": True, "fallbackFor": ["ghost"]}}, "'ghost' is not a served model"),
        ({"monthlyBudgetUsd": 500}, "over the budget of $500"),
        ({"jobs": {"ingest": {"sourceUri": "gs://docs"}}}, "jobs.ingest.sourceUri: 'gs://docs' is not a s3:// URI"),
    ],
)
def test_each_rule_fails_on_its_case_and_names_the_key(changes, expected):
    found = problems(config(**changes))
    assert any(expected in p for p in found), found


def test_fp8_on_a10g_is_rejected_for_weights_and_kv_cache():
    raw = config(
        **{
            "cluster.gpuPools.0.instanceType": "g5.xlarge",
            "serving.models.0.precision": "fp8",
            "serving.models.0.engine": {"kvCacheDtype": "fp8"},
        }
    )
    found = problems(raw)
    assert any(
        p.startswith("serving.models[0].precision: FP8 needs compute capability 8.9+; A10G has 8.6") for p in found
    ), found
    assert any(p.startswith("serving.models[0].engine.kvCacheDtype: FP8") for p in found), found


def test_fp8_on_l4_passes():
    assert (
        problems(config(**{"serving.models.0.precision": "fp8", "serving.models.0.engine": {"kvCacheDtype": "fp8"}}))
        == []
    )


def test_gpu_not_offered_by_the_cloud():
    raw = config(
        **{
            "cloud": "gcp",
            "region": "us-central1",
            "cluster.gcp": {"project": "p"},
            "cluster.gpuPools.0.instanceType": "g5.xlarge",
        }
    )
    found = problems(raw)
    assert any("g5.xlarge is a aws type with GPU A10G, which gcp does not offer" in p for p in found), found
    raw = config(**{"cluster.gpuPools.0.gpu": "A10G"})
    assert any("g6.xlarge has L4, not A10G" in p for p in problems(raw))


def test_70b_bf16_on_one_24gb_gpu_names_keys_and_fixes():
    raw = config(
        **{
            "cluster.gpuPools.0.instanceType": "g6.12xlarge",
            "cluster.gpuPools.0.maxNodes": 1,
            "serving.models.0.id": "meta-llama/Llama-3.1-70B-Instruct",
            "serving.models.0.precision": "bf16",
        }
    )
    found = problems(raw, frozenset({"hfToken"}))
    assert len(found) == 1, found
    assert found[0].startswith("serving.models[0].precision: meta-llama/Llama-3.1-70B-Instruct in bf16")
    assert "needs 153.4 GB per GPU" in found[0] and "L4 gives 21.6 GB" in found[0]
    assert "more GPU memory" in found[0]


def test_fit_suggests_tensor_parallel_or_lower_precision():
    raw = config(
        **{
            "cluster.gpuPools.0.instanceType": "g6.12xlarge",
            "cluster.gpuPools.0.maxNodes": 1,
            "serving.models.0.precision": "bf16",
            "serving.models.0.engine": {"concurrency": 16},
        }
    )
    (found,) = problems(raw)
    assert "try tensorParallel: 2; or precision: fp8" in found


def test_quantizing_in_an_existing_cluster_is_rejected():
    raw = {
        "cloud": "existing",
        "cluster": {"gpuPools": [{"name": "gpu", "instanceType": "x", "gpu": "L4", "gpuCount": 1}]},
        "serving": {
            "models": [
                {
                    "name": "m",
                    "id": "Qwen/Qwen2.5-7B-Instruct",
                    "precision": "w4a16",
                    "quantizeFrom": "Qwen/Qwen2.5-7B-Instruct",
                    "pool": "gpu",
                }
            ]
        },
    }
    assert any(p.startswith("serving.models[0].quantizeFrom: quantizing in the cluster") for p in problems(raw))
    raw["cloud"], raw["region"] = "aws", "us-east-1"
    raw["cluster"]["gpuPools"][0] = {"name": "gpu", "instanceType": "g6.xlarge"}
    assert problems(raw) == []


def test_existing_cluster_gpu_pools_must_declare_their_gpu():
    raw = {"cloud": "existing", "cluster": {"gpuPools": [{"name": "gpu", "instanceType": "x"}]}}
    assert any("must declare its GPU" in p for p in problems(raw))
    raw["cluster"]["gpuPools"][0].update(gpu="L4", gpuCount=1)
    assert problems(raw) == []


def test_secret_presence_satisfies_the_gated_model_rule():
    raw = config(**{"serving.models.0.id": "meta-llama/Llama-3.1-8B-Instruct"})
    assert problems(raw, frozenset({"hfToken"})) == []


# --- regions, and schema errors that no longer hide preflight problems ----------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"region": "us-east-9"}, "region: 'us-east-9' is not a aws region"),
        ({"region": "us-central1"}, "region: 'us-central1' is not a aws region"),
        ({"zones": ["us-west-2a"]}, "zones[0]: zone 'us-west-2a' is not in region us-east-1"),
        (
            {"cloud": "gcp", "region": "us-east-1", "cluster.gcp": {"project": "p"}},
            "region: 'us-east-1' is not a gcp region",
        ),
    ],
)
def test_regions_and_zones_are_checked_against_the_catalog(changes, expected):
    found = problems(config(**changes))
    assert any(p.startswith(expected) for p in found), found


def test_an_unknown_region_names_the_regions_of_its_cloud():
    (found,) = problems(config(region="eu-wset-1"))
    assert "use one of: af-south-1" in found and "eu-west-1" in found and "us-central1" not in found


def test_every_catalog_region_is_a_region_of_the_pinned_provider():
    pulumi_aws = pytest.importorskip("pulumi_aws")
    assert set(catalog.regions("aws")) <= {r.value for r in pulumi_aws.Region}
    assert catalog.price_region("aws") in catalog.regions("aws")
    assert catalog.price_region("gcp") in catalog.regions("gcp")


def test_schema_errors_do_not_hide_preflight_problems_of_the_valid_sections():
    raw = config(**{"monthlyBudgetUsd": "lots", "serving.models.0.pool": "nope"})
    found = problems(raw)
    assert any(p.startswith("monthlyBudgetUsd: Input should be a valid integer") for p in found), found
    assert any(p.startswith("serving.models[0].pool: model 'chat' names pool 'nope'") for p in found), found


def test_a_rule_that_reads_an_invalid_section_is_skipped_not_run_on_defaults():
    # cluster is invalid: the model rules read it (the pool), so they would report the default pools; the jobs
    # rule does not, and still reports
    raw = config(**{"cluster.gpuPools.0.maxNodes": "two", "jobs": {"ingest": {"sourceUri": "gs://docs"}}})
    found = problems(raw)
    assert any(p.startswith("cluster.gpuPools[0].maxNodes") for p in found), found
    assert any(p.startswith("jobs.ingest.sourceUri") for p in found), found
    assert not any(p.startswith("serving.models[0].pool") for p in found), found


def test_an_invalid_cloud_leaves_only_the_schema_errors():
    found = problems(config(cloud="azure", **{"serving.models.0.pool": "nope"}))
    assert [p.split(":")[0] for p in found] == ["cloud"]


def test_an_unwritten_system_pool_takes_the_clouds_machine_type():
    from stacks.config import GCP_SYSTEM_POOL_TYPE

    on_gcp = config(cloud="gcp", region="us-central1", **{"cluster.gpuPools.0.instanceType": "g2-standard-8"})
    on_gcp["cluster"]["gcp"] = {"project": "p"}
    gcp, aws = parse(on_gcp), parse(BASE)
    assert gcp.cluster.system_pool.instance_type == GCP_SYSTEM_POOL_TYPE == "n2-standard-4"
    assert gcp.cluster.system_pool.min_nodes == aws.cluster.system_pool.min_nodes  # only the machine type differs
    assert aws.cluster.system_pool.instance_type == "m7i.xlarge"
    written = copy.deepcopy(on_gcp)
    written["cluster"]["systemPool"] = {"name": "system", "instanceType": "e2-standard-8"}
    assert parse(written).cluster.system_pool.instance_type == "e2-standard-8"


def test_a_misspelt_key_gets_the_closest_valid_key_where_it_is_written():
    raw = config(**{"serving.models.0.maxContxt": 4096, "cluster.gpuPools.0.instnceType": "g6.xlarge"})
    raw["platfrom"] = {}
    raw["serving"]["models"][0]["engine"] = {"maxNumSeq": 8}
    raw["platform"] = {"app": {"retrieval": {"hybird": "bm25"}}}
    found = "\n".join(problems(raw))
    assert "platfrom: Extra inputs are not permitted | remove this key" in found and "mean `platform`?" in found
    assert "serving.models[0].maxContxt: Extra inputs" in found and "mean `maxContext`?" in found
    assert "serving.models[0].engine.maxNumSeq: Extra inputs" in found and "mean `maxNumSeqs`?" in found
    assert "cluster.gpuPools[0].instnceType: Extra inputs" in found and "mean `instanceType`?" in found
    assert "platform.app.retrieval.hybird: Extra inputs" in found and "mean `hybrid`?" in found
    unlike = "\n".join(problems({**BASE, "zzzz": 1}))
    assert "zzzz: Extra inputs are not permitted" in unlike and "did you mean" not in unlike


def test_a_value_that_misses_its_pattern_says_what_a_valid_one_looks_like():
    raw = config(**{"serving.models.0.name": "Llama_3!"})
    raw["platform"] = {"gateway": {"exposure": {"mode": "public", "hostname": "https://rag.example.com/"}}}
    found = "\n".join(problems(raw))
    assert "serving.models[0].name: 'Llama_3!' is not a valid value here | write a name of lowercase letters" in found
    assert "exposure.hostname: 'https://rag.example.com/' is not a valid value here | write a lowercase DNS" in found
    assert "String should match pattern" not in found
