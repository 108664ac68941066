"""Kubernetes quantities: the one parser preflight and the components share."""

from __future__ import annotations

import pytest

from stacks.quantity import QuantityError, cpu_cores, is_cpu_quantity, is_memory_quantity, memory_bytes


@pytest.mark.parametrize(
    ("quantity", "expected"),
    [
        ("1Gi", 2**30),
        ("512Mi", 512 * 2**20),
        ("1G", 10**9),
        ("1.5Gi", int(1.5 * 2**30)),
        ("1048576", 2**20),
        ("128k", 128_000),
    ],
)
def test_memory_quantities(quantity, expected):
    assert memory_bytes(quantity) == expected


@pytest.mark.parametrize("bad", ["1GB", "lots", "-1Gi", ""])
def test_memory_quantity_errors_name_the_accepted_forms(bad):
    with pytest.raises(ValueError, match="512Mi, 1Gi or 2G"):
        memory_bytes(bad)


@pytest.mark.parametrize(("quantity", "cores"), [("500m", 0.5), ("2", 2.0), ("1.5", 1.5), ("1500m", 1.5)])
def test_cpu_quantities(quantity, cores):
    assert cpu_cores(quantity) == cores and is_cpu_quantity(quantity)


@pytest.mark.parametrize("bad", ["2 cores", "500M", "-1", "1e3", "", " 2"])
def test_cpu_quantity_errors_name_the_accepted_forms(bad):
    assert not is_cpu_quantity(bad)
    with pytest.raises(QuantityError, match=r"cores or millicores, e\.g\. 2 or 500m"):
        cpu_cores(bad)


def test_one_parser_accepts_the_same_memory_units_everywhere():
    """Preflight (model memory, platform resources) and Redis' maxmemory read quantities with this parser: the
    large units that Kubernetes accepts are accepted in both places, and spaces in neither."""
    assert memory_bytes("1Pi") == 2**50 and is_memory_quantity("2E")
    assert not is_memory_quantity(" 1Gi") and not is_memory_quantity("1Gi ")
