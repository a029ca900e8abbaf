"""Models, loaders and pool options as pydantic models: what a models file or config declares."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pit.common.validation import ByteSize, Duration, Seconds, check_name


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimulatedLoaderSpec(_Spec):
    """No real model: loading takes the model's `load_seconds` (virtual time in the simulator)."""

    kind: Literal["simulated"] = "simulated"


class PythonLoaderSpec(_Spec):
    """`factory` is `module:callable`; called with no arguments (sync or async), returns the
    handle. Health: the handle's `health()` if it has one; unload: its `close()` if any."""

    kind: Literal["python"] = "python"
    factory: str = Field(pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class HttpWarmRequest(_Spec):
    method: Literal["GET", "POST", "PUT"] = "POST"
    path: str = "/"
    body: str | None = None
    content_type: str = "application/json"


class HttpLoaderSpec(_Spec):
    """A model server: warm by one configured request, healthy while GET `health_path` is 2xx."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://[^/\s]+(/\S*)?$")
    warm: HttpWarmRequest = HttpWarmRequest()
    health_path: str = "/health"
    timeout: Duration = timedelta(seconds=30)
    health_timeout: Duration = timedelta(milliseconds=200)


LoaderSpec = Annotated[
    SimulatedLoaderSpec | PythonLoaderSpec | HttpLoaderSpec, Field(discriminator="kind")
]


class ModelSpec(_Spec):
    """One model the pool may hold. `memory_bytes` is reserved before loading starts."""

    id: str
    memory_bytes: ByteSize = Field(gt=0)
    load_seconds: Seconds = 0.0
    """Expected load time: what the simulated loader takes, and the prewarm lead time."""
    loader: LoaderSpec = SimulatedLoaderSpec()

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return check_name(value, "id")


class HealthOptions(_Spec):
    """k-of-n detection: a model is dead when `threshold` of its last `window` checks failed."""

    interval: Duration = timedelta(milliseconds=250)
    timeout: Duration = timedelta(milliseconds=200)
    window: int = Field(default=4, ge=1, le=64)
    threshold: int = Field(default=3, ge=1, le=64)
    recovery: Literal["reload", "cool"] = "reload"
    max_attempts: int = Field(default=3, ge=0)
    backoff: Duration = timedelta(milliseconds=500)


class PrewarmOptions(_Spec):
    enabled: bool = True
    min_probability: float = Field(default=0.5, gt=0, le=1)
    """A successor is prewarmed only when it followed this often."""
    bin_seconds: float = Field(default=60.0, gt=0)
    bins: int = Field(default=240, ge=2, le=10_000)
    min_samples: int = Field(default=4, ge=2)


class PoolConfig(_Spec):
    """The pool as configured: the proposed `[pool]` settings section."""

    memory_budget: ByteSize = Field(default=8 * 1024**3, ge=0)
    capacity_wait: Duration = timedelta(0)
    """How long an acquire waits for memory when nothing can be evicted; 0 fails at once."""
    models: tuple[ModelSpec, ...] = ()
    health: HealthOptions = HealthOptions()
    prewarm: PrewarmOptions = PrewarmOptions()

    @field_validator("models")
    @classmethod
    def _unique_ids(cls, models: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
        seen: set[str] = set()
        for model in models:
            if model.id in seen:
                raise ValueError(f"model id {model.id!r} is declared twice")
            seen.add(model.id)
        return models
