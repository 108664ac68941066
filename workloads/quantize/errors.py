"""The quantize job's error type: a UserError, reported by the CLI without a traceback."""

from __future__ import annotations

from workloads.artifacts.errors import UserError


class QuantizeError(UserError):
    """A problem the user can fix: the message names the option and what to do."""
