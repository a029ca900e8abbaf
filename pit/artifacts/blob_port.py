"""The blob-store port: content-addressed blobs and immutable version manifests."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from pit.artifacts.manifest import Manifest
from pit.artifacts.tombstone import Tombstone

BlobSource = bytes | AsyncIterable[bytes]
"""Content to store: bytes in memory, or a stream of pieces (never read whole)."""


BlobTier = Literal["hot", "warm", "cold"]
"""Where a blob's bytes sit: S3 storage classes, or local tier directories (cold compressed)."""
BLOB_TIERS: tuple[BlobTier, ...] = ("hot", "warm", "cold")


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int
    """Bytes stored (compressed in the local cold tier)."""
    tier: BlobTier = "hot"
    modified: datetime | None = None
    """When these bytes were last written or touched (a deduplicated put touches them)."""


class BlobStore(Protocol):
    """Where bytes and version history live (the truth). Adapters: `pit.infra.blob_local`,
    `pit.infra.blob_s3`; `pit.infra.artifact_factory` chooses one by URL.

    Every write is all-or-nothing: a reader never sees a partial blob or manifest.
    """

    url: str
    """Where this store is, for messages."""

    async def exists(self) -> bool:
        """Whether the store has been created (a local directory; an S3 bucket). Reading
        commands on a store that does not exist say so instead of reporting it empty."""
        ...

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        """Store `content` under `digest`; True if written, False if it was there already.

        The content is hashed on the way in: IntegrityError (and nothing stored) if it does
        not match `digest`. "There already" is never taken on trust: the stored blob must be
        shown to hold these bytes (each adapter says how, cheaply), else it is rewritten.
        """
        ...

    def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        """The blob's bytes in pieces; NotFoundError if absent; IntegrityError at the end of
        the stream if they do not hash to `digest`."""
        ...

    async def has_blob(self, digest: str) -> bool: ...

    async def delete_blob(self, digest: str) -> None:
        """Remove a blob (the stale manager's cleanup); absent is not an error."""
        ...

    def list_blobs(self) -> AsyncIterator[BlobInfo]: ...

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        """Remove up to 1,000 blobs in one call (S3 DeleteObjects); absent ones are skipped."""
        ...

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        """Move a blob to `tier`: the new copy is complete before the old one goes, so the
        blob is readable at every moment. NotFoundError if absent."""
        ...

    async def repair_blob(self, digest: str) -> bool:
        """Rewrite a blob whose bytes are corrupt from a second, intact copy the store itself
        holds (the local store has one per tier after an interrupted move); False if there
        is none. `verify --repair` also rebuilds blobs from other versions' content."""
        ...

    async def remove_leftovers(self, before: datetime) -> int:
        """Remove what interrupted writes left behind before `before` (local `tmp/` files,
        S3 multipart uploads); how many. Never touches a write still in progress."""
        ...

    async def create_manifest(self, manifest: Manifest) -> None:
        """Write a manifest only if that (name, version) does not exist: ConflictError if it
        does. Two writers can never both create the same version."""
        ...

    async def get_manifest(self, name: str, version: int) -> Manifest:
        """NotFoundError if there is no such version."""
        ...

    async def list_versions(self, name: str) -> list[int]:
        """The versions of `name`, ascending; empty if the name is unknown."""
        ...

    def list_names(self) -> AsyncIterator[str]:
        """Every artifact name with at least one version."""
        ...

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        """Remove manifests (purge of tombstoned versions), up to 1,000 a call."""
        ...

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        """Soft-delete a version: ConflictError if it is deleted already."""
        ...

    async def deleted_versions(self, name: str) -> set[int]:
        """The versions of `name` that carry a tombstone."""
        ...

    def list_tombstones(self) -> AsyncIterator[Tombstone]: ...

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        """Remove tombstones (restore, or the end of a purge), up to 1,000 a call."""
        ...

    async def close(self) -> None: ...
