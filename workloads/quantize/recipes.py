"""The named quantization recipes and the LLM Compressor modifiers that implement them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workloads.quantize.errors import QuantizeError

# Layers never quantized: the output head stays in 16-bit in every recipe (accuracy; vLLM expects it).
IGNORE = ("lm_head",)


@dataclass(frozen=True)
class Recipe:
    name: str
    description: str
    preset: str
    """compressed-tensors preset scheme name."""
    calibrated: bool
    """Whether the recipe needs calibration data (False: data-free, no calibration pass)."""
    min_compute_capability: float
    """The lowest CUDA compute capability whose vLLM kernels run this format."""
    fp8: bool = False
    grouped: bool = False
    """Whether weights are quantized in groups along the input dimension (`--group-size` applies)."""


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="w8a8-int8",
            description="INT8 weights (per channel), INT8 dynamic per-token activations; SmoothQuant + GPTQ",
            preset="W8A8",
            calibrated=True,
            min_compute_capability=7.5,
        ),
        Recipe(
            name="fp8-dynamic",
            description="FP8 weights (per channel) and FP8 dynamic per-token activations; no calibration",
            preset="FP8_DYNAMIC",
            calibrated=False,
            min_compute_capability=8.9,
            fp8=True,
        ),
        Recipe(
            name="w4a16",
            description="INT4 weights in groups, 16-bit activations; GPTQ",
            preset="W4A16",
            calibrated=True,
            min_compute_capability=8.0,
            grouped=True,
        ),
    )
}

DEFAULT_GROUP_SIZE = 128
SMOOTHING_STRENGTH = 0.8


def get_recipe(name: str) -> Recipe:
    try:
        return RECIPES[name]
    except KeyError:
        raise QuantizeError(f"unknown --recipe {name!r}; choose one of: {', '.join(RECIPES)}") from None


def build_modifiers(recipe: Recipe, group_size: int | None = None) -> list[Any]:
    """The LLM Compressor modifiers for `recipe`; `group_size` is required for grouped recipes."""
    from compressed_tensors.quantization import preset_name_to_scheme
    from llmcompressor.modifiers.quantization import GPTQModifier, QuantizationModifier
    from llmcompressor.modifiers.transform import SmoothQuantModifier

    ignore = list(IGNORE)
    if recipe.name == "w8a8-int8":
        return [
            SmoothQuantModifier(smoothing_strength=SMOOTHING_STRENGTH),
            GPTQModifier(targets="Linear", scheme=recipe.preset, ignore=ignore),
        ]
    if recipe.name == "fp8-dynamic":
        return [QuantizationModifier(targets="Linear", scheme=recipe.preset, ignore=ignore)]
    if recipe.name == "w4a16":
        if group_size is None:
            raise ValueError("w4a16 needs a resolved group size")
        scheme = preset_name_to_scheme(recipe.preset, ["Linear"])
        assert scheme.weights is not None
        scheme.weights.group_size = group_size
        return [GPTQModifier(config_groups={"group_0": scheme}, ignore=ignore)]
    raise QuantizeError(f"recipe {recipe.name!r} has no modifiers defined")
