"""In-memory fakes of the artifact ports, for fast tests of the domain and the facade."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime

from pit.artifacts.blob_port import BlobInfo, BlobSource
from pit.artifacts.hashing import StreamHasher, verified
from pit.artifacts.index_port import AccessStats, IndexDocument, SearchHit, SearchQuery
from pit.artifacts.manifest import Manifest
from pit.common.errors import ConflictError, NotFoundError


class FakeBlobStore:
    """A dict of blobs and a dict of manifests, with the port's semantics."""

    url = "memory://"

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.storage_classes: dict[str, str | None] = {}
        self.manifests: dict[tuple[str, int], Manifest] = {}

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        if digest in self.blobs:
            return False
        hasher = StreamHasher()
        data = bytearray()
        pieces = [content] if isinstance(content, bytes) else [p async for p in content]
        for piece in pieces:
            hasher.update(piece)
            data += piece
        hasher.require(digest)
        await asyncio.sleep(0)  # let racing writers interleave
        self.blobs[digest] = bytes(data)
        self.storage_classes[digest] = storage_class
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

    async def list_blobs(self) -> AsyncIterator[BlobInfo]:
        for digest, data in sorted(self.blobs.items()):
            yield BlobInfo(digest, len(data))

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

    async def close(self) -> None:
        return None


class FakeIndex:
    """Documents in a dict; text search is "every word occurs", filters only on name prefix."""

    def __init__(self) -> None:
        self.documents: dict[tuple[str, int], IndexDocument] = {}
        self.accesses: list[tuple[str, int, datetime]] = []
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
        self.accesses.append((name, version, at))

    async def access_stats(
        self, keys: list[tuple[str, int]], *, since: datetime | None = None
    ) -> dict[tuple[str, int], AccessStats]:
        return {
            key: AccessStats(count=sum(1 for a in self.accesses if a[:2] == key)) for key in keys
        }

    async def clear(self) -> None:
        self.documents.clear()

    async def close(self) -> None:
        self.closed = True
