"""Kubernetes resource quantities, parsed once: CPU ("500m", "2", "1.5") and memory ("512Mi", "1Gi", "2G").

The one parser of the program: preflight validates config values with it and the components size what they
render from it (Redis' maxmemory, llama-server's threads). Forms as the Kubernetes API accepts them for CPU
and memory requests: a plain decimal number with an optional suffix, no spaces, no exponent notation.
"""

from __future__ import annotations

import re

_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18}
_MEMORY = re.compile(r"^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$")
_CPU = re.compile(r"^(\d+(?:\.\d+)?)(m?)$")


class QuantityError(ValueError):
    """A value that is not a Kubernetes quantity of the expected kind; the message names the accepted forms."""


def memory_bytes(quantity: str) -> int:
    """A memory quantity ("1Gi", "512Mi", "1G", "1073741824") in bytes; QuantityError for anything else
    (e.g. "1GB")."""
    match = _MEMORY.match(quantity)
    if not match:
        raise QuantityError(f"{quantity!r} is not a Kubernetes memory quantity; use e.g. 512Mi, 1Gi or 2G")
    number, suffix = match.groups()
    unit = _BINARY[suffix] if suffix in _BINARY else _DECIMAL[suffix or ""]
    return int(float(number) * unit)


def cpu_cores(quantity: str) -> float:
    """A CPU quantity ("500m", "1", "1.5") in cores; QuantityError for anything else."""
    match = _CPU.match(quantity)
    if not match:
        raise QuantityError(f"{quantity!r} is not a Kubernetes CPU quantity; use cores or millicores, e.g. 2 or 500m")
    number, milli = match.groups()
    return float(number) / 1000 if milli else float(number)


def is_memory_quantity(quantity: str) -> bool:
    return bool(_MEMORY.match(quantity))


def is_cpu_quantity(quantity: str) -> bool:
    return bool(_CPU.match(quantity))
