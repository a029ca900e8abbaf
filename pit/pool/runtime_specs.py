"""How a models file names a model runtime (Ollama, vLLM, llama.cpp's `llama-server`): its
kind, its URL and what the runtime calls the model. The loaders are in
`pit.infra.model_runtimes`; the endpoints each one uses are documented there."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pit.common.validation import ByteSize, Duration

_URL = r"^https?://[^/\s]+(/\S*)?$"


class _RuntimeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timeout: Duration = timedelta(minutes=10)
    """How long a load, wake or unload may take before it counts as failed."""
    health_timeout: Duration = timedelta(seconds=2)


class OllamaLoaderSpec(_RuntimeSpec):
    """A model in an Ollama server: loaded by a request with `keep_alive`, unloaded with
    `keep_alive: 0`; its memory is what `/api/ps` reports once loaded."""

    kind: Literal["ollama"] = "ollama"
    url: str = Field(default="http://127.0.0.1:11434", pattern=_URL)
    model: str | None = Field(default=None, min_length=1, max_length=256)
    """The name Ollama knows it by (`llama3.2:3b`); default: the pool's model id."""
    keep_alive: str | int = -1
    """Sent with the load: -1 keeps it loaded until the pool unloads it (`5m`, seconds...)."""


class VllmLoaderSpec(_RuntimeSpec):
    """A vLLM server (one model; started with `--enable-sleep-mode` and
    `VLLM_SERVER_DEV_MODE=1`): the pool's cooling tier is its level-1 sleep, unloading is
    its level-2 sleep."""

    kind: Literal["vllm"] = "vllm"
    url: str = Field(pattern=_URL)
    host_memory_bytes: ByteSize | None = Field(default=None, gt=0)
    """Host memory the model holds asleep at level 1 (its weights); default: `memory_bytes`."""


class LlamaCppLoaderSpec(_RuntimeSpec):
    """A model of a `llama-server` in router mode: loaded and unloaded by its
    `/models/load` and `/models/unload`."""

    kind: Literal["llamacpp"] = "llamacpp"
    url: str = Field(default="http://127.0.0.1:8080", pattern=_URL)
    model: str | None = Field(default=None, min_length=1, max_length=512)
    """The id `GET /models` lists it under; default: the pool's model id."""
    poll_interval: Duration = timedelta(milliseconds=250)
    """How often a load in progress is checked on `GET /models`."""
