"""The serving layer: vLLM model servers, the llama.cpp CPU tier and, in llm-d mode, the inference gateway."""

from components.serving.layer import ModelServing, ModelServingArgs, RerankerEndpoint, ServingOutputs
from components.serving.resolve import ServingSite, fallbacks, served_roles

__all__ = [
    "ModelServing",
    "ModelServingArgs",
    "RerankerEndpoint",
    "ServingOutputs",
    "ServingSite",
    "fallbacks",
    "served_roles",
]
