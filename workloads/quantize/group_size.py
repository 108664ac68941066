"""Choose a valid W4A16 group size for a model before any calibration time is spent.

Grouped quantization splits each weight row (the layer's input dimension) into groups of `group_size`
columns, each with its own scale. A group size larger than a layer's input size, or one that does not
divide it, fails in compressed-tensors (at quantization or at save time). The rule here:

- `--group-size N` given: N must divide every quantized layer's input size, else a clear error names the
  offending layers and the largest valid value.
- not given: the largest of 128, 64, 32 that divides every input size is used (128 is the usual default;
  vLLM's INT4 kernels support 32, 64 and 128), and a smaller choice is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from workloads.quantize.errors import QuantizeError
from workloads.quantize.recipes import DEFAULT_GROUP_SIZE, IGNORE

log = logging.getLogger(__name__)

AUTO_CANDIDATES = (DEFAULT_GROUP_SIZE, 64, 32)


@dataclass(frozen=True)
class GroupSizeChoice:
    group_size: int
    automatic: bool
    note: str


def quantized_input_sizes(model: object, ignore: Iterable[str] = IGNORE) -> dict[str, int]:
    """Input size (weight columns) of every Linear layer the recipes quantize, by module name."""
    import torch

    assert isinstance(model, torch.nn.Module)
    skip = tuple(ignore)
    return {
        name: int(module.in_features)
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name.split(".")[-1] not in skip
    }


def _fits(group_size: int, sizes: Iterable[int]) -> bool:
    return all(size >= group_size and size % group_size == 0 for size in sizes)


def largest_valid(sizes: Iterable[int], limit: int | None = None) -> int | None:
    """The largest group size (at most `limit`) that divides every size, preferring powers of two."""
    values = sorted(set(sizes))
    if not values:
        return None
    top = min(values) if limit is None else min(min(values), limit)
    powers = [p for p in (2**k for k in range(top.bit_length(), -1, -1)) if p <= top]
    for candidate in powers:
        if candidate > 1 and _fits(candidate, values):
            return candidate
    return None


def _describe(bad: Mapping[str, int], limit: int = 4) -> str:
    items = [f"{name} (input size {size})" for name, size in list(bad.items())[:limit]]
    more = len(bad) - limit
    return ", ".join(items) + (f" and {more} more" if more > 0 else "")


def resolve_group_size(sizes: Mapping[str, int], requested: int | None) -> GroupSizeChoice:
    """Validate `requested` (`--group-size`) or pick one; raise QuantizeError if none fits."""
    if not sizes:
        raise QuantizeError("the model has no Linear layers to quantize; check --model")
    hidden = min(sizes.values())
    if requested is not None:
        if requested <= 0:
            raise QuantizeError(f"--group-size must be a positive integer, got {requested}")
        bad = {n: s for n, s in sizes.items() if s < requested or s % requested}
        if bad:
            best = largest_valid(sizes.values())
            hint = (
                f"pass --group-size {best} (the largest power of two that divides every input size), "
                "or omit --group-size to pick one automatically"
                if best
                else "no power-of-two group size divides every input size; use the w8a8-int8 recipe instead"
            )
            raise QuantizeError(
                f"--group-size {requested} does not fit this model: a group must not exceed and must divide "
                f"each quantized layer's input size, but {_describe(bad)} do not; {hint}"
            )
        return GroupSizeChoice(requested, automatic=False, note=f"group size {requested} (from --group-size)")
    for candidate in AUTO_CANDIDATES:
        if _fits(candidate, sizes.values()):
            if candidate == DEFAULT_GROUP_SIZE:
                note = f"group size {candidate} (default)"
            else:
                note = (
                    f"group size {candidate} chosen automatically: the default {DEFAULT_GROUP_SIZE} does not "
                    f"divide every quantized layer's input size (smallest is {hidden}); "
                    "pass --group-size to choose another"
                )
            return GroupSizeChoice(candidate, automatic=True, note=note)
    bad = {n: s for n, s in sizes.items() if not _fits(AUTO_CANDIDATES[-1], [s])}
    raise QuantizeError(
        f"no supported group size ({', '.join(map(str, AUTO_CANDIDATES))}) divides every quantized layer's "
        f"input size: {_describe(bad)}; pass --group-size N with N dividing all of them, "
        "or use the w8a8-int8 recipe (per-channel, no groups)"
    )
