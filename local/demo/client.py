"""The demo's clients: the stack's outputs pointed at this machine, and OpenAI-SDK clients built from them the way
`leanrag client-env` builds them (`infra.client_env.openai_client_for(outputs)`: base URL, key, model for the
gateway and the app), with the operator's keys: the local stack declares no clients.

`local_outputs(demo)` is what `pulumi stack output --json --show-secrets` would print for the local stack if its
Services were these local ports: the rendered outputs with every in-cluster URL translated (local/site.py) and the
gateway's key, which the outputs hold as a secret, resolved the way the gateway resolves it (its config's
`general_settings.master_key` reference, filled from the gateway container's env).
"""

from __future__ import annotations

from typing import Any

import yaml
from openai import OpenAI

from infra.client_env import OpenAIClient, openai_client_for
from local.demo.context import Demo, StepError
from local.demo.processes import image_name

GATEWAY_IMAGE = "litellm-non_root"
APP_IMAGE = "distribution-starter"
LITELLM_ENV_REF = "os.environ/"


def _gateway_key(demo: Demo) -> str:
    site = demo.site
    gateway = next(c for c in demo.rendered.containers if image_name(c.image) == GATEWAY_IMAGE and not c.init)
    config_path = gateway.args[gateway.args.index("--config") + 1]
    config = yaml.safe_load(site.mounted_config(gateway, config_path))
    ref = str(config["general_settings"]["master_key"])
    if not ref.startswith(LITELLM_ENV_REF):
        raise StepError("the rendered gateway config holds its master key in plain text, not as os.environ/NAME")
    return site.env(gateway)[ref.removeprefix(LITELLM_ENV_REF)]


def local_outputs(demo: Demo) -> dict[str, Any]:
    """The stack's outputs as a client on this machine sees them (see the module docstring)."""

    def translate(value: Any) -> Any:
        if isinstance(value, str):
            return demo.site.url(value)
        if isinstance(value, dict):
            return {k: translate(v) for k, v in value.items()}
        if isinstance(value, list):
            return [translate(v) for v in value]
        return value

    keep = ("servedModels", "gatewayBaseUrl", "ragAppUrl", "ragAppApiKey", "vectorStoreName", "openaiBaseUrl")
    outputs = {k: translate(demo.rendered.outputs.get(k)) for k in keep}
    if outputs["ragAppApiKey"] is not None:
        raise StepError("the local stack turns the app's auth on (platform.app.auth): the demo's client has no key")
    outputs["gatewayMasterKey"] = _gateway_key(demo)
    return outputs


def chat_model(demo: Demo) -> str:
    """The app's chat model: the llm its rendered run config registers (servedModels starts with the embedding
    model on stacks that serve one)."""
    app = next(c for c in demo.rendered.containers if image_name(c.image) == APP_IMAGE and not c.init)
    config = yaml.safe_load(demo.site.mounted_config(app, app.command[-1]))
    models = config.get("registered_resources", {}).get("models", [])
    llms = [m["provider_model_id"] for m in models if m.get("model_type") == "llm"]
    if not llms:
        raise StepError("the rendered app config registers no chat model (registered_resources.models)")
    return str(llms[0])


def clients(demo: Demo) -> tuple[dict[str, OpenAIClient], dict[str, OpenAI]]:
    """The settings and the OpenAI-SDK clients of the gateway and the app (retries off: the demo reports errors)."""
    settings = openai_client_for(local_outputs(demo), model=chat_model(demo), operator=True)
    sdk = {}
    for name, client in settings.items():
        kwargs = client.openai_kwargs()
        sdk[name] = OpenAI(base_url=kwargs["base_url"], api_key=kwargs["api_key"], max_retries=0, timeout=300)
    return settings, sdk
