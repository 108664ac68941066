"""Capacity in users per day for a stated usage profile, from the output tokens/s a node sustains.

    users/day = sustained output tokens/s x 86,400
                / (requests per user per day x output tokens per request x peak-to-average ratio)

The node must carry the peak, so the daily average it can serve is its sustained rate divided by the
peak-to-average ratio. Only output tokens are scaled: a profile whose prompts are much longer than the
benchmark scenario's needs its own benchmark (prefill is not modelled).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True)
class UsageProfile:
    requests_per_user_per_day: float = 20.0
    output_tokens_per_request: float | None = None
    """None: the benchmark scenario's output tokens."""
    peak_to_average: float = 3.0

    def __post_init__(self) -> None:
        checks = (
            ("--requests-per-user-per-day", self.requests_per_user_per_day),
            ("--output-tokens-per-request", self.output_tokens_per_request),
        )
        for flag, value in checks:
            if value is not None and value <= 0:
                raise ValueError(f"{flag} must be positive, got {value:g}")
        if self.peak_to_average < 1:
            raise ValueError(f"--peak-to-average must be at least 1 (peak >= average), got {self.peak_to_average:g}")

    def tokens_per_request(self, scenario_output_tokens: float) -> float:
        return self.output_tokens_per_request or scenario_output_tokens

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> UsageProfile:
        if not data:
            return cls()
        keys = ("requests_per_user_per_day", "output_tokens_per_request", "peak_to_average")
        return cls(**{k: data[k] for k in keys if k in data})


def users_per_day(output_tokens_per_s: float, profile: UsageProfile, scenario_output_tokens: float) -> float:
    """Users a node sustaining `output_tokens_per_s` at peak serves per day under `profile`."""
    tokens_per_user_day = profile.requests_per_user_per_day * profile.tokens_per_request(scenario_output_tokens)
    return output_tokens_per_s * SECONDS_PER_DAY / (tokens_per_user_day * profile.peak_to_average)
