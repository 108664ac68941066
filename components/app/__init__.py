"""The app layer: the RAG app (OGX 1.5.0) and its caching/guardrail gateway (LiteLLM proxy).

This package's public names are the pure, typed config generators: the Kubernetes components mount
``RenderedConfig.yaml`` and fill every env var in ``RenderedConfig.secret_env`` from a Secret, and the local
harness runs the same generators in environments without Pulumi, so importing this package must not import
Pulumi. The layer's ComponentResource (``AppLayer``, ``AppLayerArgs``, ``AppOutputs``) is in
``components.app.layer``, which only the composition root (infra/) imports.
"""

from components.app.common import EnvVarName, RenderedConfig
from components.app.gateway_config import GATEWAY_PLAIN_ENV, LITELLM_VERSION, build_gateway_config
from components.app.gateway_settings import (
    CacheSettings,
    GatewaySettings,
    GuardrailSettings,
    ModerationGuardrail,
    RedisSettings,
    Upstream,
)
from components.app.ogx_config import INFERENCE_PROVIDER_ID, OGX_VERSION, build_ogx_run_config
from components.app.ogx_settings import (
    AuthSettings,
    EmbeddingSettings,
    InferenceSettings,
    MilvusLite,
    MilvusRemote,
    RagAppSettings,
    ServerSettings,
    ShieldSettings,
    SqliteStorage,
    TlsFiles,
)

__all__ = [
    "GATEWAY_PLAIN_ENV",
    "INFERENCE_PROVIDER_ID",
    "LITELLM_VERSION",
    "OGX_VERSION",
    "AuthSettings",
    "CacheSettings",
    "EmbeddingSettings",
    "EnvVarName",
    "GatewaySettings",
    "GuardrailSettings",
    "InferenceSettings",
    "MilvusLite",
    "MilvusRemote",
    "ModerationGuardrail",
    "RagAppSettings",
    "RedisSettings",
    "RenderedConfig",
    "ServerSettings",
    "ShieldSettings",
    "SqliteStorage",
    "TlsFiles",
    "Upstream",
    "build_gateway_config",
    "build_ogx_run_config",
]
