"""Soft delete, restore, tier moves and purge of artifact versions (the Stale Manager's hands).

soft_delete  a tombstone per version (conditional create); manifest and blobs untouched
undelete     remove the tombstones and index the versions again
move_blobs   move blobs between tiers; each stays readable throughout
purge        expired tombstones: manifests then tombstones go; then mark and sweep blobs
             that no manifest (live or soft-deleted) references, never one written or
             touched after the mark; then what interrupted writes left a day ago or more
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pit.artifacts.blob_port import BlobInfo, BlobTier
from pit.artifacts.maintenance import all_manifests
from pit.artifacts.manifest import Manifest
from pit.artifacts.tombstone import Tombstone
from pit.common.errors import (
    ConflictError,
    IntegrityError,
    NotFoundError,
    PitError,
)
from pit.common.logging import get_logger

if TYPE_CHECKING:
    from pit.artifacts.store import ArtifactStore

log = get_logger("pit.artifacts")
BATCH = 1000
"""Keys per delete call (S3 DeleteObjects allows 1,000)."""
_PARALLEL = 16
LEFTOVER_AGE = timedelta(days=1)
"""Purge removes what interrupted writes left (`<store>/tmp`, S3 multipart uploads) once it
is this old: no write in progress takes a day."""


@dataclass(frozen=True)
class SoftDeleteResult:
    deleted: tuple[Tombstone, ...]
    skipped: tuple[tuple[str, int, str], ...]
    """(name, version, why) of versions that were not deleted."""


async def soft_delete(
    store: ArtifactStore,
    manifests: Sequence[Manifest],
    *,
    at: datetime,
    plan_id: str | None = None,
    reason: str = "",
) -> SoftDeleteResult:
    """Write one tombstone per version (a version deleted already is skipped) and drop the
    versions from the search index. Access records stay, for a restore."""
    limit = asyncio.Semaphore(_PARALLEL)

    async def one(manifest: Manifest) -> Tombstone | str:
        tombstone = Tombstone(
            name=manifest.name,
            version=manifest.version,
            digest=manifest.digest,
            deleted_at=at,
            plan_id=plan_id,
            reason=reason,
        )
        async with limit:
            try:
                await store.blobs.create_tombstone(tombstone)
            except ConflictError:
                return "deleted already"
            await _forget(store, manifest)
        return tombstone

    outcomes = await asyncio.gather(*(one(manifest) for manifest in manifests))
    deleted = tuple(outcome for outcome in outcomes if isinstance(outcome, Tombstone))
    skipped = tuple(
        (manifest.name, manifest.version, outcome)
        for manifest, outcome in zip(manifests, outcomes, strict=True)
        if isinstance(outcome, str)
    )
    return SoftDeleteResult(deleted, skipped)


async def _forget(store: ArtifactStore, manifest: Manifest) -> None:
    try:
        await store.index.remove(manifest.name, manifest.version)
    except PitError as error:  # derived data: reindex catches up
        log.warning("index still lists %s v%d: %s", manifest.name, manifest.version, error)


async def undelete(store: ArtifactStore, tombstones: Sequence[Tombstone]) -> int:
    """Remove tombstones (in batches) and index the versions again; the number restored."""
    keys = [tombstone.key for tombstone in tombstones]
    for start in range(0, len(keys), BATCH):
        await store.blobs.delete_tombstones(keys[start : start + BATCH])
    for name, version in keys:
        try:
            manifest = await store.blobs.get_manifest(name, version)
        except NotFoundError:
            continue
        try:
            await store.index.index(store.document(manifest, await store.read_head(manifest)))
        except PitError as error:  # derived data: reindex catches up
            log.warning("index not updated for %s v%d: %s", name, version, error)
    return len(keys)


async def tombstones(
    store: ArtifactStore, where: Callable[[Tombstone], bool] = lambda _: True
) -> list[Tombstone]:
    return [t async for t in store.blobs.list_tombstones() if where(t)]


@dataclass(frozen=True)
class BlobMove:
    digest: str
    from_tier: BlobTier
    to_tier: BlobTier
    bytes_before: int
    bytes_after: int


@dataclass(frozen=True)
class Moves:
    done: list[BlobMove]
    corrupt: list[str]
    """Blobs not moved because their stored copy failed its check (`pit artifact verify`
    says more; a move never copies bad bytes into another tier)."""


async def move_blobs(store: ArtifactStore, moves: Sequence[tuple[BlobInfo, BlobTier]]) -> Moves:
    """Move each blob to its tier (new copy first, then the old one goes); one that is gone
    is skipped, one that is corrupt is left where it is and reported."""
    limit = asyncio.Semaphore(_PARALLEL)

    async def one(info: BlobInfo, tier: BlobTier) -> BlobMove | str | None:
        async with limit:
            try:
                moved = await store.blobs.move_blob(info.digest, tier)
            except NotFoundError:
                return None  # purged meanwhile
            except IntegrityError as error:
                log.warning("blob %s not moved to %s: %s", info.digest, tier, error)
                return info.digest
        return BlobMove(info.digest, info.tier, tier, info.size, moved.size)

    done = await asyncio.gather(*(one(info, tier) for info, tier in moves if info.tier != tier))
    return Moves(
        done=[move for move in done if isinstance(move, BlobMove)],
        corrupt=sorted(move for move in done if isinstance(move, str)),
    )


@dataclass
class PurgeReport:
    manifests_removed: int = 0
    blobs_removed: int = 0
    bytes_freed: int = 0
    kept_recent: int = 0
    """Unreferenced blobs left because they were written or touched after the mark."""
    removed: list[tuple[str, int]] = field(default_factory=list)
    leftovers_removed: int = 0
    """Files of interrupted writes removed (local `tmp/`; S3 multipart uploads aborted)."""


async def purge(
    store: ArtifactStore,
    expired: Sequence[Tombstone],
    *,
    mark: datetime,
    min_blob_age: timedelta = timedelta(0),
) -> PurgeReport:
    """Remove the manifests of `expired` soft deletes, then sweep unreferenced blobs.

    `mark` is the wall-clock time taken before this call: a blob whose last write is at or
    after `mark - min_blob_age` is never swept (a concurrent put of the same bytes touches
    the blob before it writes its manifest). References are read twice, before and right
    before the deletes, and the blobs' times are read again then.
    """
    report = PurgeReport()
    keys = [tombstone.key for tombstone in expired]
    for start in range(0, len(keys), BATCH):
        batch = keys[start : start + BATCH]
        await store.blobs.delete_manifests(batch)  # manifest first: a crash leaves a stray
        await store.blobs.delete_tombstones(batch)  # tombstone, never a live resurrection
    report.manifests_removed = len(keys)
    report.removed = list(keys)
    cutoff = mark - min_blob_age
    stored = {info.digest: info async for info in store.blobs.list_blobs()}
    unreferenced = set(stored) - await _referenced(store)
    candidates = {d for d in unreferenced if _older(stored[d], cutoff)}
    report.kept_recent = len(unreferenced) - len(candidates)
    # again, right before deleting: a version created meanwhile, a blob touched meanwhile
    candidates &= await _sweepable(store, cutoff)
    candidates -= await _referenced(store)
    doomed = sorted(candidates)
    for start in range(0, len(doomed), BATCH):
        await store.blobs.delete_blobs(doomed[start : start + BATCH])
    report.blobs_removed = len(doomed)
    report.bytes_freed = sum(stored[digest].size for digest in doomed)
    report.leftovers_removed = await store.blobs.remove_leftovers(mark - LEFTOVER_AGE)
    return report


def _older(info: BlobInfo, cutoff: datetime) -> bool:
    return info.modified is not None and info.modified < cutoff


async def _sweepable(store: ArtifactStore, cutoff: datetime) -> set[str]:
    return {info.digest async for info in store.blobs.list_blobs() if _older(info, cutoff)}


async def _referenced(store: ArtifactStore) -> set[str]:
    return {
        digest
        async for manifest in all_manifests(store.blobs, include_deleted=True)
        for digest in manifest.blob_digests
    }
