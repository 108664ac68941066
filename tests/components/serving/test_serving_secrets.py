"""The API key and the Hugging Face token reach pods only through Secrets, never as plain text."""

from __future__ import annotations

import json

from infra.mocks import REDACTED, mock_secret, redact
from tests.renderkit import container, dev, obj, prod, resource_named, run_variant, stack_values

HF_TOKEN = "hf_SENTINELtokenNeverInPlainText42"


def plain_inputs(run) -> str:
    """Every resource's inputs with the secret-wrapped values removed, as one text."""
    return json.dumps([redact(r.inputs) for r in run.resources], default=str)


def test_the_api_key_value_appears_in_no_rendered_object():
    for run, stack in ((dev(), "dev"), (prod(), "prod")):
        key = mock_secret(f"leanrag-{stack}-api-key")
        assert resource_named(run, f"leanrag-{stack}-api-key", "RandomPassword").type.startswith("random:")
        assert key not in plain_inputs(run)
        assert key not in json.dumps(run.outputs, default=str)


def test_the_api_key_secret_holds_the_generated_password_as_a_secret_value():
    run = dev()
    secret = resource_named(run, "leanrag-dev-api-key", ":Secret")
    assert secret.inputs["metadata"]["name"] == "serving-api-key"
    assert mock_secret("leanrag-dev-api-key") in json.dumps(secret.inputs, default=str)  # only wrapped
    assert redact(secret.inputs)["stringData"] == {"api-key": REDACTED}


def test_pods_read_the_api_key_from_the_secret():
    env = container(obj(dev(), "Deployment", "llama-3-1-8b"))["env"]
    assert {
        "name": "VLLM_API_KEY",
        "valueFrom": {"secretKeyRef": {"name": "serving-api-key", "key": "api-key"}},
    } in env


def test_the_hugging_face_token_appears_in_no_rendered_object():
    vals = stack_values("prod")
    run = run_variant(vals, {"hfToken": HF_TOKEN})
    assert HF_TOKEN not in plain_inputs(run)
    assert HF_TOKEN not in json.dumps(run.outputs, default=str)
    secret = resource_named(run, "leanrag-test-hf-token", ":Secret")
    assert HF_TOKEN in json.dumps(secret.inputs, default=str)  # present, but only as a secret value
    token = {"name": "HF_TOKEN_PATH", "value": "/var/run/secrets/leanrag/hf-token-path"}
    for model in ("llama-3-1-8b", "llama-guard-3-1b", "all-minilm-l6-v2"):  # the prefetch Jobs read it ...
        job = obj(run, "Job", f"prefetch-{model}")
        c = container(job)
        assert token in c["env"] and not any("valueFrom" in e for e in c["env"])  # a file, never a variable
        [mount] = [m for m in c["volumeMounts"] if m["mountPath"] == token["value"]]
        [volume] = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == mount["name"]]
        [source] = volume["projected"]["sources"]
        assert source["secret"] == {"name": "hf-token", "items": [{"key": "token", "path": mount["subPath"]}]}
        # ... the model servers never: their weights come from the bucket
        assert "HF_TOKEN" not in json.dumps(obj(run, "Deployment", model))


def test_no_token_secret_without_the_hf_token_or_a_hub_download():
    assert not [r for r in dev().resources if r.name.endswith("-hf-token")]
    vals = stack_values("prod")
    for m in vals["serving"]["models"]:
        m["artifactUri"] = f"gs://leanrag-models/{m['name']}"
    vals["serving"]["embedding"] = {"artifactUri": "gs://leanrag-models/minilm"}
    vals["jobs"] = {"benchmark": {"enabled": False}}  # its tokenizer download would need the token
    run = run_variant(vals, {"hfToken": HF_TOKEN})
    assert not [r for r in run.resources if r.name.endswith("-hf-token")]
    assert not [r for r in run.of_type("kubernetes:batch/v1:Job") if "prefetch" in r.name]  # nothing to copy
