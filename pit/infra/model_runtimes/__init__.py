"""Model runtimes as pool loaders: Ollama, vLLM (sleep mode as the cooling tier) and
llama.cpp's `llama-server` (router mode), each over its documented HTTP API."""

from __future__ import annotations

from collections.abc import Mapping

from pit.infra.model_runtimes.llamacpp import LlamaCppLoader
from pit.infra.model_runtimes.ollama import OllamaLoader
from pit.infra.model_runtimes.vllm import VllmLoader
from pit.pool.loader import ModelLoader, default_loaders

__all__ = ["LlamaCppLoader", "OllamaLoader", "VllmLoader", "runtime_loaders"]


def runtime_loaders() -> Mapping[str, ModelLoader]:
    """Every `loader.kind` a models file may name: the pool's own and the runtimes'."""
    return {
        **default_loaders(),
        "ollama": OllamaLoader(),
        "vllm": VllmLoader(),
        "llamacpp": LlamaCppLoader(),
    }
