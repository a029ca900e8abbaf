"""In-memory fakes of the artifact ports, for fast tests of the domain and the facade."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

from pit.artifacts.blob_port import BlobInfo, BlobSource, BlobTier
from pit.artifacts.hashing import StreamHasher, verified
from pit.artifacts.index_port import Access, AccessStats, IndexDocument, SearchHit, SearchQuery
from pit.artifacts.manifest import Manifest
from pit.artifacts.tombstone import Tombstone
from pit.common.errors import ConflictError, NotFoundError


class FakeBlobStore:
    """A dict of blobs and a dict of manifests, with the port's semantics."""

    url = "memory://"

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.storage_classes: dict[str, str | None] = {}
        self.manifests: dict[tuple[str, int], Manifest] = {}
        self.tiers: dict[str, BlobTier] = {}
        self.modified: dict[str, datetime] = {}
        self.tombstones: dict[tuple[str, int], Tombstone] = {}

    async def exists(self) -> bool:
        return True

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        hasher = StreamHasher()
        data = bytearray()
        pieces = [content] if isinstance(content, bytes) else [p async for p in content]
        for piece in pieces:
            hasher.update(piece)
            data += piece
        hasher.require(digest)
        if self.blobs.get(digest) == bytes(data):
            self.modified[digest] = datetime.now(UTC)
            return False
        await asyncio.sleep(0)  # let racing writers interleave
        self.blobs[digest] = bytes(data)
        self.storage_classes[digest] = storage_class
        self.modified[digest] = datetime.now(UTC)
        return True

    async def open_blob(self, digest: str) -> AsyncIterator[bytes]:
        async for piece in verified(self._read(digest), digest, f"blob {digest}"):
            yield piece

    async def _read(self, digest: str) -> AsyncIterator[bytes]:
        if digest not in self.blobs:
            raise NotFoundError(f"blob {digest} is missing")
        yield self.blobs[digest]

    async def has_blob(self, digest: str) -> bool:
        return digest in self.blobs

    async def delete_blob(self, digest: str) -> None:
        self.blobs.pop(digest, None)
        self.tiers.pop(digest, None)

    async def delete_blobs(self, digests: Sequence[str]) -> None:
        for digest in digests:
            await self.delete_blob(digest)

    async def move_blob(self, digest: str, tier: BlobTier) -> BlobInfo:
        if digest not in self.blobs:
            raise NotFoundError(f"blob {digest} is missing")
        self.tiers[digest] = tier
        return BlobInfo(digest, len(self.blobs[digest]), tier, self.modified.get(digest))

    async def repair_blob(self, digest: str) -> bool:
        return False

    async def remove_leftovers(self, before: datetime) -> int:
        return 0

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        for digest, data in sorted(self.blobs.items()):
            yield BlobInfo(
                digest, len(data), self.tiers.get(digest, "hot"), self.modified.get(digest)
            )

    async def create_manifest(self, manifest: Manifest) -> None:
        await asyncio.sleep(0)
        key = (manifest.name, manifest.version)
        if key in self.manifests:
            raise ConflictError(f"{manifest.name} v{manifest.version} already exists")
        self.manifests[key] = manifest

    async def get_manifest(self, name: str, version: int) -> Manifest:
        try:
            return self.manifests[(name, version)]
        except KeyError:
            raise NotFoundError(f"{name} v{version} does not exist") from None

    async def list_versions(self, name: str) -> list[int]:
        await asyncio.sleep(0)
        return sorted(v for n, v in self.manifests if n == name)

    async def list_names(self) -> AsyncIterator[str]:
        for name in sorted({n for n, _ in self.manifests}):
            yield name

    async def delete_manifests(self, keys: Sequence[tuple[str, int]]) -> None:
        for key in keys:
            self.manifests.pop(key, None)

    async def create_tombstone(self, tombstone: Tombstone) -> None:
        if tombstone.key in self.tombstones:
            raise ConflictError(f"{tombstone.name} v{tombstone.version} is deleted already")
        self.tombstones[tombstone.key] = tombstone

    async def deleted_versions(self, name: str) -> set[int]:
        return {v for n, v in self.tombstones if n == name}

    async def list_tombstones(self) -> AsyncIterator[Tombstone]:
        for key in sorted(self.tombstones):
            yield self.tombstones[key]

    async def delete_tombstones(self, keys: Sequence[tuple[str, int]]) -> None:
        for key in keys:
            self.tombstones.pop(key, None)

    async def close(self) -> None:
        return None


class FakeIndex:
    """Documents in a dict; text search is "every word occurs", filters only on name prefix."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, int], IndexDocument] = {}
        self.accesses: list[tuple[str, int, datetime]] = []
        self.batches: set[str] = set()
        self.streams: dict[str, set[str]] = {}
        self.closed = False

    async def index(self, document: IndexDocument) -> None:
        self.documents[(document.name, document.version)] = document

    async def remove(self, name: str, version: int) -> None:
        self.documents.pop((name, version), None)

    async def search(self, query: SearchQuery) -> list[SearchHit]:
        words = query.text.lower().split()
        hits = []
        for doc in self.documents.values():
            text = (doc.text or "").lower()
            if not all(word in text for word in words):
                continue
            if any(
                f.op == "prefix" and not doc.name.startswith(str(f.value)) for f in query.filters
            ):
                continue
            hits.append(
                SearchHit(
                    name=doc.name,
                    version=doc.version,
                    digest=doc.digest,
                    media_type=doc.media_type,
                    size=doc.size,
                    score=float(len(words)),
                )
            )
        hits.sort(key=lambda hit: (hit.name, -hit.version))
        return hits[: query.limit]

    async def record_access(self, name: str, version: int, at: datetime) -> None:
        """A test's shortcut: one read, in a batch of its own."""
        self.accesses.append((name, version, at))

    async def add_accesses(self, batch: str, accesses: Sequence[Access]) -> None:
        if batch in self.batches:
            return
        self.batches.add(batch)
        self.accesses += [(a.name, a.version, a.at) for a in accesses]

    async def followed(self, stream: str) -> frozenset[str]:
        return frozenset(self.streams.get(stream, set()))

    async def mark_followed(self, stream: str, keys: Sequence[str], *, forget_before: str) -> None:
        every = self.streams.setdefault(stream, set())
        every.update(keys)
        latest = max(every, default="")
        every.difference_update({k for k in every if k < forget_before and k != latest})

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        stats: dict[tuple[str, int], AccessStats] = {}
        for key in keys:
            times = [at for name, version, at in self.accesses if (name, version) == key]
            counted = [at for at in times if since is None or at >= since]
            stats[key] = AccessStats(count=len(counted), last_access=max(times, default=None))
        return stats

    async def clear(self) -> None:
        self.documents.clear()

    async def close(self) -> None:
        self.closed = True
