"""The blob-store port: content-addressed blobs and immutable version manifests."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from pit.artifacts.manifest import Manifest

BlobSource = bytes | AsyncIterable[bytes]
"""Content to store: bytes in memory, or a stream of pieces (never read whole)."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    digest: str
    size: int


class BlobStore(Protocol):
    """Where bytes and version history live (the truth). Adapters: `pit.infra.blob_local`,
    `pit.infra.blob_s3`; `pit.infra.artifact_factory` chooses one by URL.

    Every write is all-or-nothing: a reader never sees a partial blob or manifest.
    """

    url: str
    """Where this store is, for messages."""

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        """Store `content` under `digest`; True if written, False if it was there already.

        The content is hashed on the way in: IntegrityError (and nothing stored) if it does
        not match `digest`.
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

    async def close(self) -> None: ...
