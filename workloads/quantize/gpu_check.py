"""Reject a recipe the target GPU cannot serve, before any GPU time is spent."""

from __future__ import annotations

from workloads.quantize.errors import QuantizeError
from workloads.quantize.recipes import RECIPES, Recipe


def check_target_gpu(recipe: Recipe, target_gpu: str) -> str:
    """Raise QuantizeError if `target_gpu` (a catalog name) cannot run `recipe`; return a summary line."""
    from stacks.catalog import gpus

    catalog = gpus()
    spec = catalog.get(target_gpu)
    if spec is None:
        raise QuantizeError(f"unknown --target-gpu {target_gpu!r}; known GPUs: {', '.join(sorted(catalog))}")
    cc = spec.compute_capability
    if (recipe.fp8 and not spec.fp8) or cc < recipe.min_compute_capability:
        able = sorted(n for n, g in catalog.items() if g.compute_capability >= recipe.min_compute_capability)
        others = [r.name for r in RECIPES.values() if cc >= r.min_compute_capability and not (r.fp8 and not spec.fp8)]
        need = "FP8 support" if recipe.fp8 else "kernels for this format"
        raise QuantizeError(
            f"--recipe {recipe.name} needs compute capability {recipe.min_compute_capability} or higher "
            f"({need}), but --target-gpu {target_gpu} has {cc}. Choose a recipe it can run "
            f"({', '.join(others) or 'none'}) or a GPU that can run {recipe.name} ({', '.join(able)})"
        )
    return f"{target_gpu} (compute capability {cc}, {spec.memory_gb:g} GB) can run {recipe.name}"
