"""cluster.ephemeral: a review stack (the benchmark workflow's) that `pulumi destroy` removes whole; every other
stack keeps its bucket and GKE's deletion protection."""

import pytest

from tests.renderkit import run_stack, run_variant, stack_values

BUCKETS = {"dev": "aws:s3/bucket:Bucket", "prod": "gcp:storage/bucket:Bucket"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_stacks_keep_their_bucket_and_cluster_by_default(stack):
    run = run_stack(stack)
    assert run.one(BUCKETS[stack]).inputs["forceDestroy"] is False
    if stack == "prod":
        assert run.one("gcp:container/cluster:Cluster").inputs["deletionProtection"] is True


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_an_ephemeral_stack_can_be_destroyed_whole(stack):
    values = stack_values(stack)
    values["cluster"] = {**values["cluster"], "ephemeral": True}
    run = run_variant(values, {"hfToken": "hf_x"})
    assert run.one(BUCKETS[stack]).inputs["forceDestroy"] is True
    if stack == "prod":
        assert run.one("gcp:container/cluster:Cluster").inputs["deletionProtection"] is False
