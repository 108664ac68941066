"""Parse Llama Guard 3's answer and turn it into one OpenAI moderation result.

Llama Guard answers "safe", or "unsafe" followed by a line of comma-separated category codes ("S1,S10").
Anything else is not a verdict: ``UnparseableOutput`` (the service then fails closed, never "not flagged").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from workloads.moderation.taxonomy import CATEGORIES, category_name

_CODE = re.compile(r"S\d{1,2}", re.IGNORECASE)


class UnparseableOutput(ValueError):
    """The safety model's answer is not in Llama Guard's output format."""


@dataclass(frozen=True)
class Verdict:
    flagged: bool
    codes: tuple[str, ...] = ()
    """Llama Guard's codes as it gave them (upper case, duplicates dropped), in its order."""


def parse_llama_guard(text: str) -> Verdict:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines:
        raise UnparseableOutput("empty answer")
    head = lines[0].lower()
    if head == "safe" and len(lines) == 1:
        return Verdict(flagged=False)
    if head != "unsafe" or len(lines) > 2:
        raise UnparseableOutput(f"expected 'safe' or 'unsafe' and a line of codes, got {_excerpt(text)}")
    if len(lines) == 1:
        return Verdict(flagged=True)  # unsafe without a category: still blocked, with no name to give
    codes: list[str] = []
    for part in lines[1].split(","):
        code = part.strip().upper()
        if not _CODE.fullmatch(code):
            raise UnparseableOutput(f"expected category codes like S1,S10 after 'unsafe', got {_excerpt(text)}")
        if code not in codes:
            codes.append(code)
    return Verdict(flagged=True, codes=tuple(codes))


def moderation_result(verdict: Verdict) -> dict[str, Any]:
    """One entry of the OpenAI moderation ``results`` list: every named category (true for the flagged
    ones), scores of 1.0/0.0 (Llama Guard gives no score here), the input type each applies to (text; LiteLLM's
    response model requires the field), and the raw codes in ``llama_guard_codes``."""
    names = list(CATEGORIES.values()) + [category_name(c) for c in verdict.codes if c not in CATEGORIES]
    hit = {category_name(c) for c in verdict.codes}
    return {
        "flagged": verdict.flagged,
        "categories": {name: name in hit for name in names},
        "category_scores": {name: 1.0 if name in hit else 0.0 for name in names},
        "category_applied_input_types": {name: ["text"] for name in names},
        "llama_guard_codes": list(verdict.codes),
    }


def _excerpt(text: str, limit: int = 80) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")
