"""What the artifact store's operations return: small models that print as JSON."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Result(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PutResult(_Result):
    name: str
    version: int
    digest: str
    size: int
    deduplicated: bool
    """True when every byte was already stored: no new blob was written."""
    media_type: str

    def reference(self) -> dict[str, object]:
        return {"artifact": self.name, "version": self.version, "digest": self.digest}


class StoreStats(_Result):
    logical_bytes: int
    """Sum of the sizes of every version, as a reader sees them."""
    stored_bytes: int
    """Sum of the sizes of the blobs actually stored (after deduplication)."""
    saved_bytes: int
    blobs: int
    artifacts: int
    versions: int


class MissingBlob(_Result):
    name: str
    version: int
    digest: str


class BadManifest(_Result):
    name: str
    version: int
    problem: str
    """Why the manifest cannot be trusted: unreadable, altered (checksum), or at odds with
    its blobs (sizes, digest)."""


class VerifyReport(_Result):
    checked_blobs: int
    checked_versions: int
    corrupt: tuple[str, ...] = ()
    """Digests of blobs whose bytes no longer hash to their digest (after any repair)."""
    missing: tuple[MissingBlob, ...] = ()
    """Blobs a version needs that are not in the store (after any repair)."""
    bad_manifests: tuple[BadManifest, ...] = ()
    unsealed_manifests: int = 0
    """Manifests written before manifests carried a checksum: accepted, and checked against
    their blobs (sizes, and the digest of chunked content) instead."""
    repaired: tuple[str, ...] = ()
    """Blobs `--repair` rewrote from an intact copy or from other versions' content."""

    @property
    def ok(self) -> bool:
        return not self.corrupt and not self.missing and not self.bad_manifests


class ReindexReport(_Result):
    indexed: int
    artifacts: int
