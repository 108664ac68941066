"""The W4A16 group-size rule: pick the largest valid size and say so, or reject naming --group-size."""

from __future__ import annotations

import pytest

from workloads.quantize.errors import QuantizeError
from workloads.quantize.group_size import largest_valid, quantized_input_sizes, resolve_group_size

LLAMA_128 = {"model.layers.0.self_attn.q_proj": 128, "model.layers.0.mlp.down_proj": 256}
LLAMA_64 = {"model.layers.0.self_attn.q_proj": 64, "model.layers.0.mlp.down_proj": 128}


def test_default_128_when_it_fits() -> None:
    choice = resolve_group_size(LLAMA_128, None)
    assert (choice.group_size, choice.automatic) == (128, True)
    assert "default" in choice.note


def test_hidden_smaller_than_128_picks_64_and_says_so() -> None:
    choice = resolve_group_size(LLAMA_64, None)
    assert (choice.group_size, choice.automatic) == (64, True)
    assert "chosen automatically" in choice.note and "--group-size" in choice.note and "64" in choice.note


def test_not_divisible_by_128_or_64_picks_32() -> None:
    assert resolve_group_size({"a": 96, "b": 288}, None).group_size == 32


def test_explicit_group_size_too_large_is_rejected_with_the_fix() -> None:
    with pytest.raises(QuantizeError) as err:
        resolve_group_size(LLAMA_64, 128)
    message = str(err.value)
    assert "--group-size 128 does not fit" in message
    assert "model.layers.0.self_attn.q_proj (input size 64)" in message
    assert "pass --group-size 64" in message
    assert "down_proj" not in message  # 128 divides 128: only the offending layer is named


def test_explicit_group_size_not_dividing_is_rejected() -> None:
    with pytest.raises(QuantizeError, match=r"--group-size 64 does not fit.*input size 96.*--group-size 32"):
        resolve_group_size({"a": 96, "b": 128}, 64)


def test_explicit_valid_group_size_is_kept() -> None:
    choice = resolve_group_size(LLAMA_128, 32)
    assert (choice.group_size, choice.automatic) == (32, False)


@pytest.mark.parametrize("bad", [0, -128])
def test_non_positive_group_size_is_rejected(bad: int) -> None:
    with pytest.raises(QuantizeError, match="--group-size must be a positive integer"):
        resolve_group_size(LLAMA_128, bad)


def test_no_supported_size_fits() -> None:
    with pytest.raises(QuantizeError, match=r"no supported group size \(128, 64, 32\).*input size 100.*--group-size N"):
        resolve_group_size({"a": 100, "b": 128}, None)


def test_largest_valid() -> None:
    assert largest_valid([64, 128]) == 64
    assert largest_valid([96, 288]) == 32
    assert largest_valid([384, 1024], limit=128) == 128
    assert largest_valid([7]) is None


def test_input_sizes_of_a_real_llama_skip_lm_head() -> None:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=300,
        hidden_size=64,
        intermediate_size=160,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    with torch.device("meta"):
        model = LlamaForCausalLM(config)
    sizes = quantized_input_sizes(model)
    assert len(sizes) == 2 * 7  # q, k, v, o, gate, up, down per layer
    assert sizes["model.layers.1.self_attn.q_proj"] == 64
    assert sizes["model.layers.1.mlp.down_proj"] == 160
    assert not any(name.endswith("lm_head") for name in sizes)
    # 160 is not a multiple of 64: the rule falls back to 32.
    assert resolve_group_size(sizes, None).group_size == 32
