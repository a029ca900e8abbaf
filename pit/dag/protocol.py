"""Messages between a DAG run and the activities it calls for its own steps: the cross-run
cache's lookup and store (`pit.dag.cache_get`, `pit.dag.cache_put`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

CACHE_GET = "pit.dag.cache_get"
CACHE_PUT = "pit.dag.cache_put"


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CacheGet(_Message):
    """Look up the latest stored output under `name` (`pit.dag.cache_key.cache_artifact_name`)."""

    name: str


class CacheEntry(_Message):
    """What the store holds under a cache name: the workflow decides freshness itself (its
    clock, the ttl its file gives), so a found entry is returned however old."""

    found: bool
    output: Any = None
    run_id: str | None = None
    stored_at: datetime | None = None
    version: int | None = None


class CachePut(_Message):
    name: str
    output: Any = None
    metadata: dict[str, str]


class CacheStored(_Message):
    version: int
    digest: str
    deduplicated: bool
