"""The catalog data and the pure memory estimate, against published sizes."""

import pytest

from stacks import catalog, memory

LLAMA_8B = catalog.models()["meta-llama/Llama-3.1-8B-Instruct"]


def test_every_gpu_instance_references_a_known_gpu_and_has_a_dated_price():
    for cloud in ("aws", "gcp"):
        for spec in catalog.instances(cloud).values():
            assert spec.price_per_hour_usd > 0 and spec.price_date
            if spec.gpu:
                assert spec.gpu in catalog.gpus() and spec.gpu_count >= 1


def test_gpus_on_gcp_name_their_accelerator_type():
    for spec in catalog.instances("gcp").values():
        if spec.gpu:
            assert catalog.gpu(spec.gpu).gcp_accelerator


def test_fp8_follows_compute_capability():
    assert catalog.gpu("L4").fp8 and catalog.gpu("H100").fp8
    assert not catalog.gpu("A10G").fp8 and not catalog.gpu("A100-80GB").fp8


def test_unknown_names_list_the_known_ones():
    with pytest.raises(KeyError, match=r"known: .*L4"):
        catalog.gpu("V100")
    with pytest.raises(KeyError, match=r"g6\.xlarge"):
        catalog.instance("aws", "p9.huge")


def test_a10g_is_offered_on_aws_only():
    assert catalog.clouds_offering("A10G") == ["aws"]
    assert catalog.clouds_offering("L4") == ["aws", "gcp"]


@pytest.mark.parametrize(
    ("precision", "low", "high"),
    [
        ("bf16", 15.5, 16.5),  # 8B x 2 bytes: ~16 GB
        ("w8a8-int8", 7.8, 9.0),  # ~8 GB (+16-bit embeddings)
        ("fp8", 7.8, 9.0),
        ("w4a16", 4.5, 5.0),  # 4.5-5 GB
    ],
)
def test_8b_weights_match_published_sizes(precision, low, high):
    assert low <= memory.weights_gb(LLAMA_8B, precision) <= high


def test_kv_cache_per_token_for_llama_8b():
    # 2 (K,V) x 32 layers x 8 KV heads x 128 dims x 2 bytes = 131072 bytes per token
    assert memory.kv_cache_gb_per_token(LLAMA_8B) == pytest.approx(131072 / 1e9)
    assert memory.kv_cache_gb_per_token(LLAMA_8B, "fp8") == pytest.approx(65536 / 1e9)


def test_estimate_splits_over_tensor_parallel_and_compares_to_budget():
    one = memory.estimate(
        LLAMA_8B,
        precision="bf16",
        max_context=8192,
        concurrency=4,
        kv_cache_dtype="auto",
        tensor_parallel=1,
        gpu_memory_gb=24,
        gpu_memory_utilization=0.9,
    )
    two = memory.estimate(
        LLAMA_8B,
        precision="bf16",
        max_context=8192,
        concurrency=4,
        kv_cache_dtype="auto",
        tensor_parallel=2,
        gpu_memory_gb=24,
        gpu_memory_utilization=0.9,
    )
    assert one.kv_cache_gb == pytest.approx(4.29, abs=0.01)
    assert one.per_gpu_budget_gb == pytest.approx(21.6)
    assert not one.fits and two.fits
    assert two.per_gpu_needed_gb == pytest.approx((one.weights_gb + one.kv_cache_gb) / 2 + memory.RUNTIME_OVERHEAD_GB)
