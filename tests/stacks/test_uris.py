"""The URIs a stack's config names, parsed once (stacks/uris.py)."""

from __future__ import annotations

import pytest

from stacks.uris import BucketUri, HubFile, PvcUri, UriError, parse_artifact_uri, parse_gguf_uri


@pytest.mark.parametrize(
    ("uri", "scheme", "folder", "prefix"),
    [
        ("s3://models/llama/w4a16/", "s3", "llama/w4a16", "s3://models/llama/w4a16"),
        ("gs://models/llama", "gs", "llama", "gs://models/llama"),
        ("s3://models", "s3", "", "s3://models"),
        ("s3://models/", "s3", "", "s3://models"),
    ],
)
def test_bucket_uris_name_their_scheme_folder_and_prefix(uri, scheme, folder, prefix):
    parsed = parse_artifact_uri(uri)
    assert isinstance(parsed, BucketUri)
    assert (parsed.scheme, parsed.folder, parsed.prefix) == (scheme, folder, prefix)


def test_pvc_uris_split_claim_and_path_and_check_the_claim_name():
    parsed = parse_artifact_uri("pvc://model-cache/llama/w8a8/")
    assert isinstance(parsed, PvcUri)
    assert (parsed.claim, parsed.path, parsed.claim_is_valid) == ("model-cache", "llama/w8a8", True)
    assert not parse_artifact_uri("pvc://Bad_Claim/x").claim_is_valid  # type: ignore[union-attr]
    assert not parse_artifact_uri("pvc:///x").claim_is_valid  # type: ignore[union-attr]


def test_other_artifact_schemes_are_rejected_naming_the_accepted_ones():
    with pytest.raises(UriError, match=r"s3://, gs:// or pvc://"):
        parse_artifact_uri("https://huggingface.co/x")


def test_gguf_uris_from_the_hub_or_a_claim():
    hub = parse_gguf_uri("hf://org/repo/sub/model.gguf")
    assert hub == HubFile(uri="hf://org/repo/sub/model.gguf", repo="org/repo", file="sub/model.gguf")
    pvc = parse_gguf_uri("pvc://models/smol/model.gguf")
    assert isinstance(pvc, PvcUri) and (pvc.claim, pvc.path) == ("models", "smol/model.gguf")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://bucket/model.gguf",  # not readable by llama-server
        "hf://org/model.gguf",  # no repo
        "hf://org/repo/model.bin",  # not a GGUF
        "pvc://models/model.bin",
        "pvc:///model.gguf",  # no claim: preflight and the component reject it alike
        "pvc://Bad_Claim/model.gguf",
    ],
)
def test_gguf_uris_that_llama_server_cannot_load_are_rejected(uri):
    with pytest.raises(UriError):
        parse_gguf_uri(uri)
