"""The serving layer: vLLM model servers, the llama.cpp CPU tier and, in llm-d mode, the inference gateway."""

from components.serving.layer import ModelServing, ModelServingArgs, build_serving_layer, stack_outputs

__all__ = ["ModelServing", "ModelServingArgs", "build_serving_layer", "stack_outputs"]
