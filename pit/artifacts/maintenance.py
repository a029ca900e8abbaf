"""Whole-store operations: space statistics and index rebuild (verification: `verify`)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.manifest import Manifest
from pit.artifacts.results import ReindexReport, StoreStats
from pit.artifacts.text import MAX_INDEXED_BYTES
from pit.common.errors import IntegrityError, NotFoundError

if TYPE_CHECKING:
    from pit.artifacts.store import ArtifactStore


async def all_manifests(
    blobs: BlobStore, *, include_deleted: bool = False
) -> AsyncIterator[Manifest]:
    """Every live version of every artifact (with the soft-deleted ones if asked), by name
    then version."""
    async for name in blobs.list_names():
        deleted = set() if include_deleted else await blobs.deleted_versions(name)
        for version in await blobs.list_versions(name):
            if version in deleted:
                continue
            try:
                yield await blobs.get_manifest(name, version)
            except NotFoundError:
                continue  # purged while listed


async def stats(blobs: BlobStore) -> StoreStats:
    """Live versions and artifacts; stored bytes of every blob (soft-deleted versions keep
    theirs until purged)."""
    logical = versions = 0
    names: set[str] = set()
    async for manifest in all_manifests(blobs):
        logical += manifest.size
        versions += 1
        names.add(manifest.name)
    stored = count = 0
    async for blob in blobs.list_blobs():
        stored += blob.size
        count += 1
    return StoreStats(
        logical_bytes=logical,
        stored_bytes=stored,
        saved_bytes=max(0, logical - stored),
        blobs=count,
        artifacts=len(names),
        versions=versions,
    )


async def reindex(store: ArtifactStore) -> ReindexReport:
    """Drop the index and rebuild it from the manifests (and the text of text artifacts)."""
    await store.index.clear()
    indexed = 0
    names: set[str] = set()
    async for manifest in all_manifests(store.blobs):
        head = await read_head(store, manifest)
        await store.index.index(store.document(manifest, head))
        indexed += 1
        names.add(manifest.name)
    return ReindexReport(indexed=indexed, artifacts=len(names))


async def read_head(store: ArtifactStore, manifest: Manifest) -> bytes:
    """The first bytes of a version, enough for text extraction."""
    head = bytearray()
    stream = store.content_stream(manifest)
    try:
        async for piece in stream:
            head += piece
            if len(head) >= MAX_INDEXED_BYTES:
                break
    except (IntegrityError, NotFoundError):
        return b""  # `verify` reports it; the version stays findable by its metadata
    finally:
        with contextlib.suppress(Exception):
            await stream.aclose()  # type: ignore[attr-defined]
    return bytes(head[:MAX_INDEXED_BYTES])
