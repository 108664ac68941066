"""The one error type the CLI reports without a traceback."""

from __future__ import annotations


class QuantizeError(Exception):
    """A problem the user can fix: the message names the option and what to do."""
