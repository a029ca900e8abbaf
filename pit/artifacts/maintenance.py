"""Whole-store operations: space statistics and index rebuild (verification: `verify`)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.manifest import Manifest
from pit.artifacts.results import StoreStats
from pit.common.errors import NotFoundError


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
