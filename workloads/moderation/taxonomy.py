"""Llama Guard 3's hazard categories and the moderation category names this service reports for them.

Source: the Llama Guard 3 model card, "Hazard Taxonomy and Policy" (huggingface.co/meta-llama/Llama-Guard-3-8B;
the 1B model card lists the same S1-S14): 13 hazards of the MLCommons taxonomy plus Code Interpreter Abuse.
The names are the card's category titles in snake_case, as OpenAI moderation category keys are.
"""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "S1": "violent_crimes",
    "S2": "non_violent_crimes",
    "S3": "sex_related_crimes",
    "S4": "child_sexual_exploitation",
    "S5": "defamation",
    "S6": "specialized_advice",
    "S7": "privacy",
    "S8": "intellectual_property",
    "S9": "indiscriminate_weapons",
    "S10": "hate",
    "S11": "suicide_and_self_harm",
    "S12": "sexual_content",
    "S13": "elections",
    "S14": "code_interpreter_abuse",
}


def category_name(code: str) -> str:
    """The named key for a code; a code outside the taxonomy keeps its own name (e.g. "S15")."""
    return CATEGORIES.get(code, code)
