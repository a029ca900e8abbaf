"""The change log: one write-once record per put, soft delete, restore and purge, so every
machine's index learns what any machine changed (`log/<hour>/<µs>-<writer>-<seq>.json`).

A record names the versions that changed, not what they became: applying it reads each
version's state from the store (manifest, tombstone) and sets the index to match, so records
can be applied in any order, twice, or late, with the same result. Records older than
`LOG_KEEP` are removed by purge; an index that has not caught up for that long rebuilds from
the manifests instead.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal, Protocol

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.follow import Fetched
from pit.artifacts.index_port import IndexDocument, SearchIndex
from pit.artifacts.maintenance import all_manifests
from pit.artifacts.manifest import Manifest
from pit.artifacts.records import RecordStore, stamp_of
from pit.common.errors import IntegrityError, NotFoundError, PitError
from pit.common.logging import get_logger

log = get_logger("pit.artifacts")
LOG_PREFIX = "log/"
LOG_KEEP = timedelta(days=30)
"""Change records are kept this long; an index further behind rebuilds from the manifests."""
ChangeKind = Literal["put", "delete", "restore", "purge"]
_SCHEMA = 1

Key = tuple[str, int]


class StoreView(Protocol):
    """What the change log needs of an `ArtifactStore` (which imports this module)."""

    blobs: BlobStore
    index: SearchIndex
    records: RecordStore

    def document(self, manifest: Manifest, head: bytes) -> IndexDocument: ...

    async def read_head(self, manifest: Manifest) -> bytes: ...


def change_bytes(kind: ChangeKind, keys: Sequence[Key]) -> bytes:
    body = {"schema": _SCHEMA, "kind": kind, "keys": [[name, version] for name, version in keys]}
    return json.dumps(body, separators=(",", ":")).encode()


def parse_change(data: bytes, key: str) -> list[Key]:
    """The versions a stored change record names; IntegrityError when it is not one."""
    try:
        body = json.loads(data)
        return [(str(name), int(version)) for name, version in body["keys"]]
    except (ValueError, TypeError, KeyError) as error:
        raise IntegrityError(f"change record {key} is corrupt: {error}", key=key) from None


async def apply_changes(store: StoreView, fetched: Sequence[Fetched]) -> None:
    """Set the index to the store's state of every version the records name."""
    pending: dict[Key, None] = {}
    for key, data in fetched:
        if data is None:
            continue  # compacted away after it was listed: a newer record or a rebuild covers it
        try:
            pending.update(dict.fromkeys(parse_change(data, key)))
        except IntegrityError as error:
            log.warning("%s (skipped: `pit artifact reindex` rebuilds from the manifests)", error)
    for name, version in pending:
        await resync(store, name, version)


async def resync(store: StoreView, name: str, version: int) -> None:
    """Index (name, version) as the store holds it now: its document if it is live, none if
    it is deleted or gone."""
    try:
        if version in await store.blobs.deleted_versions(name):
            raise NotFoundError(f"{name} v{version} is deleted")
        manifest = await store.blobs.get_manifest(name, version)
    except NotFoundError:
        await store.index.remove(name, version)
        return
    except IntegrityError as error:
        log.warning("%s v%d not indexed: %s", name, version, error)
        return
    await store.index.index(store.document(manifest, await store.read_head(manifest)))


async def index_every_version(store: StoreView) -> tuple[int, int]:
    """Index every live version (documents of versions deleted meanwhile stay until their
    change record or a reindex removes them); (versions, artifacts)."""
    indexed = 0
    names: set[str] = set()
    async for manifest in all_manifests(store.blobs):
        await store.index.index(store.document(manifest, await store.read_head(manifest)))
        indexed += 1
        names.add(manifest.name)
    return indexed, len(names)


async def compact(store: StoreView, before_micros: int) -> int:
    """Remove change records made before `before_micros`; how many."""
    old = [
        key
        async for key in store.records.list_records(LOG_PREFIX)
        if (stamp_of(key) or before_micros) < before_micros
    ]
    try:
        for start in range(0, len(old), 1000):
            await store.records.delete_records(old[start : start + 1000])
    except PitError as error:  # the log only grows: the next purge tries again
        log.warning("old change records not removed: %s", error)
        return 0
    return len(old)
