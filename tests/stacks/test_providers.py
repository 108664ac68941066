"""Provider settings (the config keys outside leanrag:): unknown keys and namespaces, and one source of truth for
the region and GCP's project, reported with the schema and preflight problems."""

from __future__ import annotations

import pytest

from stacks.load import parse
from stacks.preflight import PreflightError
from stacks.providers import ANY_KEY, ProviderSettings, check_keys

KNOWN = {"aws": frozenset({"region", "profile"}), "gcp": frozenset({"region", "project"}), "pulumi": ANY_KEY}
AWS = {
    "cloud": "aws",
    "region": "us-east-1",
    "cluster": {"gpuPools": [{"name": "gpu", "instanceType": "g6.xlarge", "maxNodes": 2}]},
}
GCP = {
    "cloud": "gcp",
    "region": "us-central1",
    "cluster": {
        "gcp": {"project": "p1"},
        "systemPool": {"name": "system", "instanceType": "n2-standard-8"},
        "gpuPools": [{"name": "gpu", "instanceType": "g2-standard-8"}],
    },
}


def problems(raw: dict, values: dict[str, str]) -> list[str]:
    try:
        parse(raw, providers=ProviderSettings(values=values, known_keys=KNOWN))
    except PreflightError as e:
        return [f"{p.key}: {p.message} | {p.fix}" for p in e.problems]
    return []


def test_a_typo_in_a_provider_key_is_refused_with_the_likely_key():
    (found,) = problems(AWS, {"aws:region": "us-east-1", "aws:regoin": "us-east-2"})
    assert (
        found.startswith("aws:regoin: the aws provider has no setting 'regoin'") and "did you mean aws:region?" in found
    )


def test_a_key_without_a_close_match_lists_what_the_provider_reads():
    (found,) = problems(AWS, {"aws:colour": "blue"})
    assert "remove it; the aws provider reads: profile, region" in found


def test_a_misspelt_namespace_is_refused():
    (found,) = problems(AWS, {"leanrg:region": "us-east-1"})
    assert found.startswith("leanrg:region: no provider of this program reads the namespace 'leanrg'")
    assert "did you mean leanrag:region?" in found


def test_engine_settings_are_not_checked():
    assert problems(AWS, {"pulumi:tags": "{}", "pulumi:disable-default-providers": "[]"}) == []


@pytest.mark.parametrize(
    ("raw", "values", "expected"),
    [
        (AWS, {"aws:region": "us-west-2"}, "aws:region: aws:region is 'us-west-2' but leanrag:region is 'us-east-1'"),
        (GCP, {"gcp:region": "europe-west4"}, "gcp:region: gcp:region is 'europe-west4' but leanrag:region"),
        (GCP, {"gcp:project": "p2"}, "gcp:project: gcp:project is 'p2' but leanrag:cluster.gcp.project is 'p1'"),
    ],
)
def test_the_provider_and_the_program_must_name_the_same_region_and_project(raw, values, expected):
    found = problems(raw, values)
    assert any(p.startswith(expected) for p in found), found


def test_agreeing_or_absent_provider_settings_pass():
    assert problems(AWS, {"aws:region": "us-east-1"}) == []
    assert problems(AWS, {}) == []
    assert problems(GCP, {"gcp:region": "us-central1", "gcp:project": "p1"}) == []


def test_provider_problems_come_with_schema_and_preflight_problems():
    raw = {**AWS, "monthlyBudgetUsd": "lots", "jobs": {"ingest": {"sourceUri": "gs://docs"}}}
    found = problems(raw, {"aws:regoin": "x", "aws:region": "us-west-2"})
    joined = "\n".join(found)
    assert "aws:regoin" in joined  # provider key
    assert "leanrag:monthlyBudgetUsd: Input should be a valid integer" in joined  # schema
    assert "leanrag:jobs.ingest.sourceUri: 'gs://docs' is not a s3:// URI" in joined  # preflight on the valid part
    assert "aws:region: aws:region is 'us-west-2'" in joined  # agreement on the valid part


def test_check_keys_is_sorted_and_independent_of_the_schema():
    settings = ProviderSettings(values={"gcp:zzz": "1", "aws:aaa": "1"}, known_keys=KNOWN)
    assert [p.key for p in check_keys(settings)] == ["aws:aaa", "gcp:zzz"]
