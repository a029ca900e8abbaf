"""The DAG cross-run cache's activities: a node's output stored as an artifact under its cache
name, and read back (digest-verified by the store) by a later run (docs/dag.md#cache)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from temporalio import activity

from pit.artifacts.store import ArtifactStore
from pit.common.errors import NotFoundError
from pit.dag.cache_key import canonical_json
from pit.dag.protocol import CACHE_GET, CACHE_PUT, CacheEntry, CacheGet, CachePut, CacheStored

MEDIA_TYPE = "application/json"


class CacheActivities:
    """Bound to the worker's artifact store (or a function opening it on first use)."""

    def __init__(self, store: ArtifactStore | Callable[[], ArtifactStore]) -> None:
        self._store = store

    @property
    def store(self) -> ArtifactStore:
        return self._store if isinstance(self._store, ArtifactStore) else self._store()

    def all(self) -> list[Callable[..., Any]]:
        return [self.get, self.put]

    @activity.defn(name=CACHE_GET)
    async def get(self, request: CacheGet) -> CacheEntry:
        try:
            found = await self.store.get(request.name)
        except NotFoundError:
            return CacheEntry(found=False)
        manifest = found.manifest
        try:
            output = json.loads(found.data)
        except ValueError:  # not written by a run: ignore it, the node runs and stores anew
            return CacheEntry(found=False)
        run_id = manifest.metadata.get("pit.cache.run")
        return CacheEntry(
            found=True,
            output=output,
            run_id=run_id if isinstance(run_id, str) else None,
            stored_at=manifest.created_at,
            version=manifest.version,
        )

    @activity.defn(name=CACHE_PUT)
    async def put(self, request: CachePut) -> CacheStored:
        # canonical JSON: the same output is the same content, so it costs one blob
        data = canonical_json(request.output)
        result = await self.store.put(
            request.name, data, media_type=MEDIA_TYPE, metadata=dict(request.metadata)
        )
        return CacheStored(
            version=result.version, digest=result.digest, deduplicated=result.deduplicated
        )
